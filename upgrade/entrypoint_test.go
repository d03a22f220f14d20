package upgrade

import (
	"context"
	"testing"
	"time"
)

// shortGrace makes the read-on after an error line short for a test.
func shortGrace(t *testing.T) {
	t.Helper()
	old, oldWait := entrypointErrorGrace, survivalWait
	entrypointErrorGrace, survivalWait = 20*time.Millisecond, 50*time.Millisecond
	t.Cleanup(func() { entrypointErrorGrace, survivalWait = old, oldWait })
}

// follow is a followed log: lines, then open until the watch ends.
func follow(lines ...string) func(ctx context.Context, id string, line func(string)) error {
	return func(ctx context.Context, _ string, line func(string)) error {
		for _, l := range lines {
			line(l)
		}
		<-ctx.Done()
		return ctx.Err()
	}
}

// lineAfter writes a line after a delay, still following.
func lineAfter(first []string, d time.Duration, later ...string) func(ctx context.Context, id string, line func(string)) error {
	return func(ctx context.Context, _ string, line func(string)) error {
		for _, l := range first {
			line(l)
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, l := range later {
			line(l)
		}
		<-ctx.Done()
		return ctx.Err()
	}
}

func TestMigrateEntrypoint(t *testing.T) {
	shortGrace(t)
	run := func(f *fixture, hop string) error {
		return (&migrateStep{env: f.env, hop: hop}).Run(context.Background(), f.sink)
	}
	t.Run("the success line (dify)", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.docker.logFunc = follow("Running migrations", "Database migration successful!", "Starting gunicorn")
		if err := run(f, "1.10.0"); err != nil {
			t.Fatal(err)
		}
		if got := f.compose.ran(); !equalStrings(got, []string{"up --detach --no-deps api"}) {
			t.Errorf("compose %v", got)
		}
		if want := "docker logs c-api follow=true"; !contains(f.calls.list(), want) {
			t.Errorf("calls %v", f.calls.list())
		}
		if !f.sink.has("Running migrations") || !f.env.Changed() {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("the success line, then the log ends (dify)", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.docker.logs = map[string][]string{"c-api": {"Database migration successful!"}}
		if err := run(f, "1.10.0"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an error line: the app's line is in the error (dify)", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.docker.logFunc = follow(
			"Running migrations",
			"Failed to execute database migration",
			"Traceback (most recent call last):",
			`  File "/app/api/migrations/env.py", line 1`,
			`sqlalchemy.exc.ProgrammingError: (psycopg2.errors.DuplicateTable) relation "x" already exists`,
		)
		err := run(f, "1.10.0")
		wantErr(t, err, "the migration logged an error: Failed to execute database migration", "… sqlalchemy.exc.ProgrammingError")
	})
	t.Run("an error line, then the log ends (mattermost)", func(t *testing.T) {
		f := newFixture(t, "mattermost", "10.5.0")
		f.docker.logs = map[string][]string{"c-mattermost": {`{"level":"error","msg":"Failed to apply database migrations"}`}}
		wantErr(t, run(f, "10.11.0"), "Failed to apply database migrations")
	})
	t.Run("the log ends without success (mattermost)", func(t *testing.T) {
		f := newFixture(t, "mattermost", "10.5.0")
		f.docker.logs = map[string][]string{"c-mattermost": {"starting", "exit"}}
		wantErr(t, run(f, "10.11.0"), "stopped before the migration reported success")
	})
	t.Run("settle: no error within the settle time (nightingale)", func(t *testing.T) {
		f := newFixture(t, "nightingale", "8.0.0")
		f.env.Profile.Migration.Settle = "30ms"
		f.docker.logFunc = follow("please view n9e at http://127.0.0.1:17000")
		start := time.Now()
		if err := run(f, "8.1.0"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 30*time.Millisecond {
			t.Errorf("returned after %v, before the settle time", d)
		}
		if !f.sink.has("its log is watched 30ms more") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("settle: an error line after the success line fails (nightingale)", func(t *testing.T) {
		f := newFixture(t, "nightingale", "8.0.0")
		f.env.Profile.Migration.Settle = "200ms"
		f.docker.logFunc = lineAfter(
			[]string{"http server listening on: 0.0.0.0:17000"}, 10*time.Millisecond,
			"2026-12-01 ERROR migrate/migrate.go:123 failed to create index idx_event: permission denied",
		)
		wantErr(t, run(f, "8.1.0"), "the migration logged an error", "migrate/migrate.go:123", "permission denied")
	})
	t.Run("settle: the container stops within the settle time (nightingale)", func(t *testing.T) {
		f := newFixture(t, "nightingale", "8.0.0")
		f.env.Profile.Migration.Settle = "1s"
		f.docker.logs = map[string][]string{"c-nightingale": {"http server listening on: 0.0.0.0:17000"}}
		wantErr(t, run(f, "8.1.0"), "the nightingale container stopped within 1s of its success line")
	})
	t.Run("no success line before the timeout", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.env.Profile.Migration.Timeout = "30ms"
		f.docker.logFunc = follow("Running migrations")
		wantErr(t, run(f, "1.10.0"), "no success line (Database migration successful) before the timeout", "deadline exceeded")
	})
	t.Run("compose up fails", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.compose.fail = failOn("up", errFake)
		wantErr(t, run(f, "1.10.0"), "fake failure")
	})
	t.Run("the container does not appear", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		delete(f.det.res.Containers, "api")
		wantErr(t, run(f, "1.10.0"), "the api container did not appear")
	})
	t.Run("an unusable success_log", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.env.Profile.Migration.SuccessLog = "(unclosed"
		wantErr(t, run(f, "1.10.0"), "is not a usable regexp")
		if len(f.compose.runs) != 0 {
			t.Errorf("compose %v", f.compose.ran())
		}
	})
}
