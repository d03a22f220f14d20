package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// n9eCompose is docker/compose-postgres/docker-compose.yaml of
// ccfos/nightingale, trimmed to what can be built here (redis,
// victoriametrics and categraf are other images; the lookalike does not
// need them) and with a random host port.
const n9eCompose = `networks:
  nightingale:
    driver: bridge

services:
  postgres:
    image: ${PG_IMAGE}
    hostname: postgres
    restart: always
    environment:
      TZ: Asia/Shanghai
      POSTGRES_USER: root
      POSTGRES_PASSWORD: n9e-e2e-1234
      POSTGRES_DB: n9e_v6
      PGDATA: /var/lib/postgresql/data/pgdata
    volumes:
      - ./pgdata:/var/lib/postgresql/data
    networks:
      - nightingale

  nightingale:
    image: flashcatcloud/nightingale:latest
    hostname: nightingale
    restart: always
    environment:
      GIN_MODE: release
      TZ: Asia/Shanghai
      WAIT_HOSTS: postgres:5432
    volumes:
      - ./n9eetc_pg:/app/etc
    ports:
      - "${N9E_PORT}:17000"
    networks:
      - nightingale
    depends_on:
      - postgres
    command: >
      sh -c "/app/n9e"
`

const n9eConfig = `[Global]
RunMode = "release"

[Log]
Dir = "logs"
Level = "INFO"
Output = "stdout"

[HTTP]
Host = "0.0.0.0"
Port = 17000

[DB]
DBType = "postgres"
DSN = "host=postgres port=5432 user=root dbname=n9e_v6 password=n9e-e2e-1234 sslmode=disable"
MaxLifetime = 7200
MaxOpenConns = 150
MaxIdleConns = 50

[Redis]
Address = "redis:6379"
RedisType = "standalone"
`

// Notes in the style of ccfos/nightingale's hand-written GitHub releases.
var n9eNotes = map[string]string{
	"v8.3.0": "## What's Changed\n* feat: alert rule supports multiple datasources by @710leo\n* fix: dashboard variable refresh by @UlricQin\n",
	"v8.4.1": "## What's Changed\n* feat: notify rules replace notify channels by @710leo\n* fix: target list paging by @kongfei605\n\n**Full Changelog**: https://github.com/ccfos/nightingale/compare/v8.3.0...v8.4.1\n",
	"v9.0.0": "## v9 主要更新点\n* 机器列表按 ident 去重，新增 host_ip 字段\n\n## 升级说明\n如果你的夜莺所用的数据库连接账号不具备建表和改表权限，需要手工执行 migrate.sql 中 v9 的语句\n",
}

// TestNightingaleLookalike: a Nightingale stack in the compose-postgres
// shape (floating :latest, `sh -c "/app/n9e"`, no schema table, gorm-style
// migration at every start that only logs its errors) is detected through
// `/app/n9e -version`, upgraded with the tag pinned, and rolled back when
// the next version's migration fails halfway on data: the upshift restore
// undoes the half-applied schema change the app itself never would.
func TestNightingaleLookalike(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	buildShellLookalike(t, shellLookalike{
		personality: "nightingale", repo: "flashcatcloud/nightingale", binAt: "/app/n9e", workdir: "/app", expose: 17000,
		cmd: []string{"/app/n9e"},
	})
	port := freePort(t)
	s := newAppStack(t, "n9e", map[string]string{
		"docker-compose.yaml":    n9eCompose,
		".env":                   fmt.Sprintf("PG_IMAGE=%s\nN9E_PORT=%s\n", testenv.PostgresImage(), port),
		"n9eetc_pg/config.toml":  n9eConfig,
		"n9eetc_pg/metrics.yaml": "zh:\n  ping_result_code: ping 结果值（0:正常, 1:超时, 2:错误）\n",
	}, nil, n9eNotes)
	s.pgDataDir("pgdata")
	timed(t, "first start", func() {
		if out, err := s.compose("up", "-d", "--wait", "--wait-timeout", "120"); err != nil {
			t.Fatalf("up: %v\n%s", err, out)
		}
	})
	waitFor(t, "n9e to answer /ping", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/ping")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	psql := func(q string) string { return s.psql("postgres", "root", "n9e_v6", q) }
	psql(`INSERT INTO users (username, nickname, roles) VALUES ('root', '超管', 'Admin'); INSERT INTO alert_rule (name, prom_ql) VALUES ('cpu high', 'cpu_usage_active > 90'); INSERT INTO target (ident, note) VALUES ('host-a', 'db'), ('host-b', 'web')`)

	var d detected
	timed(t, "detect", func() { d = s.detect() })
	if d.App != "nightingale" || d.Version != "8.3.0" || !strings.Contains(d.VersionSource, "/app/n9e -version") {
		t.Fatalf("detect: %+v", d)
	}
	if d.Schema.Tool != "none" || !d.DB.Reachable || d.DB.Service != "postgres" {
		t.Errorf("detect schema/db: %+v %+v", d.Schema, d.DB)
	}
	if r := rolesOf(d); r["nightingale"] != "app" || r["postgres"] != "db" {
		t.Errorf("roles %v", r)
	}
	if p := s.plan("latest"); p.To != "v9.0.0" || p.hopList() != "v9.0.0" || p.Blocked {
		t.Errorf("plan to latest: to %s hops %s blocked=%v", p.To, p.hopList(), p.Blocked)
	}

	timed(t, "backup", func() {
		out, err := s.upshift("backup", "--json")
		if err != nil || lastResult(t, out).Outcome != steps.OutcomeSuccess {
			t.Fatalf("backup: %v\n%s", err, out)
		}
		// The etc dir is in the set, as a volume (the bind mount at /app/etc)
		// and as the profile's config files.
		manifest, err := os.ReadFile(filepath.Join(s.dir, "upshift-backups", lastResult(t, out).Backup, "manifest.json"))
		if err != nil || !strings.Contains(string(manifest), `"/app/etc"`) || !strings.Contains(string(manifest), "n9eetc_pg/config.toml") {
			t.Errorf("the etc dir is not in the backup (%v):\n%s", err, manifest)
		}
	})
	latest830 := imageID(t, "flashcatcloud/nightingale:latest")

	timed(t, "upgrade 8.3.0 → v8.4.1", func() {
		out, err := s.upshift("upgrade", "--to", "v8.4.1", "--yes", "--json", "--notes", s.notes)
		if err != nil {
			t.Fatalf("upgrade: %v\n%s", err, out)
		}
		if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "v8.4.1" {
			t.Fatalf("result %+v\n%s", res, out)
		}
		if !strings.Contains(out, "✓ the database role root may create and alter") || !strings.Contains(out, "http server listening on") {
			t.Errorf("preflight's DDL check or n9e's start line is missing:\n%s", out)
		}
	})
	compose, _ := os.ReadFile(filepath.Join(s.dir, "docker-compose.yaml"))
	if !strings.Contains(string(compose), "image: flashcatcloud/nightingale:8.4.1") || !strings.Contains(string(compose), `sh -c "/app/n9e"`) {
		t.Errorf("compose after the upgrade:\n%s", compose)
	}
	if got := psql(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'alert_rule' AND column_name = 'extra_config'`); got != "1" {
		t.Errorf("8.4.1's column is missing (%s)", got)
	}
	if got := psql(`SELECT string_agg(ident, ',' ORDER BY id) FROM target`); got != "host-a,host-b" {
		t.Errorf("targets after the upgrade: %s", got)
	}
	if id := imageID(t, "flashcatcloud/nightingale:latest"); id != latest830 {
		t.Errorf(":latest was moved by the upgrade (%s → %s): the old tag must stay what it was", latest830, id)
	}

	// 9.0.0 adds host_ip, then fails on a unique index over two rows for
	// the same host; n9e logs it and serves anyway.
	psql(`INSERT INTO target (ident, note) VALUES ('host-a', 'registered twice by categraf')`)
	snapshot := func() string {
		return psql(`SELECT string_agg(id || ':' || ident || ':' || note, ',' ORDER BY id) FROM target`) + "|" + psql(`SELECT string_agg(name, ',') FROM alert_rule`)
	}
	before := snapshot()
	var out string
	var err error
	timed(t, "failing upgrade to v9.0.0 + rollback", func() {
		out, err = s.upshift("upgrade", "--to", "v9.0.0", "--yes", "--json", "--notes", s.notes)
	})
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit code %d, want 3 (rolled back)\n%s", code, out)
	}
	res := lastResult(t, out)
	if res.Outcome != steps.OutcomeRolledBack || strings.TrimPrefix(res.Reached, "v") != "8.4.1" || res.FailedStep != "v9.0.0/migrate" {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(res.Error, "failed to migrate table") || !strings.Contains(res.Error, "idx_target_ident") || strings.Contains(res.Error, "listening") {
		t.Errorf("n9e's own error is not in the result: %s", res.Error)
	}
	compose, _ = os.ReadFile(filepath.Join(s.dir, "docker-compose.yaml"))
	if !strings.Contains(string(compose), "image: flashcatcloud/nightingale:8.4.1") {
		t.Errorf("compose after the rollback:\n%s", compose)
	}
	if got := psql(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'target' AND column_name = 'host_ip'`); got != "0" {
		t.Errorf("the half-applied 9.0.0 column host_ip is still there after the rollback")
	}
	if after := snapshot(); after != before {
		t.Errorf("rows after the rollback %s, want %s", after, before)
	}
	if d := s.detect(); d.Version != "8.4.1" {
		t.Errorf("after the rollback detect says %s", d.Version)
	}

	// n9e logging in as a role that may only read and write its tables
	// cannot migrate them: preflight refuses before anything changes.
	psql(`CREATE ROLE n9e_dml LOGIN PASSWORD 'n9e-dml-pw'; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO n9e_dml`)
	cfg := filepath.Join(s.dir, "n9eetc_pg", "config.toml")
	if err := os.WriteFile(cfg, []byte(strings.Replace(n9eConfig, "user=root dbname=n9e_v6 password=n9e-e2e-1234", "user=n9e_dml dbname=n9e_v6 password=n9e-dml-pw", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = s.upshift("upgrade", "--to", "v9.0.0", "--yes", "--json", "--notes", s.notes)
	if code := exitCode(err); code != 1 {
		t.Fatalf("upgrade with a DML-only role: exit %d\n%s", code, out)
	}
	if res := lastResult(t, out); !res.Unchanged || res.FailedStep != "v9.0.0/preflight" || !strings.Contains(res.Error, "n9e_dml does not own public.") || strings.Contains(out, "n9e-dml-pw") {
		t.Errorf("result %+v", res)
	}
	if after := snapshot(); after != before {
		t.Errorf("rows changed by a refused upgrade: %s, want %s", after, before)
	}
	if d := s.detect(); d.Version != "8.4.1" {
		t.Errorf("after the refused upgrade detect says %s", d.Version)
	}
}

func imageID(t *testing.T, ref string) string {
	t.Helper()
	out, err := testenv.Docker("image", "inspect", "-f", "{{.Id}}", ref)
	if err != nil {
		t.Fatalf("image inspect %s: %v %s", ref, err, out)
	}
	return strings.TrimSpace(out)
}
