package upgrade

import (
	"context"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

func TestStop(t *testing.T) {
	t.Run("stops exactly the writers (dify)", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		if err := (&stopStep{env: f.env, hop: "1.10.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		// Not the database, redis or nginx.
		if got := f.compose.ran(); !equalStrings(got, []string{"stop --timeout 20 api worker worker_beat web"}) {
			t.Errorf("compose %v", got)
		}
		// Stopping changes no data: a failure right after it (a backup
		// taken after the stop) only needs the writers started again.
		if f.env.Changed() {
			t.Error("the stop marks the data changed")
		}
	})
	t.Run("a compose error propagates", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.compose.fail = failOn("stop", errFake)
		wantErr(t, (&stopStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink), "fake failure")
	})
	t.Run("no writers: nothing to stop", func(t *testing.T) {
		f := newFixtureWith(t, builtin(t, "upshift-demo"), []svc{{"db", "db", "postgres:16"}}, "1.0.0")
		if err := (&stopStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if len(f.compose.runs) != 0 {
			t.Errorf("compose %v", f.compose.ran())
		}
	})
	t.Run("late writes are counted from the next transaction ID", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.env.AddRestorePoint(testSet("s1", "1.0.0"))
		f.env.xidAtBackup = 1000
		f.db.xids = []int64{1042}
		if err := (&stopStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if n := f.env.LateWrites(); n != 42 {
			t.Errorf("late writes %d", n)
		}
		if !f.sink.has("! 42 write transaction(s) were committed while the backup ran") {
			t.Errorf("log:\n%s", f.sink.text())
		}
		// Counted after the stop, once.
		if got := f.calls.list(); got[len(got)-1] != "db xid" || got[len(got)-2] != "compose stop --timeout 20 api worker" {
			t.Errorf("calls %v", got)
		}
		f.db.xids = []int64{2000}
		if err := (&stopStep{env: f.env, hop: "2.0.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if n := f.env.LateWrites(); n != 42 {
			t.Errorf("late writes %d after a second stop", n)
		}
	})
	t.Run("no late writes: nothing said", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.env.xidAtBackup = 1000
		f.db.xids = []int64{1000}
		if err := (&stopStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if f.env.LateWrites() != 0 || f.sink.has("write transaction") {
			t.Errorf("late writes %d log:\n%s", f.env.LateWrites(), f.sink.text())
		}
	})
	t.Run("the stop of a rollback does not count late writes", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.env.xidAtBackup = 1000
		f.db.xids = []int64{1042}
		if err := (&stopStep{env: f.env, hop: "rollback", all: true}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if f.env.LateWrites() != 0 || len(only(f.calls.list(), "db ")) != 0 {
			t.Errorf("late writes %d", f.env.LateWrites())
		}
	})
	t.Run("a one-off left by an earlier run is waited for", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.docker.containers = []dockerx.Container{
			{ID: "c-api", Name: "proj-api-1", State: "running"},
			{ID: "c-run", Name: "proj-api-run-1a2b", State: "running", OneOff: true},
			{ID: "c-old", Name: "proj-api-run-0000", State: "exited", OneOff: true},
		}
		if err := (&stopStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		want := []string{"docker ps proj", "docker ps proj", "docker wait c-run", "compose stop --timeout 20 api worker"}
		if got := f.calls.list(); !equalStrings(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
		if !f.sink.has("proj-api-run-1a2b exited with 0") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("a one-off that does not end is stopped", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.docker.containers = []dockerx.Container{{ID: "c-run", Name: "proj-api-run-1a2b", State: "running", OneOff: true}}
		f.docker.waitErr = context.DeadlineExceeded
		if err := (&stopStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if !equalStrings(f.docker.stopped, []string{"c-run"}) {
			t.Errorf("stopped %v", f.docker.stopped)
		}
	})
	t.Run("listing the containers fails", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.docker.listErr = errFake
		wantErr(t, (&stopStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink), "fake failure")
		if len(f.compose.runs) != 0 {
			t.Errorf("compose %v", f.compose.ran())
		}
	})
}
