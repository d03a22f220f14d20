package backup_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// startDemo starts a demo stack at 1.0.0.
func startDemo(t *testing.T, ctx context.Context) (*testenv.Stack, *dockerx.Engine) {
	t.Helper()
	testenv.RequireDocker(t)
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	// Through the upshift binary: the demo images record the binary that
	// built them, so an in-process demo.Up would rebuild them from this
	// test binary, which has no demo-app command.
	return testenv.StartDemo(t, "1.0.0"), eng
}

// demoSource describes a running demo stack the way the engine will.
func demoSource(t *testing.T, ctx context.Context, eng *dockerx.Engine, st *testenv.Stack) backup.Source {
	t.Helper()
	p, err := demo.StackProject(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := eng.ProjectContainers(ctx, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	src := backup.Source{
		App: "upshift-demo", Profile: "demo", Version: "1.0.0", SchemaTool: "alembic",
		Project:     p,
		ConfigPaths: []string{filepath.Join(st.Dir, "compose.yaml"), filepath.Join(st.Dir, ".env")},
		Secrets:     []string{st.Env("DB_PASSWORD"), st.Env("NOTES_SECRET")},
	}
	for _, c := range cs {
		img, _, err := eng.ImageInspect(ctx, c.ImageID)
		if err != nil {
			t.Fatal(err)
		}
		src.Images = append(src.Images, backup.ServiceImage{Service: c.Service, Ref: c.Image, ID: c.ImageID, RepoDigests: img.RepoDigests})
		switch c.Service {
		case "db":
			src.DB = &backup.DBSource{Container: c.ID, User: st.Env("DB_USER"), Password: st.Env("DB_PASSWORD"), Database: st.Env("DB_NAME")}
		case "api":
			src.Volumes = append(src.Volumes, backup.VolumeSource{Name: "uploads", Container: c.ID, Path: "/data/uploads"})
		}
	}
	if src.DB == nil || len(src.Volumes) == 0 {
		t.Fatalf("demo stack incomplete: %+v", cs)
	}
	return src
}

// dbState is every table's row count and content checksum.
func dbState(t *testing.T, st *testenv.Stack) string {
	t.Helper()
	out, err := st.PSQL(`SELECT string_agg(format('%s=%s', c.relname,
		(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) || '':'' || coalesce(md5(string_agg(t::text, '','' ORDER BY t::text)), '''') AS c FROM %I.%I t', n.nspname, c.relname), false, true, '')))[1]::text), ' ' ORDER BY c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'`)
	if err != nil {
		t.Fatalf("db state: %v: %s", err, out)
	}
	return out
}

// helperContainers lists upshift's helper containers that belong to this
// stack: they mount one of its volumes or a directory of this test. Other
// packages' tests run on the same engine at the same time, so the engine-wide
// list is not this test's to judge.
func helperContainers(t *testing.T, st *testenv.Stack) string {
	t.Helper()
	out, err := testenv.Docker("ps", "-aq", "--filter", "label="+dockerx.LabelHelper)
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for _, id := range strings.Fields(out) {
		info, err := testenv.Docker("inspect", "-f", `{{index .Config.Labels "`+dockerx.LabelHelper+`"}}{{range .Mounts}} {{.Name}}:{{.Source}}{{end}}`, id)
		if err != nil {
			continue // removed between the two calls
		}
		if strings.Contains(info, " "+st.Project+"_") || strings.Contains(info, t.Name()) {
			mine = append(mine, id+" ("+strings.TrimSpace(info)+")")
		}
	}
	return strings.Join(mine, ", ")
}

func volumeShell(t *testing.T, st *testenv.Stack, script string) string {
	t.Helper()
	out, err := testenv.Docker("run", "--rm", "--user", "0:0", "--network", "none", "-v", st.Project+"_uploads:/u", "--entrypoint", "/bin/sh", testenv.PostgresImage(), "-c", script)
	if err != nil {
		t.Fatalf("%s: %v: %s", script, err, out)
	}
	return strings.TrimSpace(out)
}

func TestBackupRestoreDemoStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, eng := startDemo(t, ctx)
	before := helperContainers(t, st)

	if out, err := st.PSQL(`INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 500) g`); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	volumeShell(t, st, "mkdir -p /u/a/b && echo keep > /u/a/b/file.txt && chmod 640 /u/a/b/file.txt")
	// The worker writes all the time: stop the writers first, as the engine does.
	if out, err := st.Compose("stop", "api", "worker"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	src := demoSource(t, ctx, eng, st)

	// A throw-away reference shows that RestoreImages puts tags back.
	probeRef := "upshift-test/backup-probe:" + strings.ToLower(st.Project)
	api := src.Images[0]
	for _, img := range src.Images {
		if img.Service == "api" {
			api = img
		}
	}
	if out, err := testenv.Docker("tag", api.ID, probeRef); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = testenv.Docker("rmi", probeRef) })
	src.Images = append(src.Images, backup.ServiceImage{Service: "probe", Ref: probeRef, ID: api.ID})

	need, err := backup.Estimate(ctx, eng, src)
	if err != nil {
		t.Fatal(err)
	}
	if need < 1<<20 {
		t.Errorf("estimate %d is too small for a PostgreSQL database", need)
	}
	root := filepath.Join(st.Dir, "upshift-backups")
	if err := backup.CheckFreeSpace(root, need); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var progress []backup.Progress
	set, err := backup.Create(ctx, eng, root, src, func(p backup.Progress) {
		mu.Lock()
		progress = append(progress, p)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("set %s: %+v", set.ID, set.Manifest.Durations)
	password := st.Env("DB_PASSWORD")
	mb, _ := os.ReadFile(filepath.Join(set.Dir, backup.ManifestName))
	if strings.Contains(string(mb), password) || strings.Contains(string(mb), st.Env("NOTES_SECRET")) {
		t.Error("the manifest contains a secret")
	}
	sawDB := false
	for _, p := range progress {
		if strings.Contains(p.Line, password) || strings.Contains(p.File, password) {
			t.Errorf("progress line contains the DB password: %+v", p)
		}
		if p.Phase == "database" && p.Done > 0 {
			sawDB = true
		}
	}
	if !sawDB {
		t.Error("no database progress with bytes")
	}
	if set.Manifest.DBServerVersion == "" || len(set.Manifest.Databases) != 1 || len(set.Manifest.Volumes) != 1 {
		t.Errorf("manifest: %+v", set.Manifest)
	}
	if err := set.Verify(ctx, eng, src.DB.Container); err != nil {
		t.Fatal(err)
	}
	wantDB := dbState(t, st)
	wantEnv, _ := os.ReadFile(filepath.Join(st.Dir, ".env"))
	wantFiles := volumeShell(t, st, "cd /u && find . | sort && stat -c '%n %a %s' a/b/file.txt README.txt")

	// A damaged copy of the set is refused before anything is touched.
	t.Run("corrupt copy refused", func(t *testing.T) {
		other := t.TempDir()
		if out, err := exec.Command("cp", "-a", set.Dir, other+"/").CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		bad, err := backup.Open(other, set.ID)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(bad.Dir, bad.Manifest.Databases[0].File)
		b, _ := os.ReadFile(p)
		b[len(b)/3] ^= 0x10
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		err = bad.RestoreDatabase(ctx, eng, *src.DB, nil)
		if !errors.Is(err, backup.ErrCorrupt) {
			t.Fatalf("RestoreDatabase of a damaged set: %v", err)
		}
		if got := dbState(t, st); got != wantDB {
			t.Error("the database changed although the restore was refused")
		}
		if err := bad.Verify(ctx, eng, src.DB.Container); !errors.Is(err, backup.ErrCorrupt) {
			t.Errorf("Verify: %v", err)
		}
	})

	// Destructive changes.
	if out, err := st.PSQL(`DROP TABLE attachments; UPDATE notes SET body = 'changed' WHERE id < 10`); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(st.Dir, ".env"), append(wantEnv, "EXTRA_SETTING=1\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	volumeShell(t, st, "rm /u/README.txt && echo new > /u/added.txt && rm -r /u/a")
	if out, err := testenv.Docker("tag", testenv.PostgresImage(), probeRef); err != nil { // point the probe elsewhere
		t.Fatalf("%v: %s", err, out)
	}

	// Restore, as the engine will do it (api and worker are stopped).
	again, err := backup.Open(root, set.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.RestoreDatabase(ctx, eng, *src.DB, nil); err != nil {
		t.Fatal(err)
	}
	if err := again.RestoreConfig(context.Background(), st.Dir); err != nil {
		t.Fatal(err)
	}
	if err := again.RestoreVolumes(ctx, eng, nil); err != nil {
		t.Fatal(err)
	}
	if err := again.RestoreImages(ctx, eng); err != nil {
		t.Fatal(err)
	}
	// Compared before the worker starts writing again.
	if got := dbState(t, st); got != wantDB {
		t.Errorf("database after restore:\n got %s\nwant %s", got, wantDB)
	}
	t.Run("host zstd dump mode", func(t *testing.T) {
		zsrc := src
		zsrc.DumpMode = backup.DumpHostZstd
		zset, err := backup.Create(ctx, eng, t.TempDir(), zsrc, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := zset.Verify(ctx, eng, src.DB.Container); err != nil {
			t.Fatal(err)
		}
		if out, err := st.PSQL(`DROP TABLE notes CASCADE`); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if err := zset.RestoreDatabase(ctx, eng, *src.DB, nil); err != nil {
			t.Fatal(err)
		}
		if got := dbState(t, st); got != wantDB {
			t.Errorf("database after restore:\n got %s\nwant %s", got, wantDB)
		}
	})
	if out, err := st.Compose("up", "-d", "--wait", "--wait-timeout", "120"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(st.Dir, ".env")); string(got) != string(wantEnv) {
		t.Errorf(".env after restore:\n%s", got)
	}
	if got := volumeShell(t, st, "cd /u && find . | sort && stat -c '%n %a %s' a/b/file.txt README.txt"); got != wantFiles {
		t.Errorf("uploads after restore:\n%s\nwant\n%s", got, wantFiles)
	}
	if img, _, err := eng.ImageInspect(ctx, probeRef); err != nil || img.ID != api.ID {
		t.Errorf("probe image is %s (%v), want %s", img.ID, err, api.ID)
	}
	if v, err := st.APIVersion(); err != nil || v != "1.0.0" {
		t.Errorf("api version %q, %v", v, err)
	}
	if got := helperContainers(t, st); got != before {
		t.Errorf("helper containers left behind: %s", got)
	}

	t.Run("cancelled dump leaves no set", func(t *testing.T) {
		root := t.TempDir()
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		_, err := backup.Create(cctx, eng, root, src, func(p backup.Progress) {
			if p.Phase == "database" {
				ccancel()
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if entries, _ := os.ReadDir(root); len(entries) != 0 {
			t.Errorf("left behind: %v", entries)
		}
		if sets, _ := backup.List(root); len(sets) != 0 {
			t.Errorf("sets: %v", sets)
		}
		waitNoPgDump(t, st)
	})

	t.Run("disk full", func(t *testing.T) {
		root := t.TempDir()
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", root).CombinedOutput(); err != nil {
			t.Skipf("cannot mount a tmpfs (%v: %s)", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("umount", root).Run() })
		if out, err := st.PSQL(`CREATE TABLE filler AS SELECT g, md5(random()::text) || md5(random()::text) AS junk FROM generate_series(1, 150000) g`); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		defer func() { _, _ = st.PSQL(`DROP TABLE filler`) }()
		_, err := backup.Create(ctx, eng, root, src, nil)
		if err == nil {
			t.Fatal("backup into a full disk succeeded")
		}
		if !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), "incomplete set was removed") {
			t.Errorf("err = %v", err)
		}
		if strings.Contains(err.Error(), password) {
			t.Error("error contains the password")
		}
		if entries, _ := os.ReadDir(root); len(entries) != 0 {
			t.Errorf("left behind: %v", entries)
		}
		waitNoPgDump(t, st)
	})
}

// waitNoPgDump fails unless pg_dump's session ends soon: an abandoned dump
// must not linger in the container holding a snapshot.
func waitNoPgDump(t *testing.T, st *testenv.Stack) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _ := st.PSQL(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump'`)
		if out == "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("pg_dump still running: %s", out)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}
