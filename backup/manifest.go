package backup

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/pg"
)

// ManifestFormat is the version of the manifest layout written by this package.
const ManifestFormat = 1

// ManifestName is the manifest's file name inside a set directory; it is
// written last, so a directory without it is never a complete set.
const ManifestName = "manifest.json"

// UpshiftVersion is recorded in every manifest; main sets it at start-up.
var UpshiftVersion = "dev"

// File kinds in a manifest.
const (
	KindDatabase = "database" // pg_dump custom format, zstd-compressed
	KindConfig   = "config"   // tar of config files, zstd-compressed
	KindVolume   = "volume"   // tar stream from CopyFromContainer, zstd-compressed
	KindSQLite   = "sqlite"   // tar of one SQLite file, zstd-compressed
)

// Manifest describes a backup set; it never holds a secret value.
type Manifest struct {
	Format          int             `json:"format"`
	ID              string          `json:"id"`
	App             string          `json:"app"`
	Profile         string          `json:"profile,omitempty"`
	Version         string          `json:"version"`
	Schema          Schema          `json:"schema"`
	DBServerVersion string          `json:"db_server_version,omitempty"`
	UpshiftVersion  string          `json:"upshift_version"`
	Created         time.Time       `json:"created"`
	Finished        time.Time       `json:"finished"`
	Durations       []Duration      `json:"durations"`
	Project         ProjectInfo     `json:"project"`
	Databases       []DatabaseEntry `json:"databases,omitempty"`
	Physical        *PhysicalEntry  `json:"physical,omitempty"` // base backup + WAL (absent in older sets)
	// PostgresMove marks the restore point of a PostgreSQL major hop: the
	// old server's volume is never written by the hop, so a rollback to
	// this set may switch back to it (after comparing its tables).
	PostgresMove *PostgresMove  `json:"postgres_move,omitempty"`
	SQLite       []SQLiteEntry  `json:"sqlite,omitempty"`
	Config       []ConfigEntry  `json:"config,omitempty"`
	Volumes      []VolumeEntry  `json:"volumes,omitempty"`
	Images       []ServiceImage `json:"images"`
	HelperImage  string         `json:"helper_image,omitempty"` // image with a shell, used to empty volumes on restore
	Files        []File         `json:"files"`
	Verified     bool           `json:"verified"`
	VerifiedAt   time.Time      `json:"verified_at,omitzero"`
	RestoreProof *RestoreProof  `json:"restore_proof,omitempty"` // the last verify --restore
}

// Schema is the app's migration state when the set was taken.
type Schema struct {
	Tool string `json:"tool,omitempty"`
	Head string `json:"head,omitempty"`
}

// Duration is how long one phase of the backup took.
type Duration struct {
	Phase   string  `json:"phase"`
	Seconds float64 `json:"seconds"`
}

// ProjectInfo is the compose invocation of the backed-up stack.
type ProjectInfo struct {
	Name       string   `json:"name"`
	WorkingDir string   `json:"working_dir"`
	Files      []string `json:"files,omitempty"`
	EnvFiles   []string `json:"env_files,omitempty"`
	Profiles   []string `json:"profiles,omitempty"`
}

// File is one file of the set, with what is needed to detect corruption.
type File struct {
	Path   string `json:"path"` // relative to the set directory
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Kind   string `json:"kind"`
}

// DatabaseEntry is one PostgreSQL database dump.
type DatabaseEntry struct {
	Name      string `json:"name"`
	File      string `json:"file"`
	DumpBytes int64  `json:"dump_bytes"` // bytes pg_dump wrote
	Mode      string `json:"mode"`       // DumpInContainer or DumpHostZstd
	Host      bool   `json:"host,omitempty"`
	// Tables fingerprints every user table from the snapshot the dump read
	// (absent in sets made before upshift recorded them); TablesNote says
	// why they are missing when the dump could not record them.
	Tables     map[string]TableSum `json:"tables,omitempty"`
	TablesNote string              `json:"tables_note,omitempty"`
}

// TableSum is one table's row count and order-independent checksum, the
// same fingerprint pg.TableChecksums computes.
type TableSum struct {
	Rows int64  `json:"rows"`
	MD5  string `json:"md5"`
}

// PostgresMove is where a PostgreSQL major hop moves the server.
type PostgresMove struct {
	FromMajor int    `json:"from_major"`
	ToMajor   int    `json:"to_major"`
	Image     string `json:"image"` // of the new major
}

// sumAlgo is the algorithm that made recorded sums, for comparing with them.
func sumAlgo(sums map[string]TableSum) pg.SumAlgo {
	return pg.AlgoOf(func(yield func(string) bool) {
		for _, s := range sums {
			if !yield(s.MD5) {
				return
			}
		}
	})
}

// SQLiteEntry is one SQLite file (database, -wal or -shm).
type SQLiteEntry struct {
	Container string `json:"container"`
	Path      string `json:"path"`
	File      string `json:"file,omitempty"`
	Present   bool   `json:"present"` // false: the file did not exist (restored as an empty file)
}

// ConfigEntry is one config path of the Source.
type ConfigEntry struct {
	Path    string `json:"path"`    // absolute host path when backed up
	Archive string `json:"archive"` // name (prefix) inside config.tar.zst
	Dir     bool   `json:"dir,omitempty"`
	Missing bool   `json:"missing,omitempty"` // did not exist; left alone on restore
}

// VolumeEntry is one volume or bind mount.
type VolumeEntry struct {
	Name       string `json:"name"`                  // as given by the Source
	DockerName string `json:"docker_name,omitempty"` // docker volume name; empty for a bind mount
	BindSource string `json:"bind_source,omitempty"` // host path of a bind mount
	Container  string `json:"container"`
	Path       string `json:"path"`
	File       string `json:"file"`
	Root       string `json:"root"` // top-level name of the tar entries
	Bytes      int64  `json:"bytes"`
}

// Set is one backup set on disk.
type Set struct {
	ID       string
	Dir      string
	Manifest Manifest

	// Copy is set by Create when its Source had CopyTo.
	Copy *Copy

	intact      bool          // every file matched its checksum in this process
	volumeRoots []*tar.Header // root entry of each volume archive, set with intact
}

// Open reads the set id under root.
func Open(root, id string) (*Set, error) {
	if id == "" || id != filepath.Base(id) || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("%q is not a backup set ID", id)
	}
	dir := filepath.Join(root, id)
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("backup set %s: no %s (not a complete backup set)", dir, ManifestName)
		}
		return nil, fmt.Errorf("backup set %s: %w", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("backup set %s: manifest is damaged: %w", dir, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("backup set %s: manifest names set %q", dir, m.ID)
	}
	return &Set{ID: id, Dir: dir, Manifest: m}, nil
}

// Skipped is a directory under the backup root that is not a usable set.
type Skipped struct {
	Name   string
	Reason string
}

// Scan lists the sets under root (newest first) and the directories it
// ignored, with why. A missing root has no sets.
func Scan(root string) ([]*Set, []Skipped, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("list backups: %w", err)
	}
	var sets []*Set
	var skipped []Skipped
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		switch {
		case strings.HasPrefix(name, tmpPrefix):
			skipped = append(skipped, Skipped{Name: name, Reason: "incomplete backup (interrupted or still running); safe to delete when no backup is running"})
			continue
		case strings.HasPrefix(name, deletingPrefix):
			skipped = append(skipped, Skipped{Name: name, Reason: "backup set being deleted"})
			continue
		case strings.HasPrefix(name, "."):
			continue
		}
		s, err := Open(root, name)
		if err != nil {
			skipped = append(skipped, Skipped{Name: name, Reason: err.Error()})
			continue
		}
		sets = append(sets, s)
	}
	sort.SliceStable(sets, func(i, j int) bool {
		a, b := sets[i].Manifest.Created, sets[j].Manifest.Created
		if !a.Equal(b) {
			return a.After(b)
		}
		return sets[i].ID > sets[j].ID
	})
	return sets, skipped, nil
}

// List returns the complete sets under root, newest first. Incomplete and
// unreadable directories are ignored (Scan reports them).
func List(root string) ([]*Set, error) {
	sets, _, err := Scan(root)
	return sets, err
}

// Prune deletes all but the keep newest sets and returns the deleted IDs.
// The newest verified set is never deleted, even beyond keep.
func Prune(root string, keep int) ([]string, error) {
	if keep < 0 {
		return nil, fmt.Errorf("prune: keep must be 0 or more, not %d", keep)
	}
	sets, err := List(root)
	if err != nil {
		return nil, err
	}
	var newestVerified *Set
	for _, s := range sets {
		if s.Manifest.Verified {
			newestVerified = s
			break
		}
	}
	var deleted []string
	for i, s := range sets {
		if i < keep || s == newestVerified {
			continue
		}
		// Renamed first: a half-deleted directory must never look like a set.
		trash := filepath.Join(root, deletingPrefix+s.ID)
		if err := os.Rename(s.Dir, trash); err != nil {
			return deleted, fmt.Errorf("prune %s: %w", s.ID, err)
		}
		if err := os.RemoveAll(trash); err != nil {
			return deleted, fmt.Errorf("prune %s: %w (left in %s)", s.ID, err, trash)
		}
		deleted = append(deleted, s.ID)
	}
	return deleted, nil
}

// saveManifest atomically replaces the set's manifest.
func (s *Set) saveManifest() error {
	return writeManifest(s.Dir, &s.Manifest)
}

func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, ManifestName), append(b, '\n'), 0o600)
}

func writeFileAtomic(path string, body []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(body); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// completeness lists what is missing or inconsistent in the manifest.
func (s *Set) completeness() []string {
	m := &s.Manifest
	var p []string
	if m.Format != ManifestFormat {
		p = append(p, fmt.Sprintf("manifest format %d, this upshift reads %d", m.Format, ManifestFormat))
	}
	if m.ID != s.ID {
		p = append(p, "manifest ID does not match the directory")
	}
	if m.App == "" {
		p = append(p, "no app")
	}
	if m.Version == "" {
		p = append(p, "no app version")
	}
	if m.UpshiftVersion == "" {
		p = append(p, "no upshift version")
	}
	if m.Created.IsZero() || m.Finished.IsZero() || m.Finished.Before(m.Created) {
		p = append(p, "no valid created/finished times")
	}
	files := map[string]File{}
	for _, f := range m.Files {
		if f.Path == "" || f.Path != filepath.Base(f.Path) || strings.HasPrefix(f.Path, ".") || f.Path == ManifestName {
			p = append(p, fmt.Sprintf("file entry %q is not a plain file name", f.Path))
			continue
		}
		if len(f.SHA256) != 64 {
			p = append(p, fmt.Sprintf("file %s has no SHA-256", f.Path))
		}
		files[f.Path] = f
	}
	need := func(name, kind, what string) {
		f, ok := files[name]
		switch {
		case !ok:
			p = append(p, fmt.Sprintf("%s has no file entry", what))
		case f.Kind != kind:
			p = append(p, fmt.Sprintf("%s: file %s is of kind %s, not %s", what, name, f.Kind, kind))
		}
	}
	for _, d := range m.Databases {
		need(d.File, KindDatabase, "database "+d.Name)
		if d.Mode != DumpInContainer && d.Mode != DumpHostZstd {
			p = append(p, fmt.Sprintf("database %s: unknown dump mode %q", d.Name, d.Mode))
		}
	}
	if ph := m.Physical; ph != nil {
		need(ph.BaseFile, KindBase, "base backup")
		if ph.WALFile != "" {
			need(ph.WALFile, KindWAL, "WAL of the base backup")
		}
		if ph.Slot == "" || ph.StartLSN == "" || ph.DataDir == "" || ph.SegmentBytes <= 0 || ph.Timeline <= 0 {
			p = append(p, "base backup without its slot, start position, data directory, segment size or timeline")
		}
	}
	for _, v := range m.Volumes {
		need(v.File, KindVolume, "volume "+v.Name)
		if v.Root == "" {
			p = append(p, "volume "+v.Name+" has no archive root")
		}
	}
	for _, q := range m.SQLite {
		if q.Present {
			need(q.File, KindSQLite, "SQLite file "+q.Path)
		}
	}
	if len(m.Config) > 0 {
		need(configArchive, KindConfig, "config")
	}
	if len(m.Volumes) > 0 && m.HelperImage == "" {
		p = append(p, "volumes but no helper image recorded")
	}
	for _, img := range m.Images {
		if img.Ref == "" || img.ID == "" {
			p = append(p, fmt.Sprintf("image of service %s has no reference or ID", img.Service))
		}
	}
	return p
}

// ServiceImage is the image a service ran when the set was taken.
type ServiceImage struct {
	Service     string   `json:"service"`
	Ref         string   `json:"ref"`
	ID          string   `json:"id"`
	RepoDigests []string `json:"repo_digests,omitempty"`
}

// projectInfo copies the compose invocation into the manifest.
func projectInfo(p dockerx.Project) ProjectInfo {
	return ProjectInfo{Name: p.Name, WorkingDir: p.WorkingDir, Files: p.Files, EnvFiles: p.EnvFiles, Profiles: p.Profiles}
}
