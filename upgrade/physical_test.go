package upgrade

import (
	"context"
	"errors"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// fakePhysical is fakeBackups with the physical operations.
type fakePhysical struct {
	*fakeBackups
	ready      backup.Readiness
	sealErr    error
	problem    string
	stale      []string
	sealed     []string
	restored   []string
	dropKept   []string
	restoreErr error
	stageErr   error
	unstaged   []string
}

var _ physicalBackups = (*fakePhysical)(nil)

func (b *fakePhysical) PhysicalReady(context.Context, backup.DBSource) backup.Readiness {
	b.log.add("physical ready")
	return b.ready
}

func (b *fakePhysical) Seal(_ context.Context, set *backup.Set, _ backup.DBSource, _ func(backup.Progress)) error {
	b.log.add("seal " + set.ID)
	if b.sealErr != nil {
		return b.sealErr
	}
	b.sealed = append(b.sealed, set.ID)
	set.Manifest.Physical.WALFile, set.Manifest.Physical.StopLSN = "wal", "0/3000100"
	return nil
}

func (b *fakePhysical) PhysicalProblem(context.Context, *backup.Set, backup.DBSource) string {
	return b.problem
}

func (b *fakePhysical) RestorePhysical(_ context.Context, set *backup.Set, _ backup.DBSource, _ func(backup.Progress)) error {
	b.log.add("restore physical " + set.ID)
	b.restored = append(b.restored, set.ID)
	return b.restoreErr
}

func (b *fakePhysical) DropStaleSlots(_ context.Context, _ backup.DBSource, keep string) ([]string, error) {
	b.log.add("drop stale slots")
	b.dropKept = append(b.dropKept, keep)
	out := b.stale
	b.stale = nil
	return out, nil
}

func (b *fakePhysical) Stage(_ context.Context, set *backup.Set, _ backup.DBSource, _ func(backup.Progress)) error {
	b.log.add("stage " + set.ID)
	if b.stageErr != nil {
		return b.stageErr
	}
	set.Manifest.Physical.Staged = &backup.StagedCopy{Volume: "pgdata", Dir: ".upshift-staged-" + set.ID}
	return nil
}

func (b *fakePhysical) Unstage(_ context.Context, set *backup.Set) error {
	b.log.add("unstage " + set.ID)
	b.unstaged = append(b.unstaged, set.ID)
	set.Manifest.Physical.Staged = nil
	return nil
}

func (b *fakePhysical) DropStaleStaged(context.Context, backup.DBSource, []string) ([]string, error) {
	return nil, nil
}

func physicalSet(id string, sealed bool) *backup.Set {
	s := testSet(id, "1.0.0")
	s.Manifest.Physical = &backup.PhysicalEntry{Slot: backup.SlotName(id), BaseFile: "pgdata-base.tar.zst", StartLSN: "0/2000000"}
	if sealed {
		s.Manifest.Physical.WALFile, s.Manifest.Physical.StopLSN = "pgdata-wal.tar.zst", "0/3000100"
	}
	return s
}

func withPhysical(f *fixture) *fakePhysical {
	demoMounts(f)
	f.backups.set = testSet("s0", "1.0.0")
	f.env.NoRehearsal = true // the rehearsal restores a pg_dump before the stop
	pb := &fakePhysical{fakeBackups: f.backups, ready: backup.Readiness{OK: true}}
	f.env.Backups = pb
	return pb
}

func TestPhysicalDecision(t *testing.T) {
	t.Run("ready: the backup is physical, no late-writes mark", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		pb := withPhysical(f)
		pb.stale = []string{"upshift_old"}
		f.env.checkPhysical(context.Background(), f.env.Start, f.sink)
		f.env.dropStaleSlots(context.Background(), f.env.Start, "", f.sink.Log)
		if !f.sink.has("✓ restore point: a base backup") || !f.sink.has("dropped the replication slot(s) upshift_old") {
			t.Errorf("log:\n%s", f.sink.text())
		}
		if err := (&backupStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if src := f.backups.created[0]; !src.Physical {
			t.Error("the backup source is not physical")
		}
		if f.env.xidAtBackup != 0 {
			t.Error("a physical backup marks late writes")
		}
	})
	t.Run("not ready: a pg_dump, and why", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		pb := withPhysical(f)
		pb.ready = backup.Readiness{Reason: "wal_level is minimal"}
		f.env.checkPhysical(context.Background(), f.env.Start, f.sink)
		if !f.sink.has("a physical restore point is not possible: wal_level is minimal") {
			t.Errorf("log:\n%s", f.sink.text())
		}
		if err := (&backupStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if f.backups.created[0].Physical {
			t.Error("physical although not ready")
		}
	})
	t.Run("--restore-proof always keeps a pg_dump, and says why", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		withPhysical(f)
		f.env.RestoreProof = ProofAlways
		f.env.checkPhysical(context.Background(), f.env.Start, f.sink)
		if f.env.physicalOK() || !f.sink.has("since --restore-proof always") {
			t.Errorf("physical %v, log:\n%s", f.env.physicalOK(), f.sink.text())
		}
	})
	t.Run("a rehearsed hop's restore point is physical too (the rehearsal copies the running database)", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		withPhysical(f)
		f.env.NoRehearsal = false
		f.env.checkPhysical(context.Background(), f.env.Start, f.sink)
		if !f.env.physicalOK() || !f.sink.has("a rollback loses nothing committed before the stop") {
			t.Errorf("physical %v, log:\n%s", f.env.physicalOK(), f.sink.text())
		}
	})
	t.Run("--backup-after-stop and upshift backup stay logical", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		withPhysical(f)
		f.env.BackupAfterStop = true
		f.env.checkPhysical(context.Background(), f.env.Start, f.sink)
		if f.env.physicalOK() {
			t.Error("physical with --backup-after-stop")
		}
		f.env.BackupAfterStop = false
		f.env.checkPhysical(context.Background(), f.env.Start, f.sink)
		if err := (&backupStep{env: f.env}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if f.backups.created[0].Physical {
			t.Error("`upshift backup` (no hop) is physical: it must stay a portable dump")
		}
	})
}

func TestStopSeals(t *testing.T) {
	t.Run("the stop seals the newest restore point after the writers stopped", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		pb := withPhysical(f)
		f.env.AddRestorePoint(physicalSet("s1", false))
		if err := (&stopStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		got := f.calls.list()
		if got[len(got)-1] != "seal s1" || !containsCall(got, "compose stop --timeout 20 api worker") {
			t.Errorf("calls %v", got)
		}
		if len(pb.sealed) != 1 || !f.sink.has("sealed at 0/3000100") {
			t.Errorf("sealed %v, log:\n%s", pb.sealed, f.sink.text())
		}
	})
	t.Run("no writers to stop: still sealed (the migration comes next)", func(t *testing.T) {
		f := newFixtureWith(t, builtin(t, "upshift-demo"), []svc{{"db", "db", "postgres:16"}}, "1.0.0")
		pb := withPhysical(f)
		f.env.AddRestorePoint(physicalSet("s1", false))
		if err := (&stopStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if len(pb.sealed) != 1 {
			t.Errorf("not sealed; calls %v", f.calls.list())
		}
	})
	t.Run("a failed seal fails the stop, before any migration", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		pb := withPhysical(f)
		pb.sealErr = errors.New("slot gone")
		f.env.AddRestorePoint(physicalSet("s1", false))
		wantErr(t, (&stopStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink), "could not be completed, nothing was migrated", "slot gone")
	})
	t.Run("a sealed or logical point is left alone; the rollback's stop never seals", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		withPhysical(f)
		f.env.AddRestorePoint(physicalSet("s1", true))
		if err := (&stopStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		f.env.AddRestorePoint(physicalSet("s2", false))
		if err := (&stopStep{env: f.env, hop: "rollback", all: true}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if containsPrefix(f.calls.list(), "seal") {
			t.Errorf("calls %v", f.calls.list())
		}
	})
}

func TestRestorePhysical(t *testing.T) {
	run := func(t *testing.T, f *fixture, set *backup.Set, hop string) error {
		t.Helper()
		f.env.markVerified(set.ID)
		return (&restoreStep{env: f.env, hop: hop, set: set}).Run(context.Background(), f.sink)
	}
	t.Run("a sealed set is restored physically, not from a dump", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		pb := withPhysical(f)
		if err := run(t, f, physicalSet("s1", true), "rollback"); err != nil {
			t.Fatal(err)
		}
		if len(pb.restored) != 1 || containsCall(f.calls.list(), "restore database") {
			t.Errorf("calls %v", f.calls.list())
		}
	})
	t.Run("a physical set that cannot be used here, with no dump, is refused", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		pb := withPhysical(f)
		pb.problem = "the database container now runs image abc"
		wantErr(t, run(t, f, physicalSet("s1", true), "restore"), "runs image abc", "no logical dump")
	})
	t.Run("with a dump too, the dump is restored and the log says why", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		pb := withPhysical(f)
		pb.problem = "the database container now runs image abc"
		set := physicalSet("s1", true)
		set.Manifest.Databases = []backup.DatabaseEntry{{Name: "notes", File: "db-notes.pgdump"}}
		if err := run(t, f, set, "rollback"); err != nil {
			t.Fatal(err)
		}
		if !containsCall(f.calls.list(), "restore database") || !f.sink.has("restoring the logical dump: the base backup cannot be used") {
			t.Errorf("calls %v\n%s", f.calls.list(), f.sink.text())
		}
	})
	t.Run("an unsealed point in a rollback: the database was not touched", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		pb := withPhysical(f)
		if err := run(t, f, physicalSet("s1", false), "rollback"); err != nil {
			t.Fatal(err)
		}
		if len(pb.restored) != 0 || containsCall(f.calls.list(), "restore database") || !f.sink.has("the database was not changed since restore point s1") {
			t.Errorf("calls %v\n%s", f.calls.list(), f.sink.text())
		}
		if !containsCall(f.calls.list(), "drop stale slots") {
			t.Error("its slot is not dropped")
		}
	})
	t.Run("an unsealed point in upshift restore is refused", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		withPhysical(f)
		wantErr(t, run(t, f, physicalSet("s1", false), "restore"), "never completed", "nothing was restored")
	})
}

func containsCall(calls []string, c string) bool {
	for _, x := range calls {
		if x == c {
			return true
		}
	}
	return false
}

func containsPrefix(calls []string, p string) bool {
	for _, x := range calls {
		if len(x) >= len(p) && x[:len(p)] == p {
			return true
		}
	}
	return false
}

// TestRestorePhysicalStoppedDB: a rollback killed while the data directory
// was being replaced left the database container stopped; the resumed
// restore finds it and replaces the directory again instead of refusing.
func TestRestorePhysicalStoppedDB(t *testing.T) {
	f := newFixture(t, "upshift-demo", "1.0.0")
	pb := withPhysical(f)
	res := *f.det.res
	res.Containers = map[string]dockerx.Container{}
	for k, c := range f.det.res.Containers {
		res.Containers[k] = c
	}
	db := res.Containers[res.DB.Service]
	if db.ID == "" {
		db.ID, db.Name = "dbid", "proj-db-1"
	}
	db.State = "exited"
	res.Containers[res.DB.Service] = db
	res.Report.DB.Service = res.DB.Service
	res.DB.Container = ""
	f.det.res = &res
	set := physicalSet("s1", true)
	set.Manifest.Physical.User, set.Manifest.Physical.Database = "notes", "notes"
	f.env.markVerified(set.ID)
	if err := (&restoreCheckStep{env: f.env, hop: "rollback", set: set}).Run(context.Background(), f.sink); err != nil {
		t.Fatal(err)
	}
	if err := (&restoreStep{env: f.env, hop: "rollback", set: set}).Run(context.Background(), f.sink); err != nil {
		t.Fatal(err)
	}
	if len(pb.restored) != 1 || !f.sink.has("is stopped (an interrupted restore") {
		t.Errorf("restored %v\n%s", pb.restored, f.sink.text())
	}
	// A logical set still needs a running server: refused as before.
	f.env.markVerified("s2")
	logical := testSet("s2", "1.0.0")
	logical.Manifest.Databases = []backup.DatabaseEntry{{Name: "notes", File: "db-notes.pgdump"}}
	wantErr(t, (&restoreStep{env: f.env, hop: "rollback", set: logical}).Run(context.Background(), f.sink), "no container of the")
}

func TestStagedCopies(t *testing.T) {
	t.Run("a physical restore point is unpacked next to the data directory; the previous one's copy goes first", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		pb := withPhysical(f)
		f.env.checkPhysical(context.Background(), f.env.Start, f.sink)
		f.backups.set = physicalSet("s1", false)
		if err := (&backupStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if f.backups.set.StagedDir() == "" || !f.sink.has("a rollback swaps it in") {
			t.Fatalf("not staged; log:\n%s", f.sink.text())
		}
		s1 := f.backups.set
		f.backups.set = physicalSet("s2", false)
		if err := (&backupStep{env: f.env, hop: "2.0.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if len(pb.unstaged) != 1 || pb.unstaged[0] != "s1" || s1.StagedDir() != "" || f.backups.set.StagedDir() == "" {
			t.Fatalf("unstaged %v, s1 %q, s2 %q", pb.unstaged, s1.StagedDir(), f.backups.set.StagedDir())
		}
		f.env.Unstage(context.Background(), steps.Result{RollbackFailed: true})
		if len(pb.unstaged) != 1 {
			t.Fatalf("a failed rollback's staged copy was removed: %v", pb.unstaged)
		}
		f.env.Unstage(context.Background(), steps.Result{Outcome: "rolled_back"})
		if len(pb.unstaged) != 2 || pb.unstaged[1] != "s2" {
			t.Fatalf("the run's end left the staged copy: %v", pb.unstaged)
		}
	})
	t.Run("no room: the run goes on, a rollback copies the base backup in", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		pb := withPhysical(f)
		pb.stageErr = backup.ErrNoRoom
		f.env.checkPhysical(context.Background(), f.env.Start, f.sink)
		f.backups.set = physicalSet("s1", false)
		if err := (&backupStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if !f.sink.has("a rollback copies it in, a longer downtime") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
}
