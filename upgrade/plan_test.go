package upgrade

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

func stepIDs(st []steps.Step) []string {
	out := make([]string, 0, len(st))
	for _, s := range st {
		out = append(out, s.Info().ID)
	}
	return out
}

func stepInfo(t *testing.T, st []steps.Step, id string) steps.StepInfo {
	t.Helper()
	for _, s := range st {
		if s.Info().ID == id {
			return s.Info()
		}
	}
	t.Fatalf("no step %s in %v", id, stepIDs(st))
	return steps.StepInfo{}
}

// hopIDs are the IDs of names in the hop to version.
func hopIDs(version string, names ...string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, version+"/"+n)
	}
	return out
}

// The order of the steps of a hop, for each kind of app, is pinned here.
func TestBuildStepOrder(t *testing.T) {
	cases := []struct {
		name            string
		app, from       string
		hops            []string
		backupAfterStop bool
		noMigration     bool
		want            []string
	}{
		{
			name: "one-off migration, .env apply (demo)", app: "upshift-demo", from: "1.0.0", hops: []string{"1.1.0"},
			want: append(hopIDs("1.1.0", "preflight", "backup", "images", "rehearse", "config", "stop", "migrate", "start", "verify"), "cleanup"),
		},
		{
			name: "two hops, one clean-up at the end (demo)", app: "upshift-demo", from: "1.0.0", hops: []string{"1.1.0", "2.0.0"},
			// Both migrations are rehearsed before the first downtime.
			want: append(append(
				hopIDs("1.1.0", "preflight", "backup", "images", "rehearse"),
				append(hopIDs("2.0.0", "images", "rehearse"),
					append(hopIDs("1.1.0", "config", "stop", "migrate", "start", "verify"),
						hopIDs("2.0.0", "preflight", "backup", "config", "stop", "migrate", "start", "verify")...)...)...), "cleanup"),
		},
		{
			name: "backup after the stop (demo)", app: "upshift-demo", from: "1.0.0", hops: []string{"1.1.0"}, backupAfterStop: true,
			want: append(hopIDs("1.1.0", "preflight", "images", "rehearse", "stop", "backup", "config", "migrate", "start", "verify"), "cleanup"),
		},
		{
			name: "entrypoint migration, image-tag apply (dify)", app: "dify", from: "1.9.1", hops: []string{"1.10.0"},
			want: append(hopIDs("1.10.0", "preflight", "backup", "images", "rehearse", "config", "stop", "migrate", "start", "verify"), "cleanup"),
		},
		{
			name: "entrypoint migration with settle and needs_ddl (nightingale)", app: "nightingale", from: "8.0.0", hops: []string{"8.1.0"},
			want: append(hopIDs("8.1.0", "preflight", "backup", "images", "rehearse", "config", "stop", "migrate", "start", "verify"), "cleanup"),
		},
		{
			name: "entrypoint migration, .env apply (mattermost)", app: "mattermost", from: "10.5.0", hops: []string{"10.11.0"},
			want: append(hopIDs("10.11.0", "preflight", "backup", "images", "rehearse", "config", "stop", "migrate", "start", "verify"), "cleanup"),
		},
		{
			name: "one-off migration with after (simplelogin)", app: "simplelogin", from: "4.6.0", hops: []string{"4.7.0"},
			want: append(hopIDs("4.7.0", "preflight", "backup", "images", "rehearse", "config", "stop", "migrate", "start", "verify"), "cleanup"),
		},
		{
			name: "SQLite and consent: terms before the stop, backup after it (maibot)", app: "maibot", from: "0.10.0", hops: []string{"0.11.0"},
			want: append(hopIDs("0.11.0", "preflight", "images", "rehearse", "terms", "stop", "backup", "config", "migrate", "start", "verify"), "cleanup"),
		},
		{
			name: "no migration step (mode none)", app: "upshift-demo", from: "1.0.0", hops: []string{"1.1.0"}, noMigration: true,
			want: append(hopIDs("1.1.0", "preflight", "backup", "images", "config", "stop", "start", "verify"), "cleanup"),
		},
		{
			name: "no hops, no clean-up", app: "upshift-demo", from: "1.0.0",
			want: []string{},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.app, c.from)
			f.env.BackupAfterStop = c.backupAfterStop
			if c.noMigration {
				f.env.Profile.Migration.Mode = "none"
			}
			var hops []Hop
			for _, h := range c.hops {
				hops = append(hops, Hop{Version: h})
			}
			p := Build(f.env, c.from, hops)
			if got := stepIDs(p.Steps); !equalStrings(got, c.want) {
				t.Errorf("steps\n got %v\nwant %v", got, c.want)
			}
			if p.From != c.from {
				t.Errorf("From %q", p.From)
			}
			if len(c.hops) > 0 && p.To != c.hops[len(c.hops)-1] {
				t.Errorf("To %q", p.To)
			}
			if f.env.Current() != c.from {
				t.Errorf("Current() %q before the run, want %q", f.env.Current(), c.from)
			}
		})
	}
}

// A SQLite app always backs up after the stop, whatever was asked.
func TestBuildSQLiteForcesBackupAfterStop(t *testing.T) {
	f := newFixture(t, "maibot", "0.10.0")
	Build(f.env, "0.10.0", []Hop{{Version: "0.11.0"}})
	if !f.env.BackupAfterStop {
		t.Error("BackupAfterStop is false for a SQLite app")
	}
}

func TestBuildStepInfo(t *testing.T) {
	t.Run("migration.after is listed in the migrate step's Touches (simplelogin)", func(t *testing.T) {
		f := newFixture(t, "simplelogin", "4.6.0")
		p := Build(f.env, "4.6.0", []Hop{{Version: "4.7.0"}})
		got := stepInfo(t, p.Steps, "4.7.0/migrate").Touches
		want := []string{
			"docker compose run --rm --no-deps app alembic upgrade head",
			"docker compose run --rm --no-deps app python init_app.py",
		}
		if !equalStrings(got, want) {
			t.Errorf("Touches\n got %q\nwant %q", got, want)
		}
	})
	t.Run("entrypoint migration touches the service (dify)", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		p := Build(f.env, "1.9.1", []Hop{{Version: "1.10.0"}})
		if got := stepInfo(t, p.Steps, "1.10.0/migrate").Touches; !equalStrings(got, []string{"docker compose up -d --no-deps api"}) {
			t.Errorf("Touches %q", got)
		}
	})
	t.Run("image-tag apply: config touches .env and the compose files (dify)", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		p := Build(f.env, "1.9.1", []Hop{{Version: "1.10.0"}})
		got := stepInfo(t, p.Steps, "1.10.0/config").Touches
		want := append([]string{f.env.EnvPath()}, f.env.Project.Files...)
		if !equalStrings(got, want) {
			t.Errorf("Touches %q, want %q", got, want)
		}
	})
	t.Run(".env apply: config touches .env and the templated compose.yaml only (demo)", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		p := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}})
		if got := stepInfo(t, p.Steps, "1.1.0/config").Touches; !equalStrings(got, []string{f.env.EnvPath(), filepath.Join(f.env.Dir(), "compose.yaml")}) {
			t.Errorf("Touches %q", got)
		}
	})
	t.Run("the images of the hop are the app images at the new tag (dify)", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		p := Build(f.env, "1.9.1", []Hop{{Version: "1.10.0"}})
		want := []string{"langgenius/dify-api:1.10.0", "langgenius/dify-web:1.10.0"}
		if got := stepInfo(t, p.Steps, "1.10.0/images").Touches; !equalStrings(got, want) {
			t.Errorf("Touches %q, want %q", got, want)
		}
	})
	t.Run("stop names the writers and asks (dify)", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		p := Build(f.env, "1.9.1", []Hop{{Version: "1.10.0"}})
		info := stepInfo(t, p.Steps, "1.10.0/stop")
		if want := "docker compose stop api worker worker_beat web"; !equalStrings(info.Touches, []string{want}) || !info.Confirm {
			t.Errorf("stop %+v", info)
		}
	})
	t.Run("terms is a consent, cleanup is optional (maibot)", func(t *testing.T) {
		f := newFixture(t, "maibot", "0.10.0")
		p := Build(f.env, "0.10.0", []Hop{{Version: "0.11.0"}})
		if info := stepInfo(t, p.Steps, "0.11.0/terms"); !info.Consent || !info.Confirm {
			t.Errorf("terms %+v", info)
		}
		if info := stepInfo(t, p.Steps, "cleanup"); !info.Optional || !info.Confirm {
			t.Errorf("cleanup %+v", info)
		}
		if info := stepInfo(t, p.Steps, "0.11.0/backup"); !strings.Contains(info.Explain, "SQLite") {
			t.Errorf("backup explain %q", info.Explain)
		}
	})
}

func TestRestoreSteps(t *testing.T) {
	cases := []struct {
		name, app, hop string
		confirm        bool
		want           []string
	}{
		{"rollback of a PostgreSQL app", "upshift-demo", "rollback", false, []string{"rollback/check", "rollback/stop", "rollback/restore", "rollback/start", "rollback/verify"}},
		{"upshift restore of a PostgreSQL app", "upshift-demo", "", true, []string{"check", "stop", "restore", "start", "verify"}},
		{"rollback of a SQLite app", "maibot", "rollback", false, []string{"rollback/check", "rollback/stop", "rollback/restore", "rollback/start", "rollback/verify"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.app, "2.0.0")
			set := testSet("20261130-120000-1.0.0", "1.0.0")
			st := RestoreSteps(f.env, set, c.hop, c.confirm)
			if got := stepIDs(st); !equalStrings(got, c.want) {
				t.Errorf("steps\n got %v\nwant %v", got, c.want)
			}
			if st[0].Info().Confirm || st[1].Info().Confirm {
				t.Error("the check and the stop of a restore ask (the restore step asks, or nothing does)")
			}
			if st[2].Info().Confirm != c.confirm {
				t.Errorf("restore Confirm %v, want %v", st[2].Info().Confirm, c.confirm)
			}
			if name := st[3].Info().Name; name != "Start 1.0.0" {
				t.Errorf("start names %q, want the backup's version", name)
			}
		})
	}
	t.Run("RestorePlan", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "2.0.0")
		set := testSet("s1", "1.0.0")
		p := RestorePlan(f.env, set, "", true)
		if p.From != "2.0.0" || p.To != "1.0.0" || !p.Restoring || p.Backup() != "s1" || p.Reached() != "2.0.0" {
			t.Errorf("plan %+v", p)
		}
		if got := stepIDs(p.Steps); !equalStrings(got, []string{"check", "stop", "restore", "start", "verify"}) {
			t.Errorf("steps %v", got)
		}
	})
}

func TestBackupPlan(t *testing.T) {
	cases := []struct {
		name, app string
		want      []string
		afterStop bool
	}{
		{"PostgreSQL: the app keeps running", "upshift-demo", []string{"backup"}, false},
		{"SQLite: stop, copy, start, verify", "maibot", []string{"stop", "backup", "start", "verify"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.app, "1.0.0")
			p := BackupPlan(f.env)
			if got := stepIDs(p.Steps); !equalStrings(got, c.want) {
				t.Errorf("steps %v, want %v", got, c.want)
			}
			if f.env.BackupAfterStop != c.afterStop {
				t.Errorf("BackupAfterStop %v", f.env.BackupAfterStop)
			}
			if p.From != "1.0.0" || p.To != "1.0.0" || p.Backup() != "" {
				t.Errorf("plan %+v backup %q", p, p.Backup())
			}
			f.env.AddRestorePoint(testSet("s1", "1.0.0"))
			if p.Backup() != "s1" {
				t.Errorf("Backup() %q after the set", p.Backup())
			}
		})
	}
}

// The rollback exists only once there is a restore point and something changed.
func TestBuildRollback(t *testing.T) {
	f := newFixture(t, "upshift-demo", "1.0.0")
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}})
	if p.Rollback() != nil || p.Backup() != "" {
		t.Error("a rollback without a restore point")
	}
	f.env.AddRestorePoint(testSet("s1", "1.0.0"))
	if p.Rollback() != nil {
		t.Error("a rollback before anything changed")
	}
	f.env.MarkChanged()
	if got := stepIDs(p.Rollback()); !equalStrings(got, []string{"rollback/check", "rollback/stop", "rollback/restore", "rollback/start", "rollback/verify"}) {
		t.Errorf("rollback %v", got)
	}
	if p.Backup() != "s1" {
		t.Errorf("Backup() %q", p.Backup())
	}
	if p.RollbackNote() != "" {
		t.Errorf("note %q without late writes", p.RollbackNote())
	}
	f.env.lateWrites = map[string]int64{"s1": 3}
	if n := p.RollbackNote(); !strings.Contains(n, "3 write transaction(s)") {
		t.Errorf("note %q", n)
	}
}
