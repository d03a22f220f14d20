package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// difyCompose is docker/docker-compose.yaml of langgenius/dify in its
// shape: the shared env anchor, the release tag hard-coded for api, worker,
// worker_beat and web, the database under the compose profile postgresql,
// the plugin daemon on its own database. Left out: redis, weaviate,
// sandbox, ssrf_proxy and nginx (other images; the lookalike does not need
// them); the api port is published for the test instead of nginx.
const difyCompose = `x-shared-env: &shared-api-worker-env
  CONSOLE_API_URL: ${CONSOLE_API_URL:-}
  SECRET_KEY: ${SECRET_KEY:-sk-9f73s3ljTXVcMT3Blb3ljTqtsKiGHXVcMT3BlbkFJLK7U}
  LOG_LEVEL: ${LOG_LEVEL:-INFO}
  DB_USERNAME: ${DB_USERNAME:-postgres}
  DB_PASSWORD: ${DB_PASSWORD:-difyai123456}
  DB_HOST: ${DB_HOST:-db_postgres}
  DB_PORT: ${DB_PORT:-5432}
  DB_DATABASE: ${DB_DATABASE:-dify}
  MIGRATION_ENABLED: ${MIGRATION_ENABLED:-true}
  PLUGIN_MAX_PACKAGE_SIZE: ${PLUGIN_MAX_PACKAGE_SIZE:-52428800}

services:
  api:
    image: langgenius/dify-api:1.9.1
    restart: always
    environment:
      <<: *shared-api-worker-env
      MODE: api
    depends_on:
      db_postgres:
        condition: service_healthy
        required: false
    volumes:
      - ./volumes/app/storage:/app/api/storage
    ports:
      - "${EXPOSE_API_PORT}:5001"

  worker:
    image: langgenius/dify-api:1.9.1
    restart: always
    environment:
      <<: *shared-api-worker-env
      MODE: worker
    depends_on:
      db_postgres:
        condition: service_healthy
        required: false
    volumes:
      - ./volumes/app/storage:/app/api/storage

  worker_beat:
    image: langgenius/dify-api:1.9.1
    restart: always
    environment:
      <<: *shared-api-worker-env
      MODE: beat
    depends_on:
      db_postgres:
        condition: service_healthy
        required: false

  web:
    image: langgenius/dify-web:1.9.1
    restart: always
    environment:
      CONSOLE_API_URL: ${CONSOLE_API_URL:-}

  db_postgres:
    image: ${PG_IMAGE}
    profiles:
      - postgresql
    restart: always
    environment:
      POSTGRES_USER: ${DB_USERNAME:-postgres}
      POSTGRES_PASSWORD: ${DB_PASSWORD:-difyai123456}
      POSTGRES_DB: ${DB_DATABASE:-dify}
      PGDATA: ${PGDATA:-/var/lib/postgresql/data/pgdata}
    volumes:
      - ./volumes/db/data:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-h", "db_postgres", "-U", "${DB_USERNAME:-postgres}", "-d", "${DB_DATABASE:-dify}"]
      interval: 1s
      timeout: 3s
      retries: 60

  plugin_daemon:
    image: langgenius/dify-plugin-daemon:0.5.3-local
    restart: always
    environment:
      <<: *shared-api-worker-env
      DB_DATABASE: ${DB_PLUGIN_DATABASE:-dify_plugin}
    depends_on:
      db_postgres:
        condition: service_healthy
        required: false
    volumes:
      - ./volumes/plugin_daemon:/app/storage
`

// difyComposeFor is the compose file of release v in the shape of Dify's:
// 1.9.2 adds a key to the shared env block and a service (a dataset worker
// on the api image).
func difyComposeFor(v string) string {
	c := strings.ReplaceAll(difyCompose, ":1.9.1\n", ":"+v+"\n")
	if v == "1.9.1" {
		return c
	}
	c = strings.Replace(c, "  PLUGIN_MAX_PACKAGE_SIZE: ${PLUGIN_MAX_PACKAGE_SIZE:-52428800}\n", "  PLUGIN_MAX_PACKAGE_SIZE: ${PLUGIN_MAX_PACKAGE_SIZE:-52428800}\n  DATASET_QUEUE: ${DATASET_QUEUE:-dataset}\n", 1)
	return strings.Replace(c, "\n  web:\n", `
  worker_dataset:
    image: langgenius/dify-api:`+v+`
    restart: always
    environment:
      <<: *shared-api-worker-env
      MODE: worker
    depends_on:
      db_postgres:
        condition: service_healthy
        required: false

  web:
`, 1)
}

// difyEnvExample is docker/.env.example of each version, trimmed; 1.9.2
// adds PLUGIN_MAX_PACKAGE_SIZE with its comment.
func difyEnvExample(v string) string {
	s := "# ------------------------------\n# Environment Variables for API service & worker\n# ------------------------------\n\nCONSOLE_API_URL=\n\n# A secret key for signing session cookies and encrypting credentials.\nSECRET_KEY=sk-9f73s3ljTXVcMT3Blb3ljTqtsKiGHXVcMT3BlbkFJLK7U\n\nLOG_LEVEL=INFO\n\n# Database settings\nDB_TYPE=postgresql\nDB_USERNAME=postgres\nDB_PASSWORD=difyai123456\nDB_HOST=db_postgres\nDB_PORT=5432\nDB_DATABASE=dify\nDB_PLUGIN_DATABASE=dify_plugin\n\n# When enabled, migrations will be executed prior to application startup\nMIGRATION_ENABLED=true\n"
	if v != "1.9.1" {
		s += "\n# Maximum size of a plugin package (bytes)\nPLUGIN_MAX_PACKAGE_SIZE=52428800\n"
	}
	return s + "\nEXPOSE_API_PORT=5001\nCOMPOSE_PROFILES=${VECTOR_STORE:-weaviate},${DB_TYPE:-postgresql}\n"
}

// Notes in the style of Dify's GitHub releases.
var difyNotes = map[string]string{
	"1.9.1":  "## 🚀 What's New\n\n- Knowledge pipeline supports custom chunk separators.\n\n## 🛠 Fixes\n\n- Fixed workflow run history paging. #26012\n",
	"1.9.2":  "## 🚀 What's New\n\n- App icons can be images or emoji (icon_type).\n\n## ⚠️ Upgrade Notes\n\n- Weaviate 1.27.0 or newer is now required. Upgrade your Weaviate before upgrading Dify.\n\n## 🛠 Fixes\n\n- Fixed draft variables being lost when a workflow was published. #26240\n",
	"1.10.0": "## 🚀 What's New\n\n- Workspaces limit concurrent requests per app.\n\n## 🛠 Fixes\n\n- A member can join a workspace only once. #27311\n",
}

// TestDifyLookalike: a Dify stack in its docker-compose.yaml shape (tags in
// the compose file, migration at api start, the plugin daemon's second
// database, COMPOSE_PROFILES=postgresql) is detected, planned, backed up,
// upgraded with the tags rewritten and .env merged with .env.example, and
// rolled back when the next release's migration fails on data.
func TestDifyLookalike(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	buildLookalike(t, lookalikeImage{personality: "dify", repo: "langgenius/dify-api", expose: 5001, cmd: []string{"/bin/bash", "/entrypoint.sh"}})
	buildLookalike(t, lookalikeImage{personality: "dify", repo: "langgenius/dify-web", expose: 3000, cmd: []string{"web"}})
	daemon := t.TempDir()
	if err := os.WriteFile(filepath.Join(daemon, "Dockerfile"), []byte("FROM langgenius/dify-api:1.9.1\nENV DIFY_LOOKALIKE_PROCESS=plugin-daemon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := testenv.Docker("build", "-q", "-t", "langgenius/dify-plugin-daemon:0.5.3-local", daemon); err != nil {
		t.Fatalf("build the plugin daemon lookalike: %v\n%s", err, out)
	}
	port := freePort(t)
	env := strings.Replace(difyEnvExample("1.9.1"), "SECRET_KEY=sk-9f73s3ljTXVcMT3Blb3ljTqtsKiGHXVcMT3BlbkFJLK7U", "SECRET_KEY=admins-own-secret-key-e2e", 1)
	env = strings.Replace(env, "EXPOSE_API_PORT=5001", "EXPOSE_API_PORT="+port, 1)
	env = strings.Replace(env, "COMPOSE_PROFILES=${VECTOR_STORE:-weaviate},${DB_TYPE:-postgresql}", "COMPOSE_PROFILES=postgresql", 1)
	env += "PG_IMAGE=" + testenv.PostgresImage() + "\n"
	// The admin's own edit of the shared block: upgrades keep it.
	adminCompose := strings.Replace(difyCompose, "LOG_LEVEL: ${LOG_LEVEL:-INFO}", "LOG_LEVEL: ${LOG_LEVEL:-DEBUG} # mine", 1)
	s := newAppStack(t, "dify", map[string]string{
		"docker-compose.yaml":       adminCompose,
		".env":                      env,
		"volumes/app/storage/.keep": "",
		"volumes/plugin_daemon/cwd": "plugins",
	}, nil, difyNotes)
	s.pgDataDir("volumes/db/data")
	templates := filepath.Join(filepath.Dir(s.dir), "env-templates")
	if err := os.MkdirAll(templates, 0o755); err != nil {
		t.Fatal(err)
	}
	composeTemplates := filepath.Join(filepath.Dir(s.dir), "templates")
	for _, v := range []string{"1.9.1", "1.9.2", "1.10.0"} {
		if err := os.WriteFile(filepath.Join(templates, v+".env.example"), []byte(difyEnvExample(v)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(composeTemplates, v), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(composeTemplates, v, "docker-compose.yaml"), []byte(difyComposeFor(v)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	timed(t, "first start", func() {
		if out, err := s.compose("up", "-d", "--wait", "--wait-timeout", "120"); err != nil {
			t.Fatalf("up: %v\n%s", err, out)
		}
	})
	waitFor(t, "the api to answer /health", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/health")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	psql := func(q string) string { return s.psql("db_postgres", "postgres", "dify", q) }
	waitFor(t, "the plugin daemon's database", func() bool {
		out, err := s.compose("exec", "-T", "db_postgres", "psql", "-qtA", "-U", "postgres", "-d", "dify_plugin", "-c", "SELECT 1 FROM plugin_installations LIMIT 1")
		return err == nil && !strings.Contains(out, "ERROR")
	})
	const tenant, alice, bob = "6f1c0b1e-0000-4000-8000-000000000001", "6f1c0b1e-0000-4000-8000-0000000000a1", "6f1c0b1e-0000-4000-8000-0000000000b2"
	psql(`INSERT INTO tenants (id, name) VALUES ('` + tenant + `', 'Acme');
		INSERT INTO accounts (id, name, email) VALUES ('` + alice + `', 'Alice', 'alice@example.test'), ('` + bob + `', 'Bob', 'bob@example.test');
		INSERT INTO tenant_account_joins (tenant_id, account_id, role) VALUES ('` + tenant + `', '` + alice + `', 'owner'), ('` + tenant + `', '` + bob + `', 'normal');
		INSERT INTO apps (id, tenant_id, name, mode) VALUES ('6f1c0b1e-0000-4000-8000-0000000000c3', '` + tenant + `', 'Support bot', 'chat')`)
	if out, err := s.compose("exec", "-T", "db_postgres", "psql", "-qtA", "-U", "postgres", "-d", "dify_plugin", "-c",
		"INSERT INTO plugin_installations (tenant_id, plugin_unique_identifier) VALUES ('"+tenant+"', 'langgenius/openai:0.2.5')"); err != nil {
		t.Fatalf("plugin row: %v\n%s", err, out)
	}

	var d detected
	timed(t, "detect", func() { d = s.detect() })
	if d.App != "dify" || d.Version != "1.9.1" || !strings.Contains(d.VersionSource, "/health") {
		t.Fatalf("detect: %+v", d)
	}
	if d.Schema.Tool != "alembic" || d.Schema.Head != "64b051264f32" || !d.DB.Reachable || d.DB.Service != "db_postgres" {
		t.Errorf("detect schema/db: %+v %+v", d.Schema, d.DB)
	}
	if r := rolesOf(d); r["api"] != "app" || r["worker"] != "worker" || r["worker_beat"] != "scheduler" || r["web"] != "web" || r["db_postgres"] != "db" || r["plugin_daemon"] != "worker" {
		t.Errorf("roles %v", r)
	}
	if p := s.plan("1.10.0"); p.hopList() != "1.10.0" || p.Blocked {
		t.Errorf("plan to 1.10.0: %s blocked=%v", p.hopList(), p.Blocked)
	} else if !slices.ContainsFunc(p.Hops[0].Manual, func(m string) bool { return strings.Contains(m, "Weaviate") }) {
		t.Errorf("plan through 1.9.2 has no Weaviate manual action: %+v", p.Hops[0])
	}

	timed(t, "backup", func() {
		out, err := s.upshift("backup", "--json")
		if err != nil || lastResult(t, out).Outcome != steps.OutcomeSuccess {
			t.Fatalf("backup: %v\n%s", err, out)
		}
		manifest, err := os.ReadFile(filepath.Join(s.dir, "upshift-backups", lastResult(t, out).Backup, "manifest.json"))
		if err != nil || !strings.Contains(string(manifest), `"dify_plugin"`) || !strings.Contains(string(manifest), `"/app/api/storage"`) {
			t.Errorf("the plugin database or the storage volume is not in the backup (%v):\n%s", err, manifest)
		}
		if !strings.Contains(out, "not in this backup: optional volume dify_config") {
			t.Errorf("the missing optional dify_config volume is not reported:\n%s", out)
		}
	})

	upgrade := func(to string) (string, error) {
		args := []string{"upgrade", "--to", to, "--yes", "--json", "--notes", s.notes, "--env-templates", templates, "--templates", composeTemplates}
		if to == "1.10.0" {
			args = append(args, "--no-rehearsal") // the rollback after the stop is what is tested
		}
		return s.upshift(args...)
	}
	timed(t, "upgrade 1.9.1 → 1.9.2", func() {
		out, err := upgrade("1.9.2")
		if err != nil {
			t.Fatalf("upgrade: %v\n%s", err, out)
		}
		if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "1.9.2" {
			t.Fatalf("result %+v\n%s", res, out)
		}
		if !strings.Contains(out, "Running upgrade 64b051264f32 -\\u003e 8a7f2ad7c23e") || !strings.Contains(out, "Database migration successful!") {
			t.Errorf("the api's migration log is not in the events:\n%s", out)
		}
	})
	compose, _ := os.ReadFile(filepath.Join(s.dir, "docker-compose.yaml"))
	if n := strings.Count(string(compose), ":1.9.2\n"); n != 5 || strings.Contains(string(compose), ":1.9.1") || !strings.Contains(string(compose), "dify-plugin-daemon:0.5.3-local") {
		t.Errorf("compose after the upgrade (%d tags at 1.9.2):\n%s", n, compose)
	}
	// The release's new service runs; the shared block keeps the admin's
	// value and gains the release's key.
	if !strings.Contains(string(compose), "LOG_LEVEL: ${LOG_LEVEL:-DEBUG} # mine") || !strings.Contains(string(compose), "DATASET_QUEUE: ${DATASET_QUEUE:-dataset}") || !strings.Contains(string(compose), "worker_dataset:") {
		t.Errorf("the compose merge lost the admin's value or the release's additions:\n%s", compose)
	}
	if running, err := s.compose("ps", "--status", "running", "--services"); err != nil || !strings.Contains(running, "worker_dataset") {
		t.Errorf("the new service does not run: %v\n%s", err, running)
	}
	merged192 := compose
	if s.env("SECRET_KEY") != "admins-own-secret-key-e2e" || s.env("PLUGIN_MAX_PACKAGE_SIZE") != "52428800" || s.env("COMPOSE_PROFILES") != "postgresql" {
		t.Errorf(".env after the merge: SECRET_KEY=%q PLUGIN_MAX_PACKAGE_SIZE=%q COMPOSE_PROFILES=%q", s.env("SECRET_KEY"), s.env("PLUGIN_MAX_PACKAGE_SIZE"), s.env("COMPOSE_PROFILES"))
	}
	if head := psql(`SELECT version_num FROM alembic_version`); head != "8a7f2ad7c23e" {
		t.Errorf("alembic head %s", head)
	}

	// 1.10.0's unique index fails on a member who joined the workspace twice.
	psql(`INSERT INTO tenant_account_joins (tenant_id, account_id, role) VALUES ('` + tenant + `', '` + bob + `', 'editor')`)
	snapshot := func() string {
		return psql(`SELECT string_agg(id || ':' || account_id || ':' || role, ',' ORDER BY id) FROM tenant_account_joins`) + "|" +
			psql(`SELECT string_agg(name || ':' || coalesce(icon_type, '-'), ',') FROM apps`)
	}
	before := snapshot()
	var out string
	var err error
	timed(t, "failing upgrade to 1.10.0 + rollback", func() { out, err = upgrade("1.10.0") })
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit code %d, want 3 (rolled back)\n%s", code, out)
	}
	res := lastResult(t, out)
	if res.Outcome != steps.OutcomeRolledBack || res.Reached != "1.9.2" || res.FailedStep != "1.10.0/migrate" {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(res.Error, "Failed to execute database migration") || !strings.Contains(out, "unique_tenant_account_join") {
		t.Errorf("the api's own error is not in the result: %s", res.Error)
	}
	// Dify's layout: a bind mount, PGDATA a directory inside it. The base
	// backup was unpacked next to it and swapped in; nothing is left.
	if !strings.Contains(out, "restore point: a base backup") || !strings.Contains(out, "swapping in the base backup unpacked before the stop") {
		t.Errorf("the physical rollback did not swap the staged copy in:\n%s", out)
	}
	if left, _ := filepath.Glob(filepath.Join(s.dir, "volumes/db/data/.upshift-*")); len(left) > 0 {
		t.Errorf("left next to the data directory: %v", left)
	}
	compose, _ = os.ReadFile(filepath.Join(s.dir, "docker-compose.yaml"))
	if string(compose) != string(merged192) {
		t.Errorf("compose after the rollback is not the 1.9.2 file byte for byte:\n%s", compose)
	}
	if head := psql(`SELECT version_num FROM alembic_version`); head != "8a7f2ad7c23e" {
		t.Errorf("alembic head after the rollback %s", head)
	}
	if after := snapshot(); after != before {
		t.Errorf("rows after the rollback %s, want %s", after, before)
	}
	if out, err := s.compose("exec", "-T", "db_postgres", "psql", "-qtA", "-U", "postgres", "-d", "dify_plugin", "-c", "SELECT plugin_unique_identifier FROM plugin_installations"); err != nil || strings.TrimSpace(out) != "langgenius/openai:0.2.5" {
		t.Errorf("the plugin database after the rollback: %v %q", err, out)
	}
	if d := s.detect(); d.Version != "1.9.2" || d.Schema.Head != "8a7f2ad7c23e" {
		t.Errorf("after the rollback detect says %s at %s", d.Version, d.Schema.Head)
	}
}
