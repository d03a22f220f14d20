// Package backup writes, verifies, restores and prunes backup sets: one
// directory per restore point holding the database dumps, config files,
// volume archives and image references that must go back together, with a
// manifest of checksums. Stopping writers and starting the stack is the
// caller's job.
package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// Source is everything of one installation that a set captures.
type Source struct {
	App, Profile, Version, SchemaTool, SchemaHead, DBServerVersion string

	Project     dockerx.Project
	DB          *DBSource         // nil when the app has no PostgreSQL
	SQLiteFiles []FileInContainer // database file plus -wal/-shm, copied with the writers stopped
	ConfigPaths []string          // absolute host paths of files or directories
	Volumes     []VolumeSource
	Images      []ServiceImage
	Secrets     []string // values that must never appear in progress lines, errors or the manifest
	DumpMode    string   // DumpInContainer (default) or DumpHostZstd
	// Physical takes the database as a base backup through a replication
	// slot instead of logical dumps; Seal completes it at the stop.
	Physical bool
	// CopyTo, when set, is a server each dump is also restored into while
	// pg_dump writes it (pg_restore --create from the same bytes), so a
	// move to another server costs no second pass over the file. The set
	// says what was copied in Set.Copy; a failed copy never fails the set.
	CopyTo *DBSource
	// PostgresMove, recorded in the manifest, marks a PostgreSQL major
	// hop's restore point.
	PostgresMove *PostgresMove
	// copyScratch restores CopyTo's databases as a scratch server's
	// superuser (LiveScratch).
	copyScratch bool
	// Skipped names what the profile lists but this installation does not
	// have (optional volumes); it is only reported.
	Skipped []string
}

// How pg_dump output is compressed. Measured on Docker 20.10 with a 1 GB
// pgbench database (bench/backup.sh): the exec stream carries only about
// 60 MB/s, so shipping pg_dump -Z0 output to compress it on the host is 3-5x
// slower than compressing in the container; zlib level 1 inside pg_dump is
// the fastest and still within 2% of the default level's size.
const (
	DumpInContainer = "pg_dump-zlib-1" // pg_dump -Fc -Z1, stored as written
	DumpHostZstd    = "zstd"           // pg_dump -Fc -Z0, zstd on the host
)

// FileInContainer is a file inside a (possibly stopped) container.
type FileInContainer struct {
	Container string
	Path      string
}

// VolumeSource is a volume or bind mount, reached through a container that
// mounts it (running or stopped).
type VolumeSource struct {
	Name      string // compose volume name or bind source
	Container string
	Path      string // mount destination inside Container
}

const (
	tmpPrefix      = ".tmp-"
	deletingPrefix = ".deleting-"
	configArchive  = "config.tar.zst"
)

// Create writes a new set under root (created 0700 if needed) and returns
// it. The set is written to root/.tmp-<ID> and renamed to root/<ID> only when
// complete; on any failure or cancellation the temporary directory is removed.
func Create(ctx context.Context, eng *dockerx.Engine, root string, src Source, progress func(Progress)) (*Set, error) {
	secrets := append([]string(nil), src.Secrets...)
	if src.DB != nil {
		secrets = append(secrets, src.DB.Password)
	}
	if src.CopyTo != nil {
		secrets = append(secrets, src.CopyTo.Password)
	}
	red := newRedactor(secrets...)
	progress = red.progress(progress)

	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("backup dir: %w", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create backup dir: %w", err)
	}
	created := time.Now().UTC()
	id, err := newID(root, src.Version, created)
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(root, tmpPrefix+id)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("create backup set: %w", err)
	}
	b := &builder{eng: eng, src: src, dir: tmp, progress: progress, red: red}
	b.m = Manifest{
		Format: ManifestFormat, ID: id, App: src.App, Profile: src.Profile, Version: src.Version,
		Schema:          Schema{Tool: src.SchemaTool, Head: src.SchemaHead},
		DBServerVersion: src.DBServerVersion, UpshiftVersion: UpshiftVersion, Created: created,
		Project: projectInfo(src.Project), Images: append([]ServiceImage{}, src.Images...),
		PostgresMove: src.PostgresMove,
	}
	err = b.run(ctx)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(root, id))
		if err == nil {
			err = syncDir(root)
		}
	}
	if err != nil {
		if rmErr := os.RemoveAll(tmp); rmErr != nil {
			return nil, red.err(fmt.Errorf("backup failed: %w; the incomplete set %s could not be removed (%v): delete it by hand", err, tmp, rmErr))
		}
		return nil, red.err(fmt.Errorf("backup failed and the incomplete set was removed, nothing else was changed: %w", err))
	}
	set, err := Open(root, id)
	if err == nil && src.CopyTo != nil {
		c := b.copy
		if c.Err != nil {
			c.Err = red.err(c.Err)
		}
		set.Copy = &c
	}
	return set, err
}

var unsafeIDChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// newID returns a set ID like 20261122-081500-1.0.0 that is free under root.
func newID(root, version string, t time.Time) (string, error) {
	v := strings.Trim(unsafeIDChars.ReplaceAllString(version, "_"), "._-")
	if v == "" {
		v = "unknown"
	}
	base := t.Format("20060102-150405") + "-" + v
	for i := 1; i < 100; i++ {
		id := base
		if i > 1 {
			id += "-" + strconv.Itoa(i)
		}
		_, err1 := os.Lstat(filepath.Join(root, id))
		_, err2 := os.Lstat(filepath.Join(root, tmpPrefix+id))
		if errors.Is(err1, os.ErrNotExist) && errors.Is(err2, os.ErrNotExist) {
			return id, nil
		}
	}
	return "", fmt.Errorf("cannot find a free backup set name for %s in %s", base, root)
}

// builder writes one set. The database dumps run while the other parts
// (server version, SQLite files, config, volumes) are written by a second
// goroutine: the dump waits on PostgreSQL, the rest on the Docker API. Each
// side writes only its own fields until both are done.
type builder struct {
	eng      *dockerx.Engine
	src      Source
	dir      string
	m        Manifest
	progress func(Progress)
	red      *redactor

	mu         sync.Mutex // guards durations and calls of progress
	durations  []Duration
	dbFiles    []File
	otherFiles []File
	copy       Copy // of src.CopyTo, written by the database side only
}

func (b *builder) timed(phase string, fn func() error) error {
	start := time.Now()
	err := fn()
	b.mu.Lock()
	b.durations = append(b.durations, Duration{Phase: phase, Seconds: time.Since(start).Seconds()})
	b.mu.Unlock()
	return err
}

func (b *builder) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	report := b.progress
	b.progress = func(p Progress) {
		b.mu.Lock()
		defer b.mu.Unlock()
		report(p)
	}
	var otherErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if otherErr = b.others(ctx); otherErr != nil {
			cancel(otherErr)
		}
	}()
	var dbErr error
	if b.src.DB != nil {
		if dbErr = b.timed("database", func() error { return b.databases(ctx) }); dbErr != nil {
			cancel(dbErr)
		}
	}
	wg.Wait()
	// The first failure is the cause; the other side then only saw the cancellation.
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return fmt.Errorf("%w", cause)
	}
	if err := errors.Join(dbErr, otherErr); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.m.Files = append(b.dbFiles, b.otherFiles...)
	b.m.Durations = b.durations
	b.m.Finished = time.Now().UTC()
	if p := b.completenessProblems(); len(p) > 0 {
		return fmt.Errorf("the set would be incomplete: %s", strings.Join(p, "; "))
	}
	b.progress(Progress{Phase: "manifest", File: ManifestName})
	return writeManifest(b.dir, &b.m)
}

func (b *builder) others(ctx context.Context) error {
	if b.src.DB != nil && b.m.DBServerVersion == "" {
		r := pgRunner{eng: b.eng, db: *b.src.DB}
		if v, err := r.psql(ctx, b.src.DB.Database, "SHOW server_version"); err == nil {
			b.m.DBServerVersion = v
		}
	}
	if len(b.src.SQLiteFiles) > 0 {
		if err := b.timed("sqlite", func() error { return b.sqlite(ctx) }); err != nil {
			return err
		}
	}
	if len(b.src.ConfigPaths) > 0 {
		if err := b.timed("config", func() error { return b.config(ctx) }); err != nil {
			return err
		}
	}
	if len(b.src.Volumes) > 0 {
		if err := b.timed("volumes", func() error { return b.volumes(ctx) }); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) completenessProblems() []string {
	s := &Set{ID: b.m.ID, Dir: b.dir, Manifest: b.m}
	return s.completeness()
}

func (b *builder) databases(ctx context.Context) error {
	if b.src.Physical {
		return b.basebackup(ctx)
	}
	db := *b.src.DB
	r := pgRunner{eng: b.eng, db: db}
	names := db.databases()
	mode := b.src.DumpMode
	if mode == "" {
		mode = DumpInContainer
	}
	var sizes map[string]int64
	if mode == DumpHostZstd {
		// Only for the progress total; in the container mode an extra round
		// trip before the dump would cost more than it tells.
		var err error
		if sizes, err = r.databaseSizes(ctx, names); err != nil {
			return fmt.Errorf("database: %w", err)
		}
	}
	for _, name := range names {
		file := "db-" + fileSafe(name) + ".pgdump"
		total := int64(0) // compressed in the container: the size is not known before
		if mode == DumpHostZstd {
			file += ".zst"
			total = sizes[name]
		}
		m := newMeter(b.progress, "database", file, total)
		var f File
		var n int64
		side := b.startCopy(ctx, name)
		sums, note, err := snapshotDump(ctx, r, name, func(snapshot string) error {
			var err error
			f, n, err = dumpDatabase(ctx, r, name, mode, snapshot, filepath.Join(b.dir, file), m, side)
			return err
		})
		b.finishCopy(side, name, err)
		if err != nil {
			return fmt.Errorf("dump database %s: %w", name, err)
		}
		if note != "" {
			m.line(note)
		}
		b.dbFiles = append(b.dbFiles, f)
		b.m.Databases = append(b.m.Databases, DatabaseEntry{Name: name, File: file, DumpBytes: n, Mode: mode, Host: db.Container == "", Tables: sums, TablesNote: note})
	}
	return nil
}

func (b *builder) sqlite(ctx context.Context) error {
	for i, sf := range b.src.SQLiteFiles {
		entry := SQLiteEntry{Container: sf.Container, Path: sf.Path}
		_, ok, err := b.eng.PathSize(ctx, sf.Container, sf.Path)
		if err != nil {
			return fmt.Errorf("SQLite file %s: %w", sf.Path, err)
		}
		if ok {
			entry.Present = true
			entry.File = fmt.Sprintf("sqlite-%d-%s.tar.zst", i+1, fileSafe(filepath.Base(sf.Path)))
			f, _, err := b.copyFromContainer(ctx, "sqlite", sf.Container, sf.Path, entry.File, KindSQLite)
			if err != nil {
				return fmt.Errorf("SQLite file %s: %w", sf.Path, err)
			}
			b.otherFiles = append(b.otherFiles, f)
		}
		b.m.SQLite = append(b.m.SQLite, entry)
	}
	return nil
}

func (b *builder) config(ctx context.Context) error {
	out, err := createCompressed(filepath.Join(b.dir, configArchive))
	if err != nil {
		return err
	}
	m := newMeter(b.progress, "config", configArchive, 0)
	tw := tar.NewWriter(out)
	fail := func(err error) error {
		out.abort()
		return err
	}
	seen := map[string]bool{}
	for _, p := range b.src.ConfigPaths {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(b.src.Project.WorkingDir, p)
		}
		p = filepath.Clean(p)
		if seen[p] {
			continue
		}
		seen[p] = true
		name := configName(b.src.Project.WorkingDir, p)
		exists, isDir, err := addConfigPath(tw, name, p, func(n int64) { m.add(int(n)) })
		if err != nil {
			return fail(err)
		}
		b.m.Config = append(b.m.Config, ConfigEntry{Path: p, Archive: name, Dir: isDir, Missing: !exists})
	}
	if err := tw.Close(); err != nil {
		return fail(fmt.Errorf("config archive: %w", err))
	}
	f, err := out.finish(configArchive, KindConfig)
	if err != nil {
		return err
	}
	m.emit()
	b.otherFiles = append(b.otherFiles, f)
	return nil
}

func (b *builder) volumes(ctx context.Context) error {
	helper := ""
	if b.src.DB != nil && b.src.DB.Container != "" {
		c, err := b.eng.Inspect(ctx, b.src.DB.Container)
		if err != nil {
			return err
		}
		helper = c.ImageID
	}
	for i, v := range b.src.Volumes {
		c, err := b.eng.Inspect(ctx, v.Container)
		if err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if helper == "" {
			helper = c.ImageID
		}
		entry := VolumeEntry{Name: v.Name, Container: c.ID, Path: v.Path}
		found := false
		for _, mt := range c.Mounts {
			if mt.Destination != v.Path {
				continue
			}
			found = true
			if mt.Type == "volume" {
				entry.DockerName = mt.Name
			} else {
				entry.BindSource = mt.Source
			}
		}
		if !found {
			return fmt.Errorf("volume %s: container %s mounts nothing at %s", v.Name, c.Name, v.Path)
		}
		entry.File = fmt.Sprintf("volume-%d-%s.tar.zst", i+1, fileSafe(v.Name))
		f, root, err := b.copyFromContainer(ctx, "volume", c.ID, v.Path, entry.File, KindVolume)
		if err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
		entry.Root = root
		entry.Bytes = f.Size
		b.otherFiles = append(b.otherFiles, f)
		b.m.Volumes = append(b.m.Volumes, entry)
	}
	b.m.HelperImage = helper
	return nil
}

// copyFromContainer stores the tar stream of path (compressed) as file and
// returns the name of the archive's top-level entry.
func (b *builder) copyFromContainer(ctx context.Context, phase, containerID, path, file, kind string) (File, string, error) {
	rc, err := b.eng.CopyFrom(ctx, containerID, path)
	if err != nil {
		return File{}, "", err
	}
	defer func() { _ = rc.Close() }()
	out, err := createCompressed(filepath.Join(b.dir, file))
	if err != nil {
		return File{}, "", err
	}
	m := newMeter(b.progress, phase, file, 0)
	root := &rootSniffer{}
	w := &countingWriter{ctx: ctx, w: out, m: m}
	if _, err := copyTee(w, root, rc); err != nil {
		out.abort()
		if ctx.Err() != nil {
			return File{}, "", ctx.Err()
		}
		return File{}, "", fmt.Errorf("archive %s: %w", path, err)
	}
	f, err := out.finish(file, kind)
	if err != nil {
		return File{}, "", err
	}
	m.emit()
	name, err := root.name()
	if err != nil {
		return File{}, "", fmt.Errorf("archive %s: %w", path, err)
	}
	return f, name, nil
}

func fileSafe(s string) string {
	s = strings.Trim(unsafeIDChars.ReplaceAllString(s, "_"), "._")
	if s == "" {
		return "x"
	}
	return s
}

func relName(p string) string { return filepath.Base(p) }
