package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
)

// configSource is a Source with only config files: Create needs no Docker for it.
func configSource(t *testing.T) (Source, string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("compose.yaml", "services: {}\n", 0o644)
	write(".env", "DB_PASSWORD=hunter2-secret\nAPI_PORT=8080\n", 0o600)
	write("conf/app.ini", "[app]\nx=1\n", 0o640)
	write("conf/sub/more.ini", "y=2\n", 0o644)
	src := Source{
		App: "demo", Version: "1.0.0", Profile: "demo",
		Project:     dockerx.Project{Name: "demo", WorkingDir: dir, Files: []string{filepath.Join(dir, "compose.yaml")}},
		ConfigPaths: []string{filepath.Join(dir, "compose.yaml"), filepath.Join(dir, ".env"), "conf", "missing.yaml"},
		Images:      []ServiceImage{{Service: "api", Ref: "demo/app:1.0.0", ID: "sha256:" + strings.Repeat("a", 64)}},
		Secrets:     []string{"hunter2-secret"},
	}
	return src, dir
}

func TestCreateConfigRoundTrip(t *testing.T) {
	src, dir := configSource(t)
	root := filepath.Join(t.TempDir(), "backups")
	var lines []Progress
	set, err := Create(context.Background(), nil, root, src, func(p Progress) { lines = append(lines, p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		t.Error("no progress reported")
	}
	assertMode(t, root, 0o700)
	assertMode(t, set.Dir, 0o700)
	for _, f := range append(set.Manifest.Files, File{Path: ManifestName}) {
		assertMode(t, filepath.Join(set.Dir, f.Path), 0o600)
	}
	mb, _ := os.ReadFile(filepath.Join(set.Dir, ManifestName))
	if bytes.Contains(mb, []byte("hunter2-secret")) {
		t.Error("manifest contains a secret")
	}
	if !strings.HasSuffix(set.ID, "-1.0.0") || len(set.ID) != len("20261122-081500-1.0.0") {
		t.Errorf("ID = %q", set.ID)
	}
	var missing bool
	for _, c := range set.Manifest.Config {
		if c.Missing && strings.HasSuffix(c.Path, "missing.yaml") {
			missing = true
		}
	}
	if !missing {
		t.Errorf("missing.yaml not recorded as missing: %+v", set.Manifest.Config)
	}
	if err := set.Verify(context.Background(), nil, ""); err != nil {
		t.Fatal(err)
	}
	reopened, err := Open(root, set.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reopened.Manifest.Verified {
		t.Error("verified flag not saved")
	}

	// Damage the config, then restore.
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "conf", "sub", "more.ini")); err != nil {
		t.Fatal(err)
	}
	if err := reopened.RestoreConfig(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	env, _ := os.ReadFile(filepath.Join(dir, ".env"))
	if string(env) != "DB_PASSWORD=hunter2-secret\nAPI_PORT=8080\n" {
		t.Errorf(".env = %q", env)
	}
	assertMode(t, filepath.Join(dir, ".env"), 0o600)
	assertMode(t, filepath.Join(dir, "conf", "app.ini"), 0o640)
	if b, err := os.ReadFile(filepath.Join(dir, "conf", "sub", "more.ini")); err != nil || string(b) != "y=2\n" {
		t.Errorf("more.ini = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.yaml")); !os.IsNotExist(err) {
		t.Errorf("missing.yaml was created: %v", err)
	}
}

func assertMode(t *testing.T, p string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", p, got, want)
	}
}

func TestCorruptSetIsRefusedBeforeRestore(t *testing.T) {
	src, dir := configSource(t)
	root := t.TempDir()
	set, err := Create(context.Background(), nil, root, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, filepath.Join(set.Dir, configArchive))
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("changed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	set, _ = Open(root, set.ID)
	err = set.RestoreConfig(context.Background(), dir)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("RestoreConfig of a damaged set: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".env")); string(b) != "changed\n" {
		t.Error(".env was touched")
	}
	// The other restores refuse before they use Docker (a nil engine would panic).
	if err := set.RestoreDatabase(context.Background(), nil, DBSource{}, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("RestoreDatabase: %v", err)
	}
	set.Manifest.Volumes = []VolumeEntry{{Name: "v", File: configArchive, Root: "v"}}
	if err := set.RestoreVolumes(context.Background(), nil, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("RestoreVolumes: %v", err)
	}
	if err := set.Verify(context.Background(), nil, ""); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify: %v", err)
	}
}

func flipByte(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

type entry struct {
	name, link string
	typ        byte
	body       string
}

func craftTar(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: 0o644, Size: int64(len(e.body))}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestVolumeArchiveSafety(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		ok      bool
	}{
		{"plain", []entry{{name: "uploads/", typ: tar.TypeDir}, {name: "uploads/a.txt", body: "a"}, {name: "uploads/l", typ: tar.TypeLink, link: "uploads/a.txt"}}, true},
		{"dotdot", []entry{{name: "uploads/", typ: tar.TypeDir}, {name: "uploads/../../etc/passwd", body: "x"}}, false},
		{"absolute", []entry{{name: "/etc/passwd", body: "x"}}, false},
		{"other root", []entry{{name: "uploads/", typ: tar.TypeDir}, {name: "etc/passwd", body: "x"}}, false},
		{"hard link out", []entry{{name: "uploads/l", typ: tar.TypeLink, link: "../etc/shadow"}}, false},
		{"symlink target is not a path of the archive", []entry{{name: "uploads/s", typ: tar.TypeSymlink, link: "/etc/passwd"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkVolumeArchive(bytes.NewReader(craftTar(t, tt.entries)), "uploads")
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrUnsafeArchive) {
				t.Fatalf("accepted (err %v)", err)
			}
			if tt.ok {
				var out bytes.Buffer
				if err := rewriteVolumeArchive(&out, bytes.NewReader(craftTar(t, tt.entries)), "uploads"); err != nil {
					t.Fatal(err)
				}
				tr := tar.NewReader(&out)
				for {
					h, err := tr.Next()
					if err != nil {
						break
					}
					if strings.HasPrefix(h.Name, "uploads") || strings.HasPrefix(h.Linkname, "uploads") {
						t.Errorf("not re-rooted: %s -> %s", h.Name, h.Linkname)
					}
				}
			}
		})
	}
}

// replaceFile swaps a set file for body and fixes the manifest, as an
// attacker with write access to the backup dir could.
func replaceFile(t *testing.T, set *Set, name string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	enc, _ := zstd.NewWriter(&buf)
	_, _ = enc.Write(body)
	_ = enc.Close()
	if err := os.WriteFile(filepath.Join(set.Dir, name), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	for i, f := range set.Manifest.Files {
		if f.Path == name {
			set.Manifest.Files[i].Size = int64(buf.Len())
			set.Manifest.Files[i].SHA256 = hex.EncodeToString(sum[:])
		}
	}
	if err := set.saveManifest(); err != nil {
		t.Fatal(err)
	}
}

func TestCraftedArchivesAreRefusedOnRestore(t *testing.T) {
	src, dir := configSource(t)
	root := t.TempDir()
	set, err := Create(context.Background(), nil, root, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(filepath.Dir(dir), "escaped.txt")
	for _, tc := range []struct {
		name    string
		entries []entry
	}{
		{"dotdot", []entry{{name: ".env", body: "evil\n"}, {name: "../escaped.txt", body: "evil"}}},
		{"absolute", []entry{{name: ".env", body: "evil\n"}, {name: "/tmp/escaped.txt", body: "evil"}}},
		{"symlink", []entry{{name: ".env", body: "evil\n"}, {name: "conf", typ: tar.TypeSymlink, link: "/etc"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			replaceFile(t, set, configArchive, craftTar(t, tc.entries))
			s, err := Open(root, set.ID)
			if err != nil {
				t.Fatal(err)
			}
			err = s.RestoreConfig(context.Background(), dir)
			if !errors.Is(err, ErrUnsafeArchive) {
				t.Fatalf("RestoreConfig: %v", err)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, ".env")); string(b) == "evil\n" {
				t.Error(".env was written before the archive was refused")
			}
			if _, err := os.Stat(outside); err == nil {
				t.Error("file written outside the project")
			}
			// A bad archive anywhere in the set stops every restore, even
			// the database's, before it starts (the engine is nil).
			s, _ = Open(root, set.ID)
			if err := s.RestoreDatabase(context.Background(), nil, DBSource{}, nil); !errors.Is(err, ErrUnsafeArchive) {
				t.Errorf("RestoreDatabase: %v", err)
			}
		})
	}
	// Volumes: refused before any Docker call (the engine is nil).
	replaceFile(t, set, configArchive, craftTar(t, []entry{{name: "data/", typ: tar.TypeDir}, {name: "data/../../x", body: "x"}}))
	s, _ := Open(root, set.ID)
	for i := range s.Manifest.Files {
		s.Manifest.Files[i].Kind = KindVolume
	}
	s.Manifest.Config = nil
	s.Manifest.Volumes = []VolumeEntry{{Name: "data", File: configArchive, Root: "data"}}
	s.Manifest.HelperImage = "sha256:x"
	if err := s.RestoreVolumes(context.Background(), nil, nil); !errors.Is(err, ErrUnsafeArchive) {
		t.Fatalf("RestoreVolumes: %v", err)
	}
}

func TestListAndPrune(t *testing.T) {
	root := t.TempDir()
	base := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	mk := func(i int, verified bool) string {
		created := base.Add(time.Duration(i) * time.Hour)
		id := created.Format("20060102-150405") + "-1.0.0"
		dir := filepath.Join(root, id)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		m := Manifest{Format: ManifestFormat, ID: id, App: "demo", Version: "1.0.0", UpshiftVersion: "t", Created: created, Finished: created.Add(time.Minute), Verified: verified}
		if err := writeManifest(dir, &m); err != nil {
			t.Fatal(err)
		}
		return id
	}
	oldVerified := mk(0, true)
	mk(1, false)
	mk(2, false)
	newest := mk(3, false)
	if err := os.Mkdir(filepath.Join(root, tmpPrefix+"20261101-120000-1.0.0"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "junk"), 0o700); err != nil {
		t.Fatal(err)
	}
	sets, skipped, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 4 || sets[0].ID != newest || sets[3].ID != oldVerified {
		t.Fatalf("sets: %v", ids(sets))
	}
	if len(skipped) != 2 {
		t.Errorf("skipped: %+v", skipped)
	}
	deleted, err := Prune(root, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 2 {
		t.Errorf("deleted %v", deleted)
	}
	sets, _ = List(root)
	if got := ids(sets); len(got) != 2 || got[0] != newest || got[1] != oldVerified {
		t.Errorf("left: %v (the newest verified set must stay)", got)
	}
	if _, err := Prune(root, 0); err != nil {
		t.Fatal(err)
	}
	sets, _ = List(root)
	if got := ids(sets); len(got) != 1 || got[0] != oldVerified {
		t.Errorf("left after keep=0: %v", got)
	}
}

func ids(sets []*Set) []string {
	out := make([]string, len(sets))
	for i, s := range sets {
		out[i] = s.ID
	}
	return out
}

func TestCheckFreeSpace(t *testing.T) {
	dir := t.TempDir()
	if err := CheckFreeSpace(dir, 1); err != nil {
		t.Fatal(err)
	}
	free, err := FreeSpace(dir)
	if err != nil {
		t.Fatal(err)
	}
	need := free - free/10 // fits, but not with the 20% margin
	err = CheckFreeSpace(filepath.Join(dir, "not", "yet"), need)
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), human.Bytes(need+need/5)+" needed") {
		t.Fatalf("err = %v", err)
	}
}

func TestCancelledBackupLeavesNoSet(t *testing.T) {
	src, _ := configSource(t)
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Create(ctx, nil, root, src, func(p Progress) {
		if p.Phase == "config" {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	assertEmptyRoot(t, root)
}

func assertEmptyRoot(t *testing.T, root string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
}

// TestDiskFullRemovesTheSet writes incompressible config data into a 2 MiB
// tmpfs (needs root).
func TestDiskFullRemovesTheSet(t *testing.T) {
	root := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", root).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s)", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", root).Run() })
	src, dir := configSource(t)
	big := make([]byte, 4<<20)
	_, _ = rand.Read(big)
	if err := os.WriteFile(filepath.Join(dir, "conf", "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Create(context.Background(), nil, root, src, nil)
	if err == nil {
		t.Fatal("backup into a full disk succeeded")
	}
	if !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), "incomplete set was removed") {
		t.Errorf("err = %v", err)
	}
	assertEmptyRoot(t, root)
	if free, _ := FreeSpace(root); free < 1<<20 {
		t.Errorf("space not given back: %d free", free)
	}
}

func TestRedaction(t *testing.T) {
	r := newRedactor("s3cr3t-pass", "abc", "1234")
	err := r.err(errors.Join(context.Canceled, errors.New("pg_dump: password s3cr3t-pass rejected")))
	if strings.Contains(err.Error(), "s3cr3t-pass") || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	var got Progress
	r.progress(func(p Progress) { got = p })(Progress{Line: "FATAL s3cr3t-pass abc at 08.571234994"})
	if got.Line != "FATAL *** abc at 08.571234994" {
		t.Errorf("line = %q", got.Line)
	}
}

func TestManifestJSONFields(t *testing.T) {
	src, _ := configSource(t)
	src.SchemaTool, src.SchemaHead, src.DBServerVersion = "alembic", "abc123", "15.4"
	set, err := Create(context.Background(), nil, t.TempDir(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(set.Dir, ManifestName))
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"app", "profile", "version", "schema", "db_server_version", "created", "finished", "durations", "upshift_version", "files", "images", "verified"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("manifest has no %q", k)
		}
	}
}
