package detect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

// TestOfflineFacts reads real-shaped layouts of the five apps (the shared
// ones under testdata/apps and the variants under detect/testdata) from
// their files alone and checks every fact detect reports from files.
func TestOfflineFacts(t *testing.T) {
	type want struct {
		app, version, source, location string
		floating                       bool
		engine, dbService, server      string
		major                          int
		supported                      bool
		roles                          map[string]string
		migMode, migService            string
		migEnabled                     *bool
		warnings, noWarnings           []string
	}
	yes := true
	tests := []struct {
		name  string
		dir   string
		files []string
		want  want
	}{
		{"dify", "../testdata/apps/dify", nil, want{
			app: "dify", version: "1.13.3", source: "compose image tag of api", location: "compose:api.image",
			engine: profile.EnginePostgres, dbService: "db_postgres", server: "15", major: 15, supported: true,
			roles:   map[string]string{"init_permissions": profile.RoleJob, "api": profile.RoleApp, "db_postgres": profile.RoleDB},
			migMode: profile.MigrateEntrypoint, migService: "api", migEnabled: &yes,
			noWarnings: []string{"db_postgres is defined but not active", "conf.d"},
		}},
		{"dify DB_TYPE=mysql", "testdata/dify-mysql", nil, want{
			app: "dify", version: "1.13.3", source: "compose image tag of api", location: "compose:api.image",
			engine: profile.EngineMySQL, dbService: "db_mysql", server: "8.0", major: 8, supported: false,
			roles:   map[string]string{"db_mysql": profile.RoleDB},
			migMode: profile.MigrateEntrypoint, migService: "api",
			warnings: []string{"the database is MySQL (from env DB_TYPE of api)", "does not support yet", "db_postgres is defined but not active"},
		}},
		{"dify external PostgreSQL", "testdata/dify-external-db", nil, want{
			app: "dify", version: "1.13.3", source: "compose image tag of api", location: "compose:api.image",
			engine: profile.EnginePostgres, dbService: "", supported: true,
			migMode: profile.MigrateEntrypoint, migService: "api",
			warnings: []string{"db_postgres is defined but not active: it belongs to the compose profile(s) postgresql", "no PostgreSQL service in the files"},
		}},
		{"mattermost", "../testdata/apps/mattermost", nil, want{
			app: "mattermost", version: "10.5.2", source: ".env MATTERMOST_IMAGE_TAG", location: "env:MATTERMOST_IMAGE_TAG",
			engine: profile.EnginePostgres, dbService: "postgres", server: "13", major: 13, supported: true,
			roles:   map[string]string{"mattermost": profile.RoleApp, "postgres": profile.RoleDB},
			migMode: profile.MigrateEntrypoint, migService: "mattermost",
			warnings: []string{"docker-compose.without-nginx.yml", "were not read"},
		}},
		{"mattermost with -f", "../testdata/apps/mattermost", []string{"docker-compose.yml", "docker-compose.without-nginx.yml"}, want{
			app: "mattermost", version: "10.5.2", source: ".env MATTERMOST_IMAGE_TAG", location: "env:MATTERMOST_IMAGE_TAG",
			engine: profile.EnginePostgres, dbService: "postgres", server: "13", major: 13, supported: true,
			migMode: profile.MigrateEntrypoint, migService: "mattermost",
			noWarnings: []string{"were not read"},
		}},
		{"simplelogin", "../testdata/apps/simplelogin", nil, want{
			app: "simplelogin", version: "v4.70.0", source: ".env SL_VERSION", location: "env:SL_VERSION",
			engine: profile.EnginePostgres, dbService: "postgres", server: "17.7", major: 17, supported: true,
			roles:   map[string]string{"migration": profile.RoleJob, "init": profile.RoleJob, "app": profile.RoleApp, "email": profile.RoleWorker},
			migMode: profile.MigrateOneOff, migService: "migration",
			warnings: []string{"dkim.key, which does not exist"},
		}},
		{"nightingale compose-postgres", "../testdata/apps/nightingale", nil, want{
			app: "nightingale", version: "unknown (floating tag latest)", source: "floating image tag latest of nightingale", location: "floating", floating: true,
			engine: profile.EnginePostgres, dbService: "postgres", server: "12", major: 12, supported: true,
			roles:   map[string]string{"nightingale": profile.RoleApp, "postgres": profile.RoleDB},
			migMode: profile.MigrateEntrypoint, migService: "nightingale",
			warnings: []string{"names a moving target"},
		}},
		{"nightingale compose-bridge (MySQL)", "testdata/nightingale-bridge", nil, want{
			app: "nightingale", version: "unknown (floating tag latest)", source: "floating image tag latest of nightingale", location: "floating", floating: true,
			engine: profile.EngineMySQL, dbService: "mysql", server: "8", major: 8, supported: false,
			roles:   map[string]string{"mysql": profile.RoleDB, "nightingale": profile.RoleApp},
			migMode: profile.MigrateEntrypoint, migService: "nightingale",
			warnings: []string{"the database is MySQL (from etc-nightingale/config.toml DB.DBType)"},
		}},
		{"maibot 1.x", "../testdata/apps/maibot", nil, want{
			app: "maibot", version: "unknown (floating tag latest)", source: "floating image tag latest of core", location: "floating", floating: true,
			engine: profile.EngineSQLite, dbService: "core", supported: true,
			roles:   map[string]string{"core": profile.RoleApp},
			migMode: profile.MigrateEntrypoint, migService: "core",
		}},
		{"maibot 0.x, missing .env", "testdata/maibot-0x", nil, want{
			app: "maibot", version: "unknown (floating tag latest)", source: "floating image tag latest of core", location: "floating", floating: true,
			engine: profile.EngineSQLite, dbService: "core", supported: true,
			roles:   map[string]string{"core": profile.RoleApp, "adapters": profile.RoleWorker},
			migMode: profile.MigrateEntrypoint, migService: "core",
			warnings: []string{"core bind-mounts docker-config/mmc/.env, which does not exist"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []string
			for _, f := range tt.files {
				abs, err := filepath.Abs(filepath.Join(tt.dir, f))
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, abs)
			}
			res, err := Detect(context.Background(), nil, Options{Offline: true, StackOptions: StackOptions{Dir: tt.dir, Files: files}, Profiles: profile.Builtin()})
			if err != nil {
				t.Fatal(err)
			}
			r, w := res.Report, tt.want
			check := func(field string, got, want any) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %v, want %v", field, got, want)
				}
			}
			check("app", r.App, w.app)
			check("version", r.Version, w.version)
			check("version_source", r.VersionSource, w.source)
			check("version_location", r.VersionLocation, w.location)
			check("version_floating", r.VersionFloating, w.floating)
			check("db.engine", r.DB.Engine, w.engine)
			check("db.service", r.DB.Service, w.dbService)
			check("db.server_version", r.DB.ServerVersion, w.server)
			check("db.server_major", r.DB.ServerMajor, w.major)
			check("db.supported", r.DB.Supported, w.supported)
			for name, role := range w.roles {
				s, ok := r.Service(name)
				check("role of "+name, s.Role, role)
				check(name+" listed", ok, true)
			}
			if r.Migration == nil {
				t.Fatal("no migration report")
			}
			check("migration.mode", r.Migration.Mode, w.migMode)
			check("migration.service", r.Migration.Service, w.migService)
			if r.Migration.Trigger == "" {
				t.Error("no migration trigger")
			}
			if w.migEnabled != nil && (r.Migration.Enabled == nil || *r.Migration.Enabled != *w.migEnabled) {
				t.Errorf("migration.enabled = %v", r.Migration.Enabled)
			}
			all := strings.Join(r.Warnings, "\n")
			for _, s := range w.warnings {
				if !strings.Contains(all, s) {
					t.Errorf("no warning with %q in:\n%s", s, all)
				}
			}
			for _, s := range w.noWarnings {
				if strings.Contains(all, s) {
					t.Errorf("a warning has %q:\n%s", s, all)
				}
			}
		})
	}
}

func TestServerFromTag(t *testing.T) {
	for img, want := range map[string]int{
		"postgres:15-alpine": 15, "postgres:17.7": 17, "postgres:13-alpine": 13, "pgvector/pgvector:pg16": 16,
		"pgvector/pgvector:0.8.0-pg17": 17, "postgis/postgis:16-3.4": 16, "postgres:latest": 0, "postgres": 0, "mysql:8.0": 8,
	} {
		if _, got := serverFromTag(img); got != want {
			t.Errorf("serverFromTag(%s) = %d, want %d", img, got, want)
		}
	}
}

func TestTagVariable(t *testing.T) {
	for expr, want := range map[string]string{
		"mattermost/${MATTERMOST_IMAGE}:${MATTERMOST_IMAGE_TAG}": "MATTERMOST_IMAGE_TAG",
		"simplelogin/$SL_IMAGE:$SL_VERSION":                      "SL_VERSION",
		"${POSTGRES_IMAGE:-postgres:16-alpine}":                  "POSTGRES_IMAGE",
		"upshift-demo/app:${APP_VERSION}":                        "APP_VERSION",
		"langgenius/dify-api:1.13.3":                             "",
		"registry:5000/app:1.0":                                  "",
	} {
		got, _, _ := tagVariable(expr)
		if got != want {
			t.Errorf("tagVariable(%s) = %q, want %q", expr, got, want)
		}
	}
}

// TestEnvExampleInPlaceOfDotEnv: a copy of mattermost/docker before
// `cp env.example .env` is read through the template, and says so.
func TestEnvExampleInPlaceOfDotEnv(t *testing.T) {
	dir := t.TempDir()
	src := "../testdata/apps/mattermost"
	for _, f := range []string{"docker-compose.yml", ".env"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == ".env" {
			f = "env.example"
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Detect(context.Background(), nil, Options{Offline: true, StackOptions: StackOptions{Dir: dir}, Profiles: profile.Builtin()})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	if r.Version != "10.5.2" || r.VersionSource != "env.example MATTERMOST_IMAGE_TAG" || r.DB.ServerMajor != 13 {
		t.Errorf("version %q from %q, PostgreSQL %d", r.Version, r.VersionSource, r.DB.ServerMajor)
	}
	if res.Stack.EnvFile != "" {
		t.Errorf("EnvFile = %q: the template must never be the file upgrades write", res.Stack.EnvFile)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "there is no .env: env.example was read") {
		t.Errorf("warnings = %v", r.Warnings)
	}
}
