package upgrade

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

func TestPreflight(t *testing.T) {
	cases := []struct {
		name     string
		app      string
		from, to string
		running  string // version detect reports; default from
		setup    func(t *testing.T, f *fixture)
		wantErr  []string // nil: success
		wantLogs []string
	}{
		{
			name: "all checks pass (demo)", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			wantLogs: []string{
				"✓ Docker engine 27.3.1 (API 1.47)", "✓ docker compose 2.29.7",
				"✓ PostgreSQL 16.4 reachable at service db", "✓ schema alembic head 3f1c2a9b7d10, not dirty",
				"✓ free space for a backup of about", "• image upshift-demo/app:1.1.0 will be pulled before any downtime",
			},
		},
		{
			name: "target image already here", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			setup: func(_ *testing.T, f *fixture) {
				f.docker.images["upshift-demo/app:1.1.0"] = dockerx.Image{ID: "sha256:x"}
			},
			wantLogs: []string{"✓ image upshift-demo/app:1.1.0 is here"},
		},
		{
			name: "target image built here", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			setup: func(_ *testing.T, f *fixture) {
				f.env.BuildImage = func(context.Context, string, func(string)) error { return nil }
			},
			wantLogs: []string{"✓ image upshift-demo/app:1.1.0 will be built here"},
		},
		{
			name: "an unknown running version is not refused", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			setup: func(_ *testing.T, f *fixture) { f.det.res.Report.Version = "unknown (api is stopped)" },
		},
		{
			name: "v prefix is the same version", app: "upshift-demo", from: "v1.0.0", to: "1.1.0",
		},
		{
			name: "docker down", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			setup:   func(_ *testing.T, f *fixture) { f.docker.serverErr = dockerx.ErrUnreachable },
			wantErr: []string{"the Docker engine", "unreachable"},
		},
		{
			name: "docker compose missing", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			setup:   func(_ *testing.T, f *fixture) { f.compose.versionErr = dockerx.ErrComposeMissing },
			wantErr: []string{"docker compose v2 is not available"},
		},
		{
			name: "detection fails", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			setup:   func(_ *testing.T, f *fixture) { f.det.err = errors.New("no compose file found") },
			wantErr: []string{"no compose file found"},
		},
		{
			name: "database unreachable", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			setup: func(_ *testing.T, f *fixture) {
				f.det.res.Report.DB.Reachable = false
				f.det.res.Report.DB.Error = "connection refused"
			},
			wantErr: []string{"the database is not reachable: connection refused", "Nothing was changed"},
		},
		{
			name: "dirty schema", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			setup: func(_ *testing.T, f *fixture) {
				f.det.res.Report.Schema.Dirty = true
				f.det.res.Report.Schema.Failed = []string{"8e4b6d21c5a7"}
			},
			wantErr: []string{"schema is dirty", "3f1c2a9b7d10, 8e4b6d21c5a7", "Nothing was changed"},
		},
		{
			name: "wrong starting version", app: "upshift-demo", from: "1.1.0", to: "2.0.0", running: "1.0.0",
			wantErr: []string{"the stack runs 1.0.0, but this hop starts from 1.1.0", "upshift plan"},
		},
		{
			name: "not enough space", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			setup: func(_ *testing.T, f *fixture) {
				f.backups.freeErr = errors.New("need 42.0 MiB in /backups, 1.0 MiB free")
			},
			wantErr: []string{"1.0 MiB free"},
		},
		{
			name: "the estimate fails", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			setup:   func(_ *testing.T, f *fixture) { f.backups.estimateErr = errFake },
			wantErr: []string{"fake failure"},
		},
		{
			name: "a required volume is missing", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			setup: func(_ *testing.T, f *fixture) {
				c := f.det.res.Containers["api"]
				c.Mounts = nil
				f.det.res.Containers["api"] = c
			},
			wantErr: []string{`volume "uploads"`, "Nothing was changed"},
		},
		{
			name: "image inspect fails", app: "upshift-demo", from: "1.0.0", to: "1.1.0",
			setup:   func(_ *testing.T, f *fixture) { f.docker.inspectErr = errFake },
			wantErr: []string{"fake failure"},
		},
		{
			name: "DDL rights present (nightingale, needs_ddl)", app: "nightingale", from: "8.0.0", to: "8.1.0",
			setup:    n9eConfig,
			wantLogs: []string{"✓ the database role n9e may create and alter the app's tables"},
		},
		{
			name: "DDL rights missing (nightingale, needs_ddl)", app: "nightingale", from: "8.0.0", to: "8.1.0",
			setup: func(t *testing.T, f *fixture) {
				n9eConfig(t, f)
				f.db.missing = []string{"n9e does not own table alert_rule"}
			},
			wantErr: []string{"n9e does not own table alert_rule", "Nothing was changed", "OWNER TO n9e"},
		},
		{
			name: "DDL rights cannot be checked (nightingale)", app: "nightingale", from: "8.0.0", to: "8.1.0",
			setup: func(t *testing.T, f *fixture) {
				n9eConfig(t, f)
				f.db.rightsErr = errFake
			},
			wantErr: []string{"check the database role's rights", "fake failure"},
		},
		{
			name: "the app's own config is missing (nightingale)", app: "nightingale", from: "8.0.0", to: "8.1.0",
			wantErr: []string{"read the app's database settings", "Nothing was changed"},
		},
		{
			name: "SQLite readable (maibot)", app: "maibot", from: "0.10.0", to: "0.11.0",
			setup:    maibotMounts,
			wantLogs: []string{"✓ SQLite database", "• the backup is taken after the app stopped"},
		},
		{
			name: "SQLite unreadable (maibot)", app: "maibot", from: "0.10.0", to: "0.11.0",
			setup: func(t *testing.T, f *fixture) {
				maibotMounts(t, f)
				f.det.res.Report.DB.Reachable = false
				f.det.res.Report.DB.Error = "file is not a database"
			},
			wantErr: []string{"the SQLite database cannot be read: file is not a database", "Nothing was changed"},
		},
		{
			name: "SQLite file mounted by no container (maibot)", app: "maibot", from: "0.10.0", to: "0.11.0",
			setup: func(t *testing.T, f *fixture) {
				maibotMounts(t, f)
				f.det.res.DB.SQLite.Container = ""
			},
			wantErr: []string{"no container of the project mounts the directory", "docker compose up -d"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			running := c.running
			if running == "" {
				running = strings.TrimPrefix(c.from, "v")
			}
			f := newFixture(t, c.app, running)
			if c.app == "upshift-demo" {
				demoMounts(f)
			}
			if c.setup != nil {
				c.setup(t, f)
			}
			s := &preflightStep{env: f.env, from: c.from, to: c.to}
			if s.Info().ID != c.to+"/preflight" {
				t.Errorf("ID %s", s.Info().ID)
			}
			err := s.Run(context.Background(), f.sink)
			if c.wantErr != nil {
				wantErr(t, err, c.wantErr...)
				return
			}
			if err != nil {
				t.Fatalf("%v\nlog:\n%s", err, f.sink.text())
			}
			for _, l := range c.wantLogs {
				if !f.sink.has(l) {
					t.Errorf("no %q in the log:\n%s", l, f.sink.text())
				}
			}
			// Preflight changes nothing.
			if f.env.Changed() || len(f.compose.runs) > 0 || len(f.docker.pulled) > 0 {
				t.Errorf("preflight changed something: %v", f.calls.list())
			}
		})
	}
}

// The free-space check asks for the backup estimate, and the DDL check is
// made as the app's own role (app_dsn), on the address upshift reaches.
func TestPreflightAsksWhatItChecks(t *testing.T) {
	f := newFixture(t, "nightingale", "8.0.0")
	n9eConfig(t, f)
	f.backups.estimate = 7 << 30
	if err := (&preflightStep{env: f.env, from: "8.0.0", to: "8.1.0"}).Run(context.Background(), f.sink); err != nil {
		t.Fatal(err)
	}
	if f.backups.freeAsked != 7<<30 {
		t.Errorf("free space asked for %d", f.backups.freeAsked)
	}
	if len(f.db.rightsFor) != 1 || f.db.rightsFor[0].User != "n9e" || f.db.rightsFor[0].Password != "n9e-pw" || f.db.rightsFor[0].Host != "172.18.0.2" {
		t.Errorf("rights checked for %+v", f.db.rightsFor)
	}
}

// demoMounts gives the demo's api container its uploads volume.
func demoMounts(f *fixture) {
	c := f.det.res.Containers["api"]
	c.Mounts = []dockerx.Mount{{Type: "volume", Name: "proj_uploads", Destination: "/data/uploads"}}
	f.det.res.Containers["api"] = c
}

// maibotMounts gives the maibot core container its bind mounts.
func maibotMounts(_ *testing.T, f *fixture) {
	c := f.det.res.Containers["core"]
	c.Mounts = []dockerx.Mount{
		{Type: "bind", Source: "data/MaiMBot", Destination: "/MaiMBot/data"},
		{Type: "bind", Source: "docker-config/mmc", Destination: "/MaiMBot/config"},
	}
	f.det.res.Containers["core"] = c
}

// n9eConfig writes nightingale's own config with its DSN, and mounts its etc.
func n9eConfig(t *testing.T, f *fixture) {
	t.Helper()
	dir := filepath.Join(f.env.Dir(), "n9eetc_pg")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "config.toml"), "[DB]\nDBType = \"postgres\"\nDSN = \"host=postgres port=5432 user=n9e dbname=n9e_v6 password=n9e-pw sslmode=disable\"\n")
	c := f.det.res.Containers["nightingale"]
	c.Mounts = []dockerx.Mount{{Type: "bind", Source: dir, Destination: "/app/etc"}}
	f.det.res.Containers["nightingale"] = c
}
