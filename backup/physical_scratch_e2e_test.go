package backup_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// notesUpTo is the count and checksum of the notes with id <= max.
const notesUpTo = "SELECT count(*) || ':' || md5(string_agg(id || '|' || body, ',' ORDER BY id)) FROM notes WHERE id <= "

// TestPhysicalScratchCopy: while the worker writes, a scratch copy made of
// the unsealed base backup and the WAL since holds every row committed
// before it was made, also what was written after the base backup (several
// WAL segments of it); the app's role logs in over the scratch network;
// the live server keeps running with its slot, and the seal and its
// restore proof work afterwards. Remove leaves nothing; a failure half-way
// leaves nothing either.
func TestPhysicalScratchCopy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, eng := startDemo(t, ctx)
	src := demoSource(t, ctx, eng, st)
	db := *src.DB
	src.Physical = true
	root := t.TempDir()
	// The live pg_hba.conf lets network logins in from one address only
	// (an admin's compose subnet) while the base backup runs: the copy
	// still lets the app in from the scratch network.
	hba := func(script string) {
		t.Helper()
		if out, err := testenv.Docker("exec", "-u", "0", st.Container("db"), "sh", "-c", script); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if _, err := st.PSQL("SELECT pg_reload_conf()"); err != nil {
			t.Fatal(err)
		}
	}
	hba(`cd "$PGDATA" && cp pg_hba.conf /tmp/pg_hba.orig && sed -i 's/^host all all all /host all all 203.0.113.7\/32 /' pg_hba.conf`)
	set, err := backup.Create(ctx, eng, root, src, nil)
	hba(`cd "$PGDATA" && cat /tmp/pg_hba.orig > pg_hba.conf && rm /tmp/pg_hba.orig`)
	if err != nil {
		t.Fatal(err)
	}
	p := set.Manifest.Physical
	startedAt, _ := testenv.Docker("inspect", "-f", "{{.State.StartedAt}}", st.Container("db"))

	// Written after the base backup, only the WAL has it: more than a
	// segment (16 MB) of it.
	if _, err := st.PSQL("CREATE TABLE bulk AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 400000) g"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the worker's heartbeats
	last, err := st.PSQL("INSERT INTO notes (body) VALUES ('right before the copy') RETURNING id")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := st.PSQL(notesUpTo + last)
	var lines []string
	sc, err := backup.PhysicalScratch(ctx, eng, set, db, []string{"db"}, func(p backup.Progress) {
		if p.Line != "" {
			lines = append(lines, p.Line)
		}
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(lines, "\n"))
	}
	defer func() { _ = sc.Remove(context.Background()) }()
	log := strings.Join(lines, "\n")
	t.Logf("progress:\n%s", log)
	if strings.Contains(log, db.Password) {
		t.Errorf("the password is in the progress lines:\n%s", log)
	}
	if !strings.Contains(log, "WAL segment(s)") || strings.Contains(log, "copying the base backup and the 1 WAL") {
		t.Errorf("want several WAL segments copied:\n%s", log)
	}
	if got, err := sc.Query(ctx, db.Database, notesUpTo+last); err != nil || got != want {
		t.Fatalf("notes up to %s on the copy: %q (%v), live %q", last, got, err, want)
	}
	if got, err := sc.Query(ctx, db.Database, "SELECT count(*) || ':' || sum(id) FROM bulk"); err != nil || got != "400000:80000200000" {
		t.Errorf("bulk on the copy: %q %v", got, err)
	}
	if got, err := sc.Query(ctx, db.Database, "SELECT pg_is_in_recovery()"); err != nil || got != "f" {
		t.Errorf("in recovery: %q %v", got, err)
	}
	if len(sc.Databases) == 0 || sc.Databases[0] != db.Database || sc.Image != p.Image {
		t.Errorf("databases %v, image %s", sc.Databases, sc.Image)
	}
	if conf, err := testenv.Docker("exec", sc.ID, "sh", "-c", `cat "$PGDATA/postgresql.auto.conf"; ls "$PGDATA"`); err != nil ||
		strings.Contains(conf, "restore_command") || strings.Contains(conf, "hot_standby") || strings.Contains(conf, "recovery.signal") {
		t.Errorf("recovery settings left (%v):\n%s", err, conf)
	}
	// The app's way in: its role and password, over the scratch network,
	// under the DB service's name.
	if err := sc.Login(ctx, db.User, db.Password); err != nil {
		t.Fatal(err)
	}
	app, err := sc.StartApp(ctx, dockerx.AppSpec{
		Image: testenv.PostgresImage(), Entrypoint: []string{"psql"},
		Cmd: []string{"--no-psqlrc", "-tAc", "SELECT count(*) FROM notes", "host=db user=" + db.User + " dbname=" + db.Database},
		Env: []string{"PGPASSWORD=" + db.Password},
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := eng.Wait(ctx, app); err != nil || code != 0 {
		out, _ := testenv.Docker("logs", app)
		t.Fatalf("psql from the scratch network: exit %d %v: %s", code, err, out)
	}

	// The live server: not restarted, its slot kept, still written to.
	if now, _ := testenv.Docker("inspect", "-f", "{{.State.StartedAt}}", st.Container("db")); now != startedAt {
		t.Errorf("the live db container was restarted: %s, then %s", startedAt, now)
	}
	if slots, _ := st.PSQL("SELECT slot_name FROM pg_replication_slots"); slots != p.Slot {
		t.Fatalf("slots after the copy: %q, want %q", slots, p.Slot)
	}
	if _, err := st.PSQL("INSERT INTO notes (body) VALUES ('after the copy')"); err != nil {
		t.Fatal(err)
	}
	if err := sc.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	scratchLeft(t, ctx, eng)

	// A copy that fails half-way (the base backup unreadable) is removed.
	base := set.Dir + "/" + p.BaseFile
	if err := os.Rename(base, base+".away"); err != nil {
		t.Fatal(err)
	}
	if sc2, err := backup.PhysicalScratch(ctx, eng, set, db, nil, nil); err == nil {
		_ = sc2.Remove(ctx)
		t.Fatal("a copy without its base backup file")
	} else if !strings.Contains(err.Error(), "copy the base backup and the WAL into a scratch server") || strings.Contains(err.Error(), db.Password) {
		t.Errorf("error %v", err)
	}
	scratchLeft(t, ctx, eng)
	if err := os.Rename(base+".away", base); err != nil {
		t.Fatal(err)
	}

	// The seal works as before, and its restore point restores.
	if _, err := testenv.Docker("stop", st.Container("worker")); err != nil {
		t.Fatal(err)
	}
	if err := set.Seal(ctx, eng, db, nil); err != nil {
		t.Fatal(err)
	}
	if proof, err := set.VerifyRestore(ctx, eng, "", nil); err != nil || !proof.Passed {
		t.Fatalf("restore proof after the copy: %+v %v", proof, err)
	}
	// A sealed set makes no copy (its restore is the way).
	if _, err := backup.PhysicalScratch(ctx, eng, set, db, nil, nil); !errors.Is(err, backup.ErrNoPhysicalScratch) {
		t.Errorf("sealed set: %v", err)
	}
	scratchLeft(t, ctx, eng)
}
