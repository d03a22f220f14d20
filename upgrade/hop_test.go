package upgrade

import (
	"context"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// runHop runs a whole plan with the runner, approving every step, on a demo
// stack that follows the run (detect sees the version the run installed).
func runHop(t *testing.T, f *fixture, p *steps.Plan) (steps.Result, []steps.Event) {
	t.Helper()
	noRetry(t)
	if f.env.Profile.Name == "upshift-demo" {
		demoMounts(f)
	} else {
		maibotMounts(t, f)
	}
	f.det.fn = func() *detect.Result {
		d := f.atVersion(f.env.Current())
		for name, c := range d.Containers {
			c.Mounts = f.env.Start.Containers[name].Mounts
			d.Containers[name] = c
		}
		return d
	}
	var evs []steps.Event
	r := &steps.Runner{
		Emit: func(ev steps.Event) { evs = append(evs, ev) },
		Decide: func(_ context.Context, ev steps.Event) (steps.Decision, error) {
			return steps.Decision{Step: ev.Step, Approve: true}, nil
		},
		Redact: f.env.Redactor(),
	}
	return r.Run(context.Background(), p, 0), evs
}

func demoHop(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, "upshift-demo", "1.0.0")
	f.env.BuiltinEnvTemplate = demoTemplate
	demoTemplates["1.1.0"] = demoTemplates["1.0.0"]
	t.Cleanup(func() { delete(demoTemplates, "1.1.0") })
	writeFile(t, f.env.EnvPath(), "APP_VERSION=1.0.0\nNOTES_SECRET=admin-secret-123\n")
	f.backups.set = testSet("s1", "1.0.0")
	return f
}

// A whole hop of the demo through the runner: the outside calls in order.
func TestHopDemo(t *testing.T) {
	f := demoHop(t)
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}})
	res, _ := runHop(t, f, p)
	if res.Outcome != steps.OutcomeSuccess || res.Backup != "s1" || res.Reached != "1.1.0" {
		t.Fatalf("result %+v", res)
	}
	want := []string{
		"backup create", "backup verify s1",
		"pull upshift-demo/app:1.1.0",
		"stop --timeout 20 api worker",
		"run --rm --no-deps -T api migrate",
		"up --detach --wait --wait-timeout 180 --remove-orphans",
		"rmi upshift-demo/app:1.0.0",
	}
	var got []string
	for _, c := range f.calls.list() {
		for _, w := range want {
			if strings.HasSuffix(c, w) {
				got = append(got, w)
			}
		}
	}
	if !equalStrings(got, want) {
		t.Errorf("calls\n got %v\nwant %v\nall %v", got, want, f.calls.list())
	}
	if v := envValue(t, f.env.EnvPath(), "APP_VERSION"); v != "1.1.0" {
		t.Errorf("APP_VERSION=%s", v)
	}
}

// A failed migration rolls back to the restore point: stop, restore, start
// and verify the old version.
func TestHopDemoRollback(t *testing.T) {
	f := demoHop(t)
	f.compose.fail = failOn("migrate", errFake)
	f.backups.set = &backup.Set{ID: "s1", Manifest: backup.Manifest{Version: "1.0.0"}}
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}})
	res, evs := runHop(t, f, p)
	if res.Outcome != steps.OutcomeRolledBack || res.FailedStep != "1.1.0/migrate" || res.Reached != "1.0.0" {
		t.Fatalf("result %+v", res)
	}
	var started []string
	for _, ev := range evs {
		if ev.Kind == steps.EventStepStarted {
			started = append(started, ev.Step)
		}
	}
	want := append(hopIDs("1.1.0", "preflight", "backup", "images", "rehearse", "config", "stop", "migrate"), "rollback/check", "rollback/stop", "rollback/restore", "rollback/start", "rollback/verify")
	if !equalStrings(started, want) {
		t.Errorf("started\n got %v\nwant %v", started, want)
	}
	for _, ev := range evs {
		if strings.Contains(ev.Line+ev.Err+ev.Prompt, "admin-secret-123") {
			t.Errorf("a secret in an event: %+v", ev)
		}
	}
}

// With --backup-after-stop the writers stop before the dump: no late writes
// to count, the restore point holds the old .env.
func TestHopDemoBackupAfterStop(t *testing.T) {
	f := demoHop(t)
	f.env.BackupAfterStop = true
	f.db.xids = []int64{1000, 2000}
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}})
	res, _ := runHop(t, f, p)
	if res.Outcome != steps.OutcomeSuccess || res.Backup != "s1" {
		t.Fatalf("result %+v", res)
	}
	want := []string{
		"pull upshift-demo/app:1.1.0",
		"stop --timeout 20 api worker",
		"backup create", "backup verify s1",
		"run --rm --no-deps -T api migrate",
		"up --detach --wait --wait-timeout 180 --remove-orphans",
	}
	var got []string
	for _, c := range f.calls.list() {
		for _, w := range want {
			if strings.HasSuffix(c, w) {
				got = append(got, w)
			}
		}
	}
	if !equalStrings(got, want) {
		t.Errorf("calls\n got %v\nwant %v", got, want)
	}
	if f.env.LateWrites() != 0 || len(only(f.calls.list(), "db xid")) != 0 {
		t.Errorf("late writes %d", f.env.LateWrites())
	}
	// The backup read the .env before config changed it.
	if v := f.backups.created[0].Version; v != "1.0.0" {
		t.Errorf("backup version %s", v)
	}
}

// A failure before the first change (a pull) ends the run unchanged: no rollback.
func TestHopDemoPullFails(t *testing.T) {
	f := demoHop(t)
	f.docker.pullErr = errFake
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}})
	res, _ := runHop(t, f, p)
	if res.Outcome != steps.OutcomeFailed || !res.Unchanged || res.FailedStep != "1.1.0/images" || res.Reached != "1.0.0" {
		t.Fatalf("result %+v", res)
	}
	if len(only(f.calls.list(), "restore ")) != 0 || len(only(f.calls.list(), "compose stop")) != 0 {
		t.Errorf("calls %v", f.calls.list())
	}
}

// A SQLite app with consent (maibot): the hop, then a failed migration and
// its rollback, through the runner.
func TestHopMaibot(t *testing.T) {
	shortGrace(t)
	for _, c := range []struct {
		name    string
		log     string
		outcome string
		started []string
	}{
		{
			"success", "WebUI started on 0.0.0.0:8001", steps.OutcomeSuccess,
			append(hopIDs("0.11.0", "preflight", "images", "rehearse", "terms", "stop", "backup", "config", "migrate", "start", "verify"), "cleanup"),
		},
		{
			"migration error rolls back", "Traceback (most recent call last):", steps.OutcomeRolledBack,
			append(hopIDs("0.11.0", "preflight", "images", "rehearse", "terms", "stop", "backup", "config", "migrate"), "rollback/check", "rollback/stop", "rollback/restore", "rollback/start", "rollback/verify"),
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := maibotTerms(t, oldEULA)
			f.http.body = `{"status":"healthy"}`
			f.docker.logs = map[string][]string{"c-core": {"starting MaiBot", c.log}}
			set := testSet("s1", "0.10.0")
			set.Manifest.SQLite = []backup.SQLiteEntry{{}}
			f.backups.set = set
			p := Build(f.env, "0.10.0", []Hop{{Version: "0.11.0"}})
			res, evs := runHop(t, f, p)
			if res.Outcome != c.outcome {
				t.Fatalf("result %+v", res)
			}
			var started []string
			for _, ev := range evs {
				if ev.Kind == steps.EventStepStarted {
					started = append(started, ev.Step)
				}
			}
			if !equalStrings(started, c.started) {
				t.Errorf("started\n got %v\nwant %v", started, c.started)
			}
			if c.outcome == steps.OutcomeRolledBack {
				if got := only(f.calls.list(), "restore "); !equalStrings(got, []string{"restore config", "restore images", "restore volumes", "restore sqlite"}) {
					t.Errorf("restore calls %v", got)
				}
				if res.Reached != "0.10.0" {
					t.Errorf("reached %s", res.Reached)
				}
			}
		})
	}
}

// A failure in the second hop rolls back to the last good version: the
// restore point taken at the start of that hop (1.1.0, verified), so
// nothing written while 1.1.0 ran is lost; --rollback-to start goes back
// to the run's first one.
// failSecondMigration makes the second hop's migration fail.
func failSecondMigration(f *fixture) {
	migrations := 0
	f.compose.fail = func(args []string) error {
		if args[len(args)-1] == "migrate" {
			migrations++
			if migrations == 2 {
				return errFake
			}
		}
		return nil
	}
	f.backups.perVersion = true
}

func TestHopDemoTwoHopsRollback(t *testing.T) {
	f := demoHop(t)
	failSecondMigration(f)
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}, {Version: "2.0.0"}})
	res, evs := runHop(t, f, p)
	if res.Outcome != steps.OutcomeRolledBack || res.FailedStep != "2.0.0/migrate" || res.Backup != "s2-1.1.0" || res.Reached != "1.1.0" {
		t.Fatalf("result %+v", res)
	}
	if n := len(only(f.calls.list(), "backup create")); n != 2 {
		t.Errorf("%d backups, want one per hop", n)
	}
	var last []string
	for _, ev := range evs {
		if ev.Kind == steps.EventStepStarted {
			last = append(last, ev.Step)
		}
	}
	if got := last[len(last)-6:]; !equalStrings(got, []string{"2.0.0/migrate", "rollback/check", "rollback/stop", "rollback/restore", "rollback/start", "rollback/verify"}) {
		t.Errorf("last steps %v", got)
	}
}

func TestHopDemoTwoHopsRollbackToStart(t *testing.T) {
	f := demoHop(t)
	failSecondMigration(f)
	f.env.RollbackTo = RollbackStart
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}, {Version: "2.0.0"}})
	res, _ := runHop(t, f, p)
	if res.Outcome != steps.OutcomeRolledBack || res.Backup != "s1-1.0.0" || res.Reached != "1.0.0" {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(res.Message, "--rollback-to start") {
		t.Errorf("the message must say the later versions' writes are not in it: %s", res.Message)
	}
}
