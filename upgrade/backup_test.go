package upgrade

import (
	"context"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

func TestBackup(t *testing.T) {
	t.Run("creates, verifies, sets the restore point and journals it", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		demoMounts(f)
		writeFile(t, f.env.EnvPath(), "APP_VERSION=1.0.0\nAPP_SECRET=very-secret-value\n")
		j, err := steps.NewJournal(f.env.BackupDir, steps.RunInfo{ID: "run1", Project: "proj"})
		if err != nil {
			t.Fatal(err)
		}
		f.env.Journal = j
		f.backups.set = testSet("20261201-1.0.0", "1.0.0")
		f.db.xids = []int64{1000}
		s := &backupStep{env: f.env, hop: "1.1.0"}
		if err := s.Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if got := f.env.RestorePoint(); got != f.backups.set {
			t.Errorf("restore point %v", got)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := steps.ReadJournal(j.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !equalStrings(st.Backups, []string{"20261201-1.0.0"}) {
			t.Errorf("journal backups %v", st.Backups)
		}
		// Created, then verified in the database container.
		want := []string{"backup create", "backup verify 20261201-1.0.0"}
		if got := only(f.calls.list(), "backup "); !equalStrings(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
		if !equalStrings(f.backups.verifiedIn, []string{"c-db"}) {
			t.Errorf("verified in %v", f.backups.verifiedIn)
		}
		src := f.backups.created[0]
		if src.DB == nil || src.DB.Container != "c-db" || src.DB.Password != "s3cret-pw" || src.Version != "1.0.0" || src.SchemaHead != "3f1c2a9b7d10" {
			t.Errorf("source %+v db %+v", src, src.DB)
		}
		if len(src.Volumes) != 1 || src.Volumes[0].Name != "proj_uploads" || src.Volumes[0].Container != "c-api" {
			t.Errorf("volumes %+v", src.Volumes)
		}
		if !contains(src.ConfigPaths, f.env.EnvPath()) || !contains(src.Secrets, "very-secret-value") || !contains(src.Secrets, "s3cret-pw") {
			t.Errorf("config %v secrets %d", src.ConfigPaths, len(src.Secrets))
		}
		// Each phase is named once, progress is passed on.
		if n := strings.Count(f.sink.text(), "• database"); n != 1 {
			t.Errorf("phase named %d times:\n%s", n, f.sink.text())
		}
		if len(f.sink.progress) != 2 || !f.sink.has("copied .env") || !f.sink.has("✓ backup 20261201-1.0.0 verified") {
			t.Errorf("progress %v log:\n%s", f.sink.progress, f.sink.text())
		}
		// The app keeps writing during this backup: where the dump started
		// is marked for the stop.
		if f.env.xidAtBackup != 1000 {
			t.Errorf("xid at backup %d", f.env.xidAtBackup)
		}
	})
	t.Run("a set that does not verify is an error and no restore point", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		demoMounts(f)
		f.backups.set = testSet("s1", "1.0.0")
		f.backups.verifyErr = errFake
		err := (&backupStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink)
		wantErr(t, err, "the new backup s1 does not verify", "fake failure")
		if f.env.RestorePoint() != nil {
			t.Error("a restore point that does not verify")
		}
		if len(f.compose.runs) > 0 {
			t.Errorf("the app was touched: %v", f.compose.ran())
		}
	})
	t.Run("create fails", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		demoMounts(f)
		f.backups.createErr = errFake
		wantErr(t, (&backupStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink), "fake failure")
		if f.env.RestorePoint() != nil {
			t.Error("restore point set")
		}
	})
	t.Run("after the stop, a failed backup starts the writers again", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		demoMounts(f)
		f.env.BackupAfterStop = true
		f.backups.createErr = errFake
		err := (&backupStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink)
		wantErr(t, err, "fake failure")
		if got := f.compose.ran(); !equalStrings(got, []string{"start api worker"}) {
			t.Errorf("compose %v", got)
		}
		if !f.sink.has("starting the app again") {
			t.Errorf("log:\n%s", f.sink.text())
		}
		if f.env.xidAtBackup != 0 || len(only(f.calls.list(), "db ")) != 0 {
			t.Error("late writes are counted with the writers stopped")
		}
	})
	t.Run("after the stop, the restart fails too", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		demoMounts(f)
		f.env.BackupAfterStop = true
		f.backups.verifyErr = errFake
		f.backups.set = testSet("s1", "1.0.0")
		f.compose.fail = failOn("start", errFake)
		err := (&backupStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink)
		wantErr(t, err, "does not verify", "restarting the app failed too", "docker compose start")
	})
	t.Run("after the stop of a later hop, a failed backup restarts the last good version", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.1.0")
		demoMounts(f)
		f.env.BackupAfterStop = true
		f.env.AddRestorePoint(testSet("first", "1.0.0"))
		f.backups.createErr = errFake
		wantErr(t, (&backupStep{env: f.env, hop: "2.0.0"}).Run(context.Background(), f.sink), "fake failure")
		if got := f.compose.ran(); len(got) != 1 || !strings.HasPrefix(got[0], "start") {
			t.Errorf("compose %v, want the writers started again", got)
		}
	})
	t.Run("after a data change, a failed backup leaves the rollback to the runner", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.1.0")
		demoMounts(f)
		f.env.BackupAfterStop = true
		f.env.AddRestorePoint(testSet("first", "1.0.0"))
		f.env.MarkChanged()
		f.backups.createErr = errFake
		wantErr(t, (&backupStep{env: f.env, hop: "2.0.0"}).Run(context.Background(), f.sink), "fake failure")
		if len(f.compose.runs) > 0 {
			t.Errorf("compose %v", f.compose.ran())
		}
	})
	t.Run("a later backup is the restore point of its hop (last good), the first one the origin", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.1.0")
		demoMounts(f)
		first := testSet("first", "1.0.0")
		f.env.AddRestorePoint(first)
		second := testSet("second", "1.1.0")
		f.backups.set = second
		if err := (&backupStep{env: f.env, hop: "2.0.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if f.env.RestorePoint() != second || f.env.Origin() != first {
			t.Errorf("restore point %s, origin %s", f.env.RestorePoint().ID, f.env.Origin().ID)
		}
		if len(only(f.calls.list(), "db xid")) != 1 {
			t.Error("the late writes of the hop's restore point are not marked")
		}
		f.env.RollbackTo = RollbackStart
		if f.env.RestorePoint() != first {
			t.Errorf("--rollback-to start: restore point %s", f.env.RestorePoint().ID)
		}
	})
	t.Run("with the app stopped, the version is the run's", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		demoMounts(f)
		f.env.BackupAfterStop = true
		f.det.res.Report.Version = "unknown (api is stopped)"
		f.backups.set = testSet("s1", "1.0.0")
		if err := (&backupStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if v := f.backups.created[0].Version; v != "1.0.0" {
			t.Errorf("version in the set %q", v)
		}
	})
	t.Run("SQLite: the files, no dump, verified without a database container (maibot)", func(t *testing.T) {
		f := newFixture(t, "maibot", "0.10.0")
		maibotMounts(t, f)
		f.env.BackupAfterStop = true
		f.backups.set = testSet("s1", "0.10.0")
		if err := (&backupStep{env: f.env, hop: "0.11.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		src := f.backups.created[0]
		if src.DB != nil || len(src.SQLiteFiles) != 3 || src.SQLiteFiles[1].Path != "/MaiMBot/data/MaiBot.db-wal" || src.SQLiteFiles[0].Container != "c-core" {
			t.Errorf("source db %+v sqlite %+v", src.DB, src.SQLiteFiles)
		}
		if !equalStrings(f.backups.verifiedIn, []string{""}) {
			t.Errorf("verified in %q", f.backups.verifiedIn)
		}
		if !f.sink.has("SQLite file /MaiMBot/data/MaiBot.db (container stopped)") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("an optional volume that is missing is reported (dify)", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.env.Profile.Volumes = f.env.Profile.Volumes[2:] // only the optional dify_config
		f.backups.set = testSet("s1", "1.9.1")
		if err := (&backupStep{env: f.env, hop: "1.10.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if !f.sink.has("• not in this backup: optional volume dify_config") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
}

func TestBackupInfo(t *testing.T) {
	f := newFixture(t, "upshift-demo", "1.0.0")
	if info := (&backupStep{env: f.env}).Info(); info.ID != "backup" || info.Name != "Back up" || !strings.Contains(info.Explain, "The app keeps running.") {
		t.Errorf("info %+v", info)
	}
	f.env.BackupAfterStop = true
	if info := (&backupStep{env: f.env, hop: "1.1.0"}).Info(); info.ID != "1.1.0/backup" || !strings.Contains(info.Explain, "The app is stopped") {
		t.Errorf("info %+v", info)
	}
}

// only keeps the calls that start with prefix.
func only(calls []string, prefix string) []string {
	var out []string
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}
