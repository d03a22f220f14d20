package backup_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// leftovers lists upshift's directories in the db container's data
// directory (the demo's volume is PGDATA itself, the harder case: the
// staged copy sits inside the live data directory).
func leftovers(t *testing.T, st *testenv.Stack) string {
	t.Helper()
	dirs, err := st.UpshiftDirs()
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// restoreLogged restores set's physical part into db and returns its
// progress lines; a failure fails the test with them.
func restoreLogged(t *testing.T, ctx context.Context, eng *dockerx.Engine, set *backup.Set, db backup.DBSource) string {
	t.Helper()
	var lines []string
	if err := set.RestorePhysical(ctx, eng, db, func(p backup.Progress) {
		if p.Line != "" {
			lines = append(lines, p.Line)
		}
	}); err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(lines, "\n"))
	}
	return strings.Join(lines, "\n")
}

// TestPhysicalStagedRollback: a base backup unpacked next to the data
// directory while the worker writes is swapped in by the rollback, which
// then holds every row committed before the seal and nothing after; an
// interrupted swap falls back to copying the base backup in; stale staged
// copies are found and removed.
func TestPhysicalStagedRollback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, eng := startDemo(t, ctx)
	src := demoSource(t, ctx, eng, st)
	src.Physical = true
	root := t.TempDir()
	set, err := backup.Create(ctx, eng, root, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Stage(ctx, eng, *src.DB, nil); err != nil {
		t.Fatal(err)
	}
	dir := set.StagedDir()
	if dir == "" || leftovers(t, st) != dir {
		t.Fatalf("staged %q, in the data directory: %q", dir, leftovers(t, st))
	}
	if out, err := testenv.Docker("exec", "-u", "0", st.Container("db"), "sh", "-c", `cat "$PGDATA/`+dir+`/PG_VERSION" && ls "$PGDATA/`+dir+`/recovery.signal" 2>&1 || true`); err != nil || !strings.Contains(out, "No such file") {
		t.Fatalf("staged copy (PG_VERSION, no recovery.signal): %v %s", err, out)
	}
	time.Sleep(time.Second) // writes after the base backup: only the WAL has them

	// The rehearsal's scratch copy is made of the staged copy (the set's
	// base backup file is moved away: only the staged copy can make it).
	base := set.Dir + "/" + set.Manifest.Physical.BaseFile
	if err := os.Rename(base, base+".away"); err != nil {
		t.Fatal(err)
	}
	last, err := st.PSQL("INSERT INTO notes (body) VALUES ('right before the copy') RETURNING id")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := st.PSQL(notesUpTo + last)
	var scLines []string
	sc, err := backup.PhysicalScratch(ctx, eng, set, *src.DB, nil, func(p backup.Progress) {
		if p.Line != "" {
			scLines = append(scLines, p.Line)
		}
	})
	if err != nil {
		t.Fatalf("scratch copy of the staged copy: %v\n%s", err, strings.Join(scLines, "\n"))
	}
	if got, err := sc.Query(ctx, src.DB.Database, notesUpTo+last); err != nil || got != want {
		t.Errorf("notes on the scratch copy %q (%v), live %q", got, err, want)
	}
	if err := sc.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(base+".away", base); err != nil {
		t.Fatal(err)
	}
	if leftovers(t, st) != dir {
		t.Fatalf("the scratch copy changed the staged copy: %q", leftovers(t, st))
	}

	if _, err := testenv.Docker("stop", st.Container("worker")); err != nil {
		t.Fatal(err)
	}
	atStop, _ := st.PSQL("SELECT count(*) || ':' || max(id) FROM notes")
	if err := set.Seal(ctx, eng, *src.DB, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PSQL("INSERT INTO notes (body) VALUES ('after the stop'); CREATE TABLE junk (x int)"); err != nil {
		t.Fatal(err)
	}
	reopened, err := backup.Open(root, set.ID)
	if err != nil {
		t.Fatal(err)
	}
	if reopened.StagedDir() != dir {
		t.Fatalf("the manifest on disk says staged %q", reopened.StagedDir())
	}
	log := restoreLogged(t, ctx, eng, reopened, *src.DB)
	if !strings.Contains(log, "swapping in") || strings.Contains(log, "copying the base backup") {
		t.Errorf("the restore did not swap the staged copy in:\n%s", log)
	}
	if got, _ := st.PSQL("SELECT count(*) || ':' || max(id) FROM notes"); got != atStop {
		t.Fatalf("after the restore notes are %s, at the stop %s", got, atStop)
	}
	if got, _ := st.PSQL("SELECT count(*) FROM pg_tables WHERE tablename = 'junk'"); got != "0" {
		t.Fatal("a table created after the stop survived the restore")
	}
	if l := leftovers(t, st); l != "" {
		t.Errorf("left in the data directory after the swap: %s", l)
	}
	if again, _ := backup.Open(root, set.ID); again.StagedDir() != "" {
		t.Errorf("the manifest still names the consumed staged copy %s", again.StagedDir())
	}

	t.Run("interrupted swap: the base backup is copied in", func(t *testing.T) {
		set2, err := backup.Create(ctx, eng, t.TempDir(), src, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := set2.Stage(ctx, eng, *src.DB, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := st.PSQL("INSERT INTO notes (body) VALUES ('second round')"); err != nil {
			t.Fatal(err)
		}
		atStop2, _ := st.PSQL("SELECT count(*) || ':' || max(id) FROM notes")
		if err := set2.Seal(ctx, eng, *src.DB, nil); err != nil {
			t.Fatal(err)
		}
		// What a kill in the middle of the swap leaves: the copy renamed away.
		d := set2.StagedDir()
		swap := ".upshift-swap-" + strings.TrimPrefix(d, ".upshift-staged-")
		if out, err := testenv.Docker("exec", "-u", "0", st.Container("db"), "sh", "-c", `cd "$PGDATA" && mv `+d+` `+swap); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if _, err := st.PSQL("DELETE FROM notes"); err != nil {
			t.Fatal(err)
		}
		log := restoreLogged(t, ctx, eng, set2, *src.DB)
		if !strings.Contains(log, "copying the base backup in") {
			t.Errorf("no fallback said:\n%s", log)
		}
		if got, _ := st.PSQL("SELECT count(*) || ':' || max(id) FROM notes"); got != atStop2 {
			t.Fatalf("after the restore notes are %s, at its stop %s", got, atStop2)
		}
		if l := leftovers(t, st); l != "" {
			t.Errorf("left in the data directory: %s", l)
		}
	})

	t.Run("stale staged copies are removed, the kept one stays", func(t *testing.T) {
		a, err := backup.Create(ctx, eng, t.TempDir(), src, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Stage(ctx, eng, *src.DB, nil); err != nil {
			t.Fatal(err)
		}
		if err := a.Seal(ctx, eng, *src.DB, nil); err != nil {
			t.Fatal(err)
		}
		removed, err := backup.DropStaleStaged(ctx, eng, *src.DB, []string{a.StagedDir()})
		if err != nil || len(removed) != 0 || leftovers(t, st) != a.StagedDir() {
			t.Fatalf("kept: removed %v (%v), left %q", removed, err, leftovers(t, st))
		}
		removed, err = backup.DropStaleStaged(ctx, eng, *src.DB, nil)
		if err != nil || len(removed) != 1 || removed[0] != a.StagedDir() {
			t.Fatalf("removed %v (%v)", removed, err)
		}
		if l := leftovers(t, st); l != "" {
			t.Errorf("left: %s", l)
		}
		// Without its staged copy, the set still restores (copied in).
		if err := a.RestorePhysical(ctx, eng, *src.DB, nil); err != nil {
			t.Fatal(err)
		}
	})
}
