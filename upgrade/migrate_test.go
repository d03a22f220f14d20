package upgrade

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestMigrateOneOff(t *testing.T) {
	t.Run("the exact compose run (demo)", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.compose.output = map[string][]string{"migrate": {"INFO  [alembic] Running upgrade 3f1c2a9b7d10 -> 8e4b6d21c5a7"}}
		if err := (&migrateStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if got := f.compose.ran(); !equalStrings(got, []string{"run --rm --no-deps -T api migrate"}) {
			t.Errorf("compose %v", got)
		}
		if !f.sink.has("Running upgrade 3f1c2a9b7d10 -> 8e4b6d21c5a7") || !f.env.Changed() {
			t.Errorf("changed %v log:\n%s", f.env.Changed(), f.sink.text())
		}
	})
	t.Run("migration env, sorted", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.env.Profile.Migration.Env = map[string]string{"MODE": "migration", "A": "1"}
		if err := (&migrateStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if got := f.compose.ran(); !equalStrings(got, []string{"run --rm --no-deps -T -e A=1 -e MODE=migration api migrate"}) {
			t.Errorf("compose %v", got)
		}
	})
	t.Run("a failure wraps the migration failed", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.compose.fail = failOn("migrate", errors.New("exit status 1"))
		wantErr(t, (&migrateStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink), "the migration failed: exit status 1")
	})
	t.Run("after commands run in order (simplelogin)", func(t *testing.T) {
		f := newFixture(t, "simplelogin", "4.6.0")
		f.env.Profile.Migration.After = append(f.env.Profile.Migration.After, []string{"python", "cron.py", "--once"})
		if err := (&migrateStep{env: f.env, hop: "4.7.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"run --rm --no-deps -T app alembic upgrade head",
			"run --rm --no-deps -T app python init_app.py",
			"run --rm --no-deps -T app python cron.py --once",
		}
		if got := f.compose.ran(); !equalStrings(got, want) {
			t.Errorf("compose\n got %v\nwant %v", got, want)
		}
		if !f.sink.has("• python init_app.py") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("a failing after command is reported, the next does not run (simplelogin)", func(t *testing.T) {
		f := newFixture(t, "simplelogin", "4.6.0")
		f.env.Profile.Migration.After = append(f.env.Profile.Migration.After, []string{"python", "cron.py"})
		f.compose.fail = failOn("init_app.py", errors.New("exit status 2"))
		err := (&migrateStep{env: f.env, hop: "4.7.0"}).Run(context.Background(), f.sink)
		wantErr(t, err, "python init_app.py failed after the migration: exit status 2")
		if n := len(f.compose.runs); n != 2 {
			t.Errorf("%d runs: %v", n, f.compose.ran())
		}
	})
	t.Run("the migration fails: no after command runs (simplelogin)", func(t *testing.T) {
		f := newFixture(t, "simplelogin", "4.6.0")
		f.compose.fail = failOn("alembic", errFake)
		wantErr(t, (&migrateStep{env: f.env, hop: "4.7.0"}).Run(context.Background(), f.sink), "the migration failed")
		if n := len(f.compose.runs); n != 1 {
			t.Errorf("%d runs: %v", n, f.compose.ran())
		}
	})
	t.Run("the profile's timeout bounds the migration", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.env.Profile.Migration.Timeout = "1ms"
		var deadline time.Time
		step := &migrateStep{env: f.env, hop: "1.1.0"}
		ctx := context.Background()
		cw := &ctxCompose{fakeCompose: f.compose, seen: func(ctx context.Context) { deadline, _ = ctx.Deadline() }}
		f.env.Compose = cw
		if err := step.Run(ctx, f.sink); err != nil {
			t.Fatal(err)
		}
		if deadline.IsZero() || time.Until(deadline) > time.Second {
			t.Errorf("deadline %v", deadline)
		}
	})
	t.Run("mode none does nothing", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.env.Profile.Migration.Mode = "none"
		if err := (&migrateStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil || len(f.compose.runs) != 0 {
			t.Errorf("err %v runs %v", err, f.compose.ran())
		}
	})
}

// ctxCompose lets a test see the context a compose run gets.
type ctxCompose struct {
	*fakeCompose
	seen func(context.Context)
}

func (c *ctxCompose) Run(ctx context.Context, line func(string), args ...string) error {
	c.seen(ctx)
	return c.fakeCompose.Run(ctx, line, args...)
}
