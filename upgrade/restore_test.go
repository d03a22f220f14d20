package upgrade

import (
	"context"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/backup"
)

func TestRestore(t *testing.T) {
	t.Run("PostgreSQL: verified, then config, images, database, volumes (dify)", func(t *testing.T) {
		f := newFixture(t, "dify", "1.10.0")
		set := testSet("s1", "1.9.1")
		if err := (&restoreStep{env: f.env, hop: "rollback", set: set}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		want := []string{"backup verify s1", "restore config", "restore images", "restore database", "restore volumes"}
		if got := append(only(f.calls.list(), "backup "), only(f.calls.list(), "restore ")...); !equalStrings(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
		if !equalStrings(f.backups.verifiedIn, []string{"c-db_postgres"}) || !equalStrings(f.backups.restoreDirs, []string{f.env.Dir()}) {
			t.Errorf("verified in %v restored into %v", f.backups.verifiedIn, f.backups.restoreDirs)
		}
		db := f.backups.restoredDB[0]
		if db.Container != "c-db_postgres" || db.User != "app" || db.Database != "app" || !equalStrings(db.Extra, []string{"dify_plugin"}) {
			t.Errorf("database %+v", db)
		}
		if f.env.Current() != "1.9.1" {
			t.Errorf("Current() %s", f.env.Current())
		}
		if len(f.sink.progress) == 0 || !f.sink.has("pg_restore: done") {
			t.Errorf("progress %v log:\n%s", f.sink.progress, f.sink.text())
		}
	})
	t.Run("SQLite: into the container that mounts the file now (maibot)", func(t *testing.T) {
		f := newFixture(t, "maibot", "0.11.0")
		set := testSet("s1", "0.10.0")
		set.Manifest.SQLite = []backup.SQLiteEntry{{}}
		if err := (&restoreStep{env: f.env, hop: "rollback", set: set}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		want := []string{"restore config", "restore images", "restore volumes", "restore sqlite"}
		if got := only(f.calls.list(), "restore "); !equalStrings(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
		if !equalStrings(f.backups.sqliteInto, []string{"c-core"}) || !equalStrings(f.backups.verifiedIn, []string{""}) {
			t.Errorf("into %v verified in %q", f.backups.sqliteInto, f.backups.verifiedIn)
		}
	})
	t.Run("a set that does not verify: nothing restored", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "2.0.0")
		f.backups.verifyErr = errFake
		err := (&restoreStep{env: f.env, hop: "rollback", set: testSet("s1", "1.0.0")}).Run(context.Background(), f.sink)
		wantErr(t, err, "backup s1 does not verify, nothing was restored", "fake failure")
		if got := only(f.calls.list(), "restore "); len(got) != 0 {
			t.Errorf("restored %v", got)
		}
		if f.env.Current() != "2.0.0" {
			t.Errorf("Current() %s", f.env.Current())
		}
	})
	for _, failing := range []string{"config", "images", "database", "volumes"} {
		t.Run("a failing "+failing+" restore stops there", func(t *testing.T) {
			f := newFixture(t, "upshift-demo", "2.0.0")
			f.backups.restoreErr = map[string]error{failing: errFake}
			err := (&restoreStep{env: f.env, hop: "rollback", set: testSet("s1", "1.0.0")}).Run(context.Background(), f.sink)
			wantErr(t, err, "fake failure")
			got := only(f.calls.list(), "restore ")
			if got[len(got)-1] != "restore "+failing {
				t.Errorf("calls %v", got)
			}
			if f.env.Current() != "2.0.0" {
				t.Errorf("Current() %s", f.env.Current())
			}
		})
	}
	t.Run("info names the set and asks only when told", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "2.0.0")
		set := testSet("s1", "1.0.0")
		if info := (&restoreStep{env: f.env, set: set, confirm: true}).Info(); info.ID != "restore" || !info.Confirm || info.Name != "Restore backup s1" {
			t.Errorf("info %+v", info)
		}
	})
	t.Run("a PostgreSQL set while no database container is found: nothing restored", func(t *testing.T) {
		f := newFixture(t, "dify", "1.10.0")
		f.det.res.DB.Container = ""
		set := testSet("s1", "1.9.1")
		set.Manifest.Databases = []backup.DatabaseEntry{{}}
		err := (&restoreStep{env: f.env, hop: "rollback", set: set}).Run(context.Background(), f.sink)
		wantErr(t, err, "holds a database", "nothing was restored", "upshift restore s1")
		if got := only(f.calls.list(), "restore "); len(got) != 0 {
			t.Errorf("restored %v without the database", got)
		}
	})
}
