package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

var _ Engine = (*fakeEngine)(nil)

// t0 pins every clock in the tests.
var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// fakeStep is one scripted step of a fake run.
type fakeStep struct {
	info     steps.StepInfo
	prompt   string // sent with EventConfirm when info.Confirm
	logs     []string
	progress []int64 // Done values against progressTotal
	fail     string  // error: the step fails and the run rolls back
	hold     bool    // wait for release (or ctx) after the logs
	dur      time.Duration
}

const progressTotal = 48 << 20

// fakeEngine is a hand-written Engine: fixed answers and a scripted run.
type fakeEngine struct {
	overview  Overview
	targets   []Target
	plans     map[string]PlanView
	runs      map[string][]fakeStep
	rollback  []fakeStep
	detectErr error

	detectGate chan struct{} // nil: Detect answers at once
	release    chan struct{} // hold points wait on it
	decisions  []steps.Decision
}

func (f *fakeEngine) Detect(ctx context.Context) (Overview, error) {
	if f.detectGate != nil {
		select {
		case <-f.detectGate:
		case <-ctx.Done():
			return Overview{}, ctx.Err()
		}
	}
	return f.overview, f.detectErr
}

func (f *fakeEngine) Targets(context.Context) ([]Target, error) { return f.targets, nil }

func (f *fakeEngine) Plan(_ context.Context, to string) (PlanView, error) {
	p, ok := f.plans[to]
	if !ok {
		return PlanView{}, fmt.Errorf("no release notes for %s", to)
	}
	return p, nil
}

func (f *fakeEngine) Run(ctx context.Context, to string, events chan<- steps.Event, decisions <-chan steps.Decision) {
	defer close(events)
	clock := t0
	send := func(ev steps.Event) {
		clock = clock.Add(100 * time.Millisecond)
		ev.Time = clock
		events <- ev // the TUI always drains; the fake does not need select
	}
	script := f.runs[to]
	from := f.overview.Version
	plan := make([]steps.StepInfo, 0, len(script))
	for _, st := range script {
		plan = append(plan, st.info)
	}
	send(steps.Event{Kind: steps.EventPlan, Plan: plan})
	done := func(r steps.Result) {
		r.From, r.To = from, to
		send(steps.Event{Kind: steps.EventDone, Result: &r})
	}
	aborted := func(id string) {
		send(steps.Event{Kind: steps.EventStepFinished, Step: id, Status: steps.StatusSkipped})
		done(steps.Result{Outcome: steps.OutcomeAborted, Reached: from, Message: "Nothing was changed. Run upshift again when you are ready."})
	}
	for _, st := range script {
		id := st.info.ID
		send(steps.Event{Kind: steps.EventStepStarted, Step: id})
		if st.info.Confirm {
			send(steps.Event{Kind: steps.EventConfirm, Step: id, Prompt: st.prompt})
			select {
			case d := <-decisions:
				f.decisions = append(f.decisions, d)
				if !d.Approve {
					aborted(id)
					return
				}
			case <-ctx.Done():
				aborted(id)
				return
			}
		}
		for _, l := range st.logs {
			send(steps.Event{Kind: steps.EventLog, Step: id, Line: l})
		}
		for _, p := range st.progress {
			send(steps.Event{Kind: steps.EventProgress, Step: id, Done: p, Total: progressTotal})
		}
		if st.hold {
			select {
			case <-f.release:
			case <-ctx.Done():
				send(steps.Event{Kind: steps.EventStepFinished, Step: id, Status: steps.StatusFailed, Err: "cancelled", Duration: st.dur})
				done(steps.Result{Outcome: steps.OutcomeAborted, Reached: from, FailedStep: id, Message: "Cancelled before anything was changed."})
				return
			}
		}
		if st.fail != "" {
			send(steps.Event{Kind: steps.EventStepFinished, Step: id, Status: steps.StatusFailed, Err: st.fail, Duration: st.dur})
			send(steps.Event{Kind: steps.EventRollingBack, Err: st.info.Name + " failed: " + st.fail})
			var rbPlan []steps.StepInfo
			for _, rb := range f.rollback {
				rbPlan = append(rbPlan, rb.info)
			}
			send(steps.Event{Kind: steps.EventPlan, Plan: append(plan, rbPlan...)})
			for _, rb := range f.rollback {
				send(steps.Event{Kind: steps.EventStepStarted, Step: rb.info.ID})
				for _, l := range rb.logs {
					send(steps.Event{Kind: steps.EventLog, Step: rb.info.ID, Line: l})
				}
				send(steps.Event{Kind: steps.EventStepFinished, Step: rb.info.ID, Status: steps.StatusOK, Duration: rb.dur})
			}
			done(steps.Result{
				Outcome: steps.OutcomeRolledBack, Reached: from, Backup: "20260314-092653-1.0.0",
				FailedStep: id, Error: st.fail,
				Message: "Your data is as it was before the upgrade. Read the log lines above, fix the cause, then try again.",
			})
			return
		}
		clock = clock.Add(st.dur)
		send(steps.Event{Kind: steps.EventStepFinished, Step: id, Status: steps.StatusOK, Duration: st.dur})
	}
	done(steps.Result{Outcome: steps.OutcomeSuccess, Reached: to, Backup: "20260314-092653-1.0.0"})
}

func hopSteps(hop string, migrateFails string, hold bool) []fakeStep {
	id := func(s string) string { return hop + "/" + s }
	return []fakeStep{
		{
			info: steps.StepInfo{ID: id("backup"), Hop: hop, Name: "Back up everything", Explain: "upshift saves the database, your .env and config files, and the image versions, so you can come back to this exact state."},
			logs: []string{"pg_dump: dumping table notes", "pg_dump: dumping table users", "copying .env and compose.yaml"}, progress: []int64{12 << 20, 30 << 20}, hold: hold, dur: 4200 * time.Millisecond,
		},
		{
			info: steps.StepInfo{ID: id("pull"), Hop: hop, Name: "Download the new images", Explain: "The images of " + hop + " are downloaded now, while your app still runs."},
			logs: []string{"Pulling api ... done"}, dur: 12 * time.Second,
		},
		{
			info:   steps.StepInfo{ID: id("env"), Hop: hop, Name: "Merge your .env", Confirm: true, Explain: "The new version ships a new .env.example. upshift merges it with your .env and keeps your values.", Touches: []string{".env"}},
			prompt: "--- .env (now)\n+++ .env (after)\n@@ -1,3 +1,4 @@\n APP_PORT=8080\n-WORKER_INTERVAL=100\n+WORKER_INTERVAL_MS=100\n+NOTES_WORD_COUNT=true\n", dur: 300 * time.Millisecond,
		},
		{
			info:   steps.StepInfo{ID: id("stop"), Hop: hop, Name: "Stop the app", Confirm: true, Explain: "The app and its workers stop so nothing writes to the database during the migration. The database keeps running.", Touches: []string{"api", "worker"}},
			prompt: "Your app will be down from now until the new version has started.", dur: 2 * time.Second,
		},
		{
			info: steps.StepInfo{ID: id("migrate"), Hop: hop, Name: "Migrate the database", Confirm: true, Explain: "The new version's migrations change the database schema. A one-off container runs them with your app's settings.", Touches: []string{"database upshift"}},
			logs: []string{"INFO  [alembic] Running upgrade 0002 -> 0003, add word_count", "INFO  [alembic] backfilling 1042 notes"}, fail: migrateFails, dur: 3500 * time.Millisecond,
		},
		{
			info: steps.StepInfo{ID: id("start"), Hop: hop, Name: "Start " + hop, Explain: "The services start in order; each must report healthy before the next one starts."},
			logs: []string{"api healthy after 2.1s"}, dur: 6 * time.Second,
		},
		{
			info: steps.StepInfo{ID: id("verify"), Hop: hop, Name: "Check that " + hop + " works", Explain: "upshift asks the app for its version and checks the schema head."},
			logs: []string{"version endpoint says " + hop}, dur: 800 * time.Millisecond,
		},
	}
}

func newFakeEngine() *fakeEngine {
	f := &fakeEngine{
		overview: Overview{
			Project: "demo", Dir: "/srv/upshift-demo", App: "upshift-demo", Profile: "upshift-demo",
			Version: "1.0.0", VersionSource: "image tag",
			DBEngine: "PostgreSQL", DBVersion: "16.4", DBSize: "48.2 MiB",
			SchemaTool: "alembic", SchemaHead: "0002_notes",
			Services: []ServiceRow{
				{Name: "api", Role: "app", Image: "upshift-demo:1.0.0", State: "running", Health: "healthy"},
				{Name: "worker", Role: "worker", Image: "upshift-demo:1.0.0", State: "running", Restarts: 2},
				{Name: "db", Role: "db", Image: "upshift-postgres:16", State: "running", Health: "healthy"},
			},
			Warnings: []string{"The worker restarted 2 times in the last hour."},
		},
		targets: []Target{
			{Version: "1.0.0", Current: true},
			{Version: "1.1.0", RequiredStop: true},
			{Version: "2.0.0"},
			{Version: "2.1.0", Latest: true},
		},
		release: make(chan struct{}),
		runs:    map[string][]fakeStep{},
		plans:   map[string]PlanView{},
	}
	hop11 := HopView{
		Version: "1.1.0", RequiredStop: true, Reason: "2.0.0 can only migrate a database that went through the 1.1.0 backfill",
		Warnings: []WarningView{
			{Kind: WarningRequirement, Text: "PostgreSQL 13 or newer."},
			{Kind: WarningManualAction, Text: "Set WORKER_INTERVAL_MS if you changed the worker's pace; the old key is ignored."},
		},
		NotesMarkdown: "# upshift demo 1.1.0\n\n## Features\n- Notes now carry a word count.\n\n## Upgrade notes\n- This release backfills `word_count` for every note.\n",
	}
	hop20 := HopView{
		Version: "2.0.0",
		Warnings: []WarningView{
			{Kind: WarningDeprecation, Text: "GET /api/v1/notes will be removed in 3.0.0."},
			{Kind: WarningBreaking, Text: "DATABASE_DSN is renamed to DB_URL. upshift renames it in your .env."},
		},
		NotesMarkdown: "# upshift demo 2.0.0\n\n## Breaking changes\n- `DATABASE_DSN` is now `DB_URL`.\n",
	}
	hop21 := HopView{Version: "2.1.0", NotesMarkdown: "# upshift demo 2.1.0\n\n- Faster search.\n"}
	pre := []Precondition{
		{Name: "PostgreSQL 13 or newer", OK: true, Detail: "16.4"},
		{Name: "Free disk for the backup", OK: true, Detail: "18.3 GiB free, about 52.0 MiB needed"},
	}
	mk := func(to string, hops []HopView, fail string, hold bool) {
		var script []fakeStep
		var infos []steps.StepInfo
		for i, h := range hops {
			f := ""
			if i == len(hops)-1 {
				f = fail
			}
			for _, st := range hopSteps(h.Version, f, hold && i == 0) {
				if st.fail != "" {
					st.logs = append(st.logs, "ERROR [alembic] relation \"notes_v3\" already exists", "ERROR [alembic] migration 0005 stopped halfway")
				}
				script = append(script, st)
				infos = append(infos, st.info)
			}
		}
		f.runs[to] = script
		f.plans[to] = PlanView{
			From: "1.0.0", To: to, Hops: hops, Steps: infos, Preconditions: pre,
			BackupDir: "/var/backups/upshift/demo", BackupEstimate: 52 << 20, ExpectedDowntime: 45 * time.Second,
		}
	}
	mk("1.1.0", []HopView{hop11}, "", false)
	mk("2.0.0", []HopView{hop11, hop20}, "", false)
	mk("2.1.0", []HopView{hop11, hop20, hop21}, "relation \"notes_v3\" already exists", false)
	f.rollback = []fakeStep{
		{info: steps.StepInfo{ID: "rollback/db", Name: "Restore the database"}, logs: []string{"pg_restore: restoring 4 tables"}, dur: 3 * time.Second},
		{info: steps.StepInfo{ID: "rollback/config", Name: "Restore .env and images"}, dur: 200 * time.Millisecond},
		{info: steps.StepInfo{ID: "rollback/start", Name: "Start 1.0.0 again"}, logs: []string{"api healthy after 1.8s"}, dur: 5 * time.Second},
	}
	return f
}

var errDocker = errors.New("cannot connect to the Docker daemon at unix:///var/run/docker.sock: is the docker daemon running?")
