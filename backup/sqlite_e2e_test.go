package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// TestSQLiteFiles backs up a database file and its -wal from a stopped
// container (MaiBot-style) and restores them; the absent -shm comes back empty.
func TestSQLiteFiles(t *testing.T) {
	testenv.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = eng.Close() }()
	name := testenv.UniqueName("upshift-sqlite")
	t.Cleanup(func() {
		_, _ = testenv.Docker("rm", "-f", name)
		_, _ = testenv.Docker("volume", "rm", "-f", name)
	})
	run := func(script string) string {
		t.Helper()
		out, err := testenv.Docker("run", "--rm", "--user", "0:0", "--network", "none", "-v", name+":/data", "--entrypoint", "/bin/sh", testenv.PostgresImage(), "-c", script)
		if err != nil {
			t.Fatalf("%s: %v: %s", script, err, out)
		}
		return strings.TrimSpace(out)
	}
	if out, err := testenv.Docker("create", "--name", name, "-v", name+":/data", testenv.PostgresImage()); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	run("echo main > /data/app.db && echo wal > /data/app.db-wal")
	src := backup.Source{
		App: "maibot", Version: "0.9.1",
		SQLiteFiles: []backup.FileInContainer{
			{Container: name, Path: "/data/app.db"},
			{Container: name, Path: "/data/app.db-wal"},
			{Container: name, Path: "/data/app.db-shm"},
		},
	}
	root := t.TempDir()
	set, err := backup.Create(ctx, eng, root, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Verify(ctx, eng, ""); err != nil {
		t.Fatal(err)
	}
	if n := len(set.Manifest.SQLite); n != 3 || set.Manifest.SQLite[2].Present {
		t.Fatalf("sqlite entries: %+v", set.Manifest.SQLite)
	}
	if _, err := os.Stat(filepath.Join(set.Dir, backup.ManifestName)); err != nil {
		t.Fatal(err)
	}
	run("echo changed > /data/app.db && rm /data/app.db-wal && echo stale > /data/app.db-shm")
	if err := set.RestoreSQLite(ctx, eng, "", nil); err != nil {
		t.Fatal(err)
	}
	got := run("cat /data/app.db /data/app.db-wal; wc -c < /data/app.db-shm")
	if got != "main\nwal\n0" {
		t.Errorf("after restore: %q", got)
	}
}
