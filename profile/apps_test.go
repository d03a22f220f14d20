package profile_test

import (
	"context"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

func builtin(t *testing.T, name string) *profile.Profile {
	t.Helper()
	for _, p := range profile.Builtin() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no built-in profile %s", name)
	return nil
}

// TestAppProfilesFacts pins the facts of each app profile that the engine
// acts on (APPS.md is the source of each).
func TestAppProfilesFacts(t *testing.T) {
	tests := []struct {
		name        string
		schemaTool  string
		engine      string
		dbService   string
		migrateMode string
		migrateSvc  string
		apply       string
		envKey      string
		notes       string
		firstSource string
	}{
		{"dify", "alembic", profile.EnginePostgres, "db_postgres", profile.MigrateEntrypoint, "api", profile.ApplyImageTag, "", "langgenius/dify", "http api:5001/health version"},
		{"mattermost", "morph", profile.EnginePostgres, "postgres", profile.MigrateEntrypoint, "mattermost", profile.ApplyEnv, "MATTERMOST_IMAGE_TAG", "mattermost/mattermost", "http mattermost:8065/api/v4/config/client?format=old BuildNumber"},
		{"simplelogin", "alembic", profile.EnginePostgres, "postgres", profile.MigrateOneOff, "app", profile.ApplyEnv, "SL_VERSION", "simple-login/app", "http app:7777/version "},
		{"nightingale", "none", profile.EnginePostgres, "postgres", profile.MigrateEntrypoint, "nightingale", profile.ApplyImageTag, "", "ccfos/nightingale", "command nightingale /app/n9e -version"},
		{"maibot", "sqlite-user-version", profile.EngineSQLite, "", profile.MigrateEntrypoint, "core", profile.ApplyImageTag, "", "Mai-with-u/MaiBot", "command core grep -m1 ^version /MaiMBot/pyproject.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := builtin(t, tt.name)
			if p.Schema.Tool != tt.schemaTool || p.DB.Engine != tt.engine || p.DB.Service != tt.dbService {
				t.Errorf("schema %q db %+v", p.Schema.Tool, p.DB)
			}
			if p.Migration.Mode != tt.migrateMode || p.Migration.Service != tt.migrateSvc {
				t.Errorf("migration %+v", p.Migration)
			}
			if p.Migration.Mode == profile.MigrateEntrypoint && p.Migration.SuccessLog == "" {
				t.Error("an entrypoint migration needs a success_log to watch")
			}
			if p.Apply.Method != tt.apply || p.Apply.EnvKey != tt.envKey {
				t.Errorf("apply %+v", p.Apply)
			}
			if p.Notes.GitHub != tt.notes {
				t.Errorf("release notes %+v", p.Notes)
			}
			s := p.Version.Sources[0]
			got := s.Type + " " + s.Service
			switch s.Type {
			case profile.VersionHTTP:
				got += ":" + itoa(s.Port) + s.Path + " " + s.JSON
			case profile.VersionCommand:
				got += " " + strings.Join(s.Command, " ")
			}
			if got != tt.firstSource {
				t.Errorf("first version source = %q, want %q", got, tt.firstSource)
			}
			if len(p.Health) == 0 {
				t.Error("no health checks")
			}
		})
	}
	if got := builtin(t, "dify").DB.ExtraDatabases; !slices.Equal(got, []string{"dify_plugin"}) {
		t.Errorf("dify extra databases = %v", got)
	}
	if got := builtin(t, "dify").Apply.Services; !slices.Equal(got, []string{"api", "worker", "worker_beat", "web"}) {
		t.Errorf("dify image-tag services = %v", got)
	}
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// TestDetectRealLayouts reads each app's real-layout compose project offline
// (no Docker) and checks the profile and the role of every service.
func TestDetectRealLayouts(t *testing.T) {
	tests := []struct {
		app   string
		files []string
		// composeProfiles stands in for COMPOSE_PROFILES of .env, which
		// detect does not read yet.
		composeProfiles []string
		roles           map[string]string
	}{
		{
			app: "dify", composeProfiles: []string{"weaviate", "postgresql"},
			roles: map[string]string{
				"api": profile.RoleApp, "worker": profile.RoleWorker, "worker_beat": profile.RoleScheduler,
				"web": profile.RoleWeb, "db_postgres": profile.RoleDB, "plugin_daemon": profile.RoleWorker,
				"redis": profile.RoleOther, "nginx": profile.RoleOther, "sandbox": profile.RoleOther,
				"ssrf_proxy": profile.RoleOther, "weaviate": profile.RoleOther, "init_permissions": profile.RoleJob,
			},
		},
		{
			app: "mattermost", files: []string{"docker-compose.yml", "docker-compose.without-nginx.yml"},
			roles: map[string]string{"postgres": profile.RoleDB, "mattermost": profile.RoleApp},
		},
		{
			app: "mattermost", files: []string{"docker-compose.yml", "docker-compose.nginx.yml"},
			roles: map[string]string{"postgres": profile.RoleDB, "mattermost": profile.RoleApp, "nginx": profile.RoleOther},
		},
		{
			app: "simplelogin",
			roles: map[string]string{
				"postgres": profile.RoleDB, "app": profile.RoleApp, "email": profile.RoleWorker,
				"job-runner": profile.RoleScheduler, "migration": profile.RoleJob, "init": profile.RoleJob,
				"postfix": profile.RoleOther, "dns": profile.RoleOther, "reverse-proxy": profile.RoleOther,
				"traefik-certificate-exporter": profile.RoleOther,
			},
		},
		{
			app: "nightingale",
			roles: map[string]string{
				"postgres": profile.RoleDB, "nightingale": profile.RoleApp, "redis": profile.RoleOther,
				"victoriametrics": profile.RoleOther, "categraf": profile.RoleOther,
			},
		},
		{
			app:   "maibot",
			roles: map[string]string{"core": profile.RoleApp, "napcat": profile.RoleOther, "sqlite-web": profile.RoleOther},
		},
	}
	for _, tt := range tests {
		t.Run(tt.app+"/"+strings.Join(tt.files, "+"), func(t *testing.T) {
			dir := filepath.Join(repoRoot(), "testdata", "apps", tt.app)
			var files []string
			for _, f := range tt.files {
				files = append(files, filepath.Join(dir, f))
			}
			res, err := detect.Detect(context.Background(), nil, detect.Options{
				Offline:      true,
				StackOptions: detect.StackOptions{Dir: dir, Files: files, Profiles: tt.composeProfiles},
				Profiles:     profile.Builtin(),
			})
			if err != nil {
				t.Fatal(err)
			}
			rep := res.Report
			if rep.App != tt.app {
				t.Fatalf("app = %q (%s), want %s", rep.App, rep.ProfileReason, tt.app)
			}
			got := map[string]string{}
			for _, s := range rep.Services {
				got[s.Name] = s.Role
			}
			for name, role := range tt.roles {
				if got[name] != role {
					t.Errorf("service %s: role %q, want %q", name, got[name], role)
				}
			}
			if len(got) != len(tt.roles) {
				t.Errorf("services = %v, want exactly %v", got, tt.roles)
			}
			if p := res.Profile; p.DB.Engine == profile.EnginePostgres && rep.DB.Service != p.DB.Service {
				t.Errorf("db service = %q", rep.DB.Service)
			}
		})
	}
}

// TestAppProfilesMatchOnlyTheirApp: each app's services pick its profile,
// never another app's, and a plain PostgreSQL project stays generic.
func TestAppProfilesMatchOnlyTheirApp(t *testing.T) {
	tests := []struct {
		want     string
		services []profile.ServiceInfo
	}{
		{"dify", []profile.ServiceInfo{{Name: "api", Image: "langgenius/dify-api:1.13.3"}, {Name: "web", Image: "langgenius/dify-web:1.13.3"}, {Name: "db_postgres", Image: "postgres:15-alpine"}}},
		{"mattermost", []profile.ServiceInfo{{Name: "mattermost", Image: "mattermost/mattermost-team-edition:10.5.2"}, {Name: "postgres", Image: "postgres:13-alpine"}}},
		{"mattermost", []profile.ServiceInfo{{Name: "mattermost", Image: "docker.io/mattermost/mattermost-enterprise-edition:release-10.5"}}},
		// The official docker-run setup, adopted into compose by name only.
		{"simplelogin", []profile.ServiceInfo{{Name: "app", Image: "registry.local/sl:custom", ContainerName: "sl-app"}, {Name: "db", Image: "postgres:12.1", ContainerName: "sl-db"}}},
		{"simplelogin", []profile.ServiceInfo{{Name: "app", Image: "simplelogin/app-ci:v4.70.0"}}},
		{"nightingale", []profile.ServiceInfo{{Name: "nightingale", Image: "flashcatcloud/nightingale:latest"}, {Name: "categraf", Image: "flashcatcloud/categraf:latest"}}},
		{"maibot", []profile.ServiceInfo{{Name: "core", Image: "sengokucola/maibot:latest", ContainerName: "maim-bot-core"}}},
		{"generic", []profile.ServiceInfo{{Name: "app", Image: "ghcr.io/acme/app:1.0"}, {Name: "db", Image: "postgres:16"}}},
	}
	for _, tt := range tests {
		t.Run(tt.want+"/"+tt.services[0].Image, func(t *testing.T) {
			p, _, why := profile.Match(profile.Builtin(), tt.services)
			if p == nil || p.Name != tt.want {
				t.Errorf("matched %v (%s), want %s", p, why, tt.want)
			}
		})
	}
}

// TestAppProfilesUpgradeGates pins the per-app gates the engine enforces
// beyond the path: MaiBot's EULA/PRIVACY consent, SimpleLogin's init_app.py
// after the migration, Nightingale's DDL-rights preflight and untagged
// images, Dify's optional secrets volume, Mattermost's 11.x-only block, and
// which log lines mean success or failure of a migration at start.
func TestAppProfilesUpgradeGates(t *testing.T) {
	mai := builtin(t, "maibot")
	if c := mai.Upgrade.Consent; len(c) != 2 || c[0].Env != "EULA_AGREE" || c[0].File != "/MaiMBot/EULA.md" || c[1].Env != "PRIVACY_AGREE" || c[1].Service != "core" {
		t.Errorf("maibot consent %+v", c)
	}
	for _, tc := range []struct {
		app, line string
		success   bool
		failure   bool
	}{
		{"maibot", "08-01 10:00:00 [INFO] MaiCore当前版本: 1.2.0", false, false}, // logged before the migrations
		{"maibot", "08-01 10:00:02 [INFO] WebUI 服务器已启动: http://0.0.0.0:8001", true, false},
		{"maibot", "sqlite3.IntegrityError: UNIQUE constraint failed", false, false},
		{"maibot", "Traceback (most recent call last):", false, true},
		{"maibot", "当前数据库版本高于代码内注册的最新迁移版本，已拒绝继续启动。", false, true},
		{"nightingale", "http server listening on: 0.0.0.0:17000", true, false},
		{"nightingale", "2026-11-22 12:04:42.429377 ERROR migrate/migrate.go:26 failed to migrate table: ERROR: could not create unique index", false, true},
		{"nightingale", "please view n9e at  http://172.18.0.3:17000", true, false},
		// Errors of the background migration (after the start) and of the
		// renames have no "migrate" in their text: the logger's file does.
		{"nightingale", "2026-11-22 12:04:43.001002 ERROR migrate/migrate.go:246 failed to create index idx_group_last_eval_time on alert_his_event: ERROR: relation \"alert_his_event\" does not exist (SQLSTATE 42P01)", false, true},
		{"nightingale", "2026-11-22 12:04:42.431000 ERROR migrate/migrate.go:270 failed to renameColumn table: ERROR: permission denied", false, true},
		{"nightingale", "2026-11-22 12:04:42.431000 WARNING migrate/migrate.go:158 skip index idx_nr_created_at on notification_record: column(created_at) not migrated yet, will retry on next start", false, false},
		{"nightingale", "2026-11-22 12:04:44.100000 ERROR memsto/target_cache.go:180 failed to query targets: context deadline exceeded", false, false},
		{"nightingale", "failed to initialize: failed to init database: dial tcp 172.18.0.2:5432: connect: connection refused", false, true},
		{"dify", "Database migration successful!", true, false},
		{"dify", "ERROR [commands] Failed to execute database migration", false, true},
		{"dify", "Database migration skipped", false, false},
	} {
		m := builtin(t, tc.app).Migration
		if got := regexpMatch(t, m.SuccessLog, tc.line); got != tc.success {
			t.Errorf("%s success_log %q on %q: %v", tc.app, m.SuccessLog, tc.line, got)
		}
		if got := regexpMatch(t, m.ErrorLog, tc.line); got != tc.failure {
			t.Errorf("%s error_log %q on %q: %v", tc.app, m.ErrorLog, tc.line, got)
		}
	}
	if sl := builtin(t, "simplelogin").Migration; len(sl.After) != 1 || strings.Join(sl.After[0], " ") != "python init_app.py" {
		t.Errorf("simplelogin migration.after %v", sl.After)
	}
	n9e := builtin(t, "nightingale")
	if !n9e.DB.NeedsDDL || n9e.Apply.TagTemplate != "{{version}}" || n9e.Migration.Settle == "" {
		t.Errorf("nightingale needs_ddl %v tag_template %q settle %q", n9e.DB.NeedsDDL, n9e.Apply.TagTemplate, n9e.Migration.Settle)
	}
	if !slices.ContainsFunc(builtin(t, "dify").Volumes, func(v profile.Volume) bool { return v.Name == "dify_config" && v.Optional }) {
		t.Error("dify: the dify_config volume must be optional")
	}
	if b := builtin(t, "mattermost").Upgrade.Blocked; len(b) != 1 || b[0].Targets != ">=11.0.0" {
		t.Errorf("mattermost blocked %+v", b)
	}
}

func regexpMatch(t *testing.T, expr, s string) bool {
	t.Helper()
	re, err := regexp.Compile(expr)
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	return re.MatchString(s)
}
