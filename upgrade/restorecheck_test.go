package upgrade

import (
	"testing"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// A restore that cannot complete does not start: the app is never stopped
// for a damaged set, a set without a database container to go into, or
// files that cannot be written.
func TestRestoreRefusedBeforeTheStop(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *fixture, set *backup.Set)
		want  string
	}{
		{"a damaged set", func(f *fixture, _ *backup.Set) { f.backups.verifyErr = errFake }, "does not verify, nothing was restored"},
		{"no database container", func(f *fixture, set *backup.Set) {
			set.Manifest.Databases = []backup.DatabaseEntry{{}}
			f.det.res.DB.Container = ""
		}, "holds a database"},
		{"a file that cannot be written", func(_ *fixture, set *backup.Set) {
			set.Manifest.Config = []backup.ConfigEntry{{Path: "/nonexistent-upshift-dir/deeper/.env", Archive: ".env"}}
		}, "cannot put its files back"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, "upshift-demo", "2.0.0")
			set := testSet("s1", "1.0.0")
			c.setup(f, set)
			p := RestorePlan(f.env, set, "restore", false)
			res := (&steps.Runner{}).Run(t.Context(), p, 0)
			if res.Outcome != steps.OutcomeFailed || res.FailedStep != "restore/check" || !res.Unchanged {
				t.Fatalf("result %+v", res)
			}
			wantErr(t, errString(res.Error), c.want)
			if len(f.compose.runs) > 0 || len(only(f.calls.list(), "restore ")) > 0 {
				t.Errorf("touched the stack: compose %v, calls %v", f.compose.ran(), f.calls.list())
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// A run killed after the stop and before its backup is resumed by starting
// the old version again.
func TestStartPlan(t *testing.T) {
	f := newFixture(t, "upshift-demo", "1.0.0")
	noRetry(t)
	p := StartPlan(f.env, "1.0.0")
	if got := stepIDs(p.Steps); !equalStrings(got, []string{"resume/start", "resume/verify"}) {
		t.Fatalf("steps %v", got)
	}
	res := (&steps.Runner{}).Run(t.Context(), p, 0)
	if res.Outcome != steps.OutcomeSuccess || res.Reached != "1.0.0" {
		t.Fatalf("result %+v", res)
	}
}

// A resumed rollback counts the writes its restore point lacks (the killed
// run may have died before its stop said so), after the stop and before the
// restore, and the result says it.
func TestResumedRollbackCountsLateWrites(t *testing.T) {
	f := newFixture(t, "upshift-demo", "2.0.0")
	set := testSet("s1", "2.0.0")
	f.env.AddRestorePoint(set)
	f.env.ResumeLateWrites(1000)
	f.db.xids = []int64{1012}
	if err := (&restoreStep{env: f.env, hop: "rollback", set: set}).Run(t.Context(), f.sink); err != nil {
		t.Fatal(err)
	}
	if n := f.env.LateWrites(); n != 12 {
		t.Fatalf("late writes %d, want 12", n)
	}
	if !f.sink.has("12 write transaction(s)") || f.env.rollbackNote() == "" {
		t.Errorf("not said: log\n%s\nnote %q", f.sink.text(), f.env.rollbackNote())
	}
}
