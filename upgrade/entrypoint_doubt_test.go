package upgrade

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// A migration error the app survives (it logs the error, then starts) is
// neither a success nor a plain failure: a Doubt with the evidence, for the
// admin (or --accept-migration-errors) to decide.
func TestEntrypointDoubt(t *testing.T) {
	shortGrace(t)
	run := func(f *fixture, hop string) error {
		return (&migrateStep{env: f.env, hop: hop}).Run(context.Background(), f.sink)
	}
	t.Run("an error, then the success line (nightingale)", func(t *testing.T) {
		f := newFixture(t, "nightingale", "8.4.1")
		f.env.Profile.Migration.Settle = ""
		f.env.Profile.Migration.KnownErrors = nil // the built-in profile knows this one
		bad := `2026-11-22 12:04:42.429377 ERROR migrate/migrate.go:26 failed to migrate table: ERROR: type "mediumtext" does not exist (SQLSTATE 42704)`
		f.docker.logFunc = follow(bad, "http server listening on: 0.0.0.0:17000")
		err := run(f, "8.5.1")
		var d *steps.Doubt
		if !errors.As(err, &d) {
			t.Fatalf("err = %v, want a Doubt", err)
		}
		if d.Line != bad || !strings.Contains(d.Evidence, "nightingale is running") {
			t.Errorf("doubt %+v", d)
		}
	})
	t.Run("a known upstream error is not a failure", func(t *testing.T) {
		f := newFixture(t, "nightingale", "8.4.1")
		f.env.Profile.Migration.Settle = ""
		f.env.Profile.Migration.KnownErrors = []profile.KnownError{{Versions: ">=8.5.1 <8.6.0", Log: `type "mediumtext" does not exist`, Reason: "n9e 8.5.1 uses a MySQL column type on PostgreSQL (upstream bug); the table works without it"}}
		f.docker.logFunc = follow(`ERROR migrate/migrate.go:26 failed to migrate table: ERROR: type "mediumtext" does not exist`, "http server listening on: 0.0.0.0:17000")
		if err := run(f, "8.5.1"); err != nil {
			t.Fatal(err)
		}
		if !f.sink.has("known upstream issue, not a failure: n9e 8.5.1 uses") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("a known error of other versions still counts", func(t *testing.T) {
		f := newFixture(t, "nightingale", "8.4.1")
		f.env.Profile.Migration.Settle = ""
		f.env.Profile.Migration.KnownErrors = []profile.KnownError{{Versions: ">=9.0.0", Log: `mediumtext`, Reason: "x"}}
		f.docker.logFunc = follow(`ERROR migrate/migrate.go:26 failed to migrate table: mediumtext`, "http server listening on: 0.0.0.0:17000")
		var d *steps.Doubt
		if err := run(f, "8.5.1"); !errors.As(err, &d) {
			t.Fatalf("err = %v, want a Doubt", err)
		}
	})
	t.Run("the watchdog names what the start waits for", func(t *testing.T) {
		old := defaultWatchdog
		defaultWatchdog = 80 * time.Millisecond
		t.Cleanup(func() { defaultWatchdog = old })
		f := newFixture(t, "nightingale", "8.4.1")
		f.docker.logFunc = follow("Waiting for host: redis:6379")
		start := time.Now()
		wantErr(t, run(f, "8.5.1"), "no progress for 80ms", `"Waiting for host: redis:6379"`, "dependency")
		if time.Since(start) > 5*time.Second {
			t.Error("the watchdog did not fire in time")
		}
	})
	t.Run("watchdog off", func(t *testing.T) {
		f := newFixture(t, "nightingale", "8.4.1")
		f.env.Profile.Migration.Watchdog = "off"
		f.env.Profile.Migration.Timeout = "150ms"
		f.docker.logFunc = follow("Waiting for host: redis:6379")
		wantErr(t, run(f, "8.5.1"), "before the timeout")
	})
}

// The runner asks about a Doubt; yes keeps the version (journaled), no
// rolls back.
func TestRunnerSettlesDoubt(t *testing.T) {
	for _, keep := range []bool{true, false} {
		var asked steps.Event
		r := &steps.Runner{Decide: func(_ context.Context, ev steps.Event) (steps.Decision, error) {
			asked = ev
			return steps.Decision{Step: ev.Step, Approve: keep}, nil
		}}
		p := &steps.Plan{From: "1", To: "2", Steps: []steps.Step{doubtStep{}}}
		res := r.Run(context.Background(), p, 0)
		if !asked.Doubt || asked.Line != "ERROR x" || !strings.Contains(asked.Prompt, "api is running") {
			t.Fatalf("asked %+v", asked)
		}
		if keep != (res.Outcome == steps.OutcomeSuccess) {
			t.Fatalf("keep=%v: result %+v", keep, res)
		}
	}
}

type doubtStep struct{}

func (doubtStep) Info() steps.StepInfo { return steps.StepInfo{ID: "2/migrate", Name: "Migrate"} }

func (doubtStep) Run(context.Context, steps.Sink) error {
	return &steps.Doubt{Line: "ERROR x", Evidence: "api is running, healthy."}
}
