package backup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// TestPhysicalRestorePoint: a base backup taken while the worker writes,
// sealed after the worker stopped, restores every row committed before the
// seal and nothing written after it, and leaves no replication slot.
func TestPhysicalRestorePoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, eng := startDemo(t, ctx)
	src := demoSource(t, ctx, eng, st)
	if r := backup.PhysicalReady(ctx, eng, *src.DB); !r.OK {
		t.Fatalf("the test image is not ready for a physical backup: %s", r.Reason)
	}
	src.Physical = true
	set, err := backup.Create(ctx, eng, t.TempDir(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if set.Manifest.Physical == nil || len(set.Manifest.Databases) != 0 {
		t.Fatalf("manifest: physical %+v, %d dumps", set.Manifest.Physical, len(set.Manifest.Databases))
	}
	if slots, _ := st.PSQL("SELECT slot_name FROM pg_replication_slots"); slots != set.Manifest.Physical.Slot {
		t.Fatalf("slots while the backup waits for its seal: %q, want %q", slots, set.Manifest.Physical.Slot)
	}
	time.Sleep(time.Second) // writes after the base backup: only the WAL has them
	if _, err := testenv.Docker("stop", st.Container("worker")); err != nil {
		t.Fatal(err)
	}
	atStop, _ := st.PSQL("SELECT count(*) || ':' || max(id) FROM notes")
	if err := set.Seal(ctx, eng, *src.DB, nil); err != nil {
		t.Fatal(err)
	}
	if slots, _ := st.PSQL("SELECT count(*) FROM pg_replication_slots"); slots != "0" {
		t.Fatalf("%s replication slots after the seal", slots)
	}
	if len(set.Manifest.Physical.Tables) == 0 {
		t.Fatalf("no table sums at the seal: %s", set.Manifest.Physical.TablesNote)
	}
	// Proven in a scratch server: replayed to the stop, tables compared.
	proof, err := set.VerifyRestore(ctx, eng, "", nil)
	if err != nil || !proof.Passed || proof.Tables == 0 {
		t.Fatalf("restore proof of the physical set: %+v %v", proof, err)
	}
	// What a failed migration leaves.
	if _, err := st.PSQL("INSERT INTO notes (body) VALUES ('after the stop'); CREATE TABLE junk (x int)"); err != nil {
		t.Fatal(err)
	}
	reopened, err := backup.Open(set.Dir[:strings.LastIndex(set.Dir, "/")], set.ID)
	if err != nil {
		t.Fatal(err)
	}
	restoreLogged(t, ctx, eng, reopened, *src.DB)
	if got, _ := st.PSQL("SELECT count(*) || ':' || max(id) FROM notes"); got != atStop {
		t.Fatalf("after the restore notes are %s, at the stop %s", got, atStop)
	}
	if got, _ := st.PSQL("SELECT count(*) FROM pg_tables WHERE tablename = 'junk'"); got != "0" {
		t.Fatal("a table created after the stop survived the restore")
	}
	// The recovery settings are gone from the file (SHOW keeps them until the next restart).
	if conf, err := testenv.Docker("exec", st.Container("db"), "sh", "-c", `cat "$PGDATA/postgresql.auto.conf"`); err != nil || strings.Contains(conf, "recovery_target") {
		t.Errorf("postgresql.auto.conf after the restore (%v):\n%s", err, conf)
	}
	if slots, _ := st.PSQL("SELECT count(*) FROM pg_replication_slots"); slots != "0" {
		t.Errorf("%s replication slots after the restore", slots)
	}

	// Again, on the timeline the restore started (a second hop's rollback).
	set2, err := backup.Create(ctx, eng, t.TempDir(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if set2.Manifest.Physical.Timeline < 2 {
		t.Errorf("timeline %d after a restore", set2.Manifest.Physical.Timeline)
	}
	if _, err := st.PSQL("INSERT INTO notes (body) VALUES ('second round')"); err != nil {
		t.Fatal(err)
	}
	atStop2, _ := st.PSQL("SELECT count(*) || ':' || max(id) FROM notes")
	if err := set2.Seal(ctx, eng, *src.DB, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PSQL("DELETE FROM notes"); err != nil {
		t.Fatal(err)
	}
	if err := set2.RestorePhysical(ctx, eng, *src.DB, nil); err != nil {
		t.Fatalf("second restore: %v", err)
	}
	if got, _ := st.PSQL("SELECT count(*) || ':' || max(id) FROM notes"); got != atStop2 {
		t.Fatalf("after the second restore notes are %s, at its stop %s", got, atStop2)
	}
}
