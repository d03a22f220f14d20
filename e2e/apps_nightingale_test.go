package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// n9eCompose is docker/compose-postgres/docker-compose.yaml of
// ccfos/nightingale, trimmed to what can be built here (redis,
// victoriametrics and categraf are other images the lookalike does not
// need), without container_name (tests run in parallel) and the obsolete
// version key (compose warns about it on stderr, which the helpers read
// with stdout), and with a random host port.
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
    links:
      - postgres:postgres
    command:
      - /app/n9e
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

// Notes in the style of ccfos/nightingale's hand-written releases: "What's
// Changed" lists, Chinese "主要更新点" / "从 … 升级而来" sections, and
// "upgrade X to Y" with the DDL for accounts that may not alter tables.
var n9eNotes = map[string]string{
	"v8.3.0": "## What's Changed\n* feat: alert rule supports multiple datasources by @710leo\n* fix: dashboard variable refresh by @UlricQin\n",
	"v8.4.1": "## What's Changed\n* feat: notify rules replace notify channels by @710leo\n* fix: target list paging by @kongfei605\n\n**Full Changelog**: https://github.com/ccfos/nightingale/compare/v8.3.0...v8.4.1\n",
	"v9.0.0": "## v9 主要更新点\n* 机器列表按 ident 去重，新增 host_ip 字段\n\n## 从 v8 升级而来\n夜莺启动时会自动更新表结构。如果你的夜莺所用的数据库连接账号不具备建表和改表权限，就需要手工执行下面的语句：\n\n```sql\nALTER TABLE target ADD COLUMN host_ip varchar(15) NOT NULL DEFAULT '';\nCREATE UNIQUE INDEX idx_target_ident ON target (ident);\n```\n",
	"v9.1.1": "## What's Changed\n* feat: current alert events are deduplicated by hash by @UlricQin\n* fix: host_ip not shown in the target list by @kongfei605\n\nupgrade v9.0.0 to v9.1.1\n\n```sql\nCREATE UNIQUE INDEX idx_cur_event_hash ON alert_cur_event (hash);\n```\n",
}

// TestNightingaleLookalike: a Nightingale stack in the compose-postgres
// shape (floating :latest, command /app/n9e, etc dir bind-mounted, no
// schema table, gorm-style migration at every start that only logs its
// errors and serves anyway) is detected through `/app/n9e -version`,
// upgraded with the tag pinned, and rolled back twice: when the next
// version's migration fails before n9e serves, and when the part it runs in
// the background fails after n9e already serves. Each time the restore
// undoes the half-applied schema the app itself would leave behind.
func TestNightingaleLookalike(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	const repo = "flashcatcloud/nightingale"
	buildShellLookalike(t, shellLookalike{
		personality: "nightingale", repo: repo, binAt: "/app/n9e", workdir: "/app", expose: 17000,
		cmd: []string{"/app/n9e"},
		// The image's own etc (sqlite), replaced by the bind mount.
		files: func(string) map[string]string {
			return map[string]string{"/app/etc/config.toml": "[DB]\nDBType = \"sqlite\"\nDSN = \"n9e.db\"\n"}
		},
	})
	versions, _ := demo.PersonalityVersions("nightingale")
	built := map[string]string{} // version → image ID
	for _, v := range versions {
		built[v] = imageID(t, repo+":"+v)
	}
	if id := imageID(t, repo+":latest"); id != built["8.3.0"] {
		t.Fatalf(":latest is %s, want the 8.3.0 image %s", id, built["8.3.0"])
	}

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
	ping := func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/ping")
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK && string(body) == "pong"
	}
	waitFor(t, "n9e to answer /ping", ping)
	psql := func(q string) string { return s.psql("postgres", "root", "n9e_v6", q) }
	if got := psql(`SELECT roles FROM users WHERE username = 'root'`); got != "Admin" {
		t.Fatalf("n9e did not create its root user on the first start: %q", got)
	}
	psql(`INSERT INTO users (username, nickname) VALUES ('ops', '运维');
		INSERT INTO alert_rule (name, prom_ql) VALUES ('cpu high', 'cpu_usage_active > 90');
		INSERT INTO target (ident, note) VALUES ('host-a', 'db'), ('host-b', 'web');
		INSERT INTO alert_his_event (group_id, hash, last_eval_time) VALUES (1, 'h1', 1700000000), (1, 'h2', 1700000060);
		INSERT INTO alert_cur_event (group_id, hash, trigger_time) VALUES (1, 'h2', 1700000060)`)
	snapshot := func() string {
		return strings.Join([]string{
			psql(`SELECT string_agg(username || ':' || roles, ',' ORDER BY id) FROM users`),
			psql(`SELECT string_agg(id || ':' || ident || ':' || note, ',' ORDER BY id) FROM target`),
			psql(`SELECT string_agg(name, ',' ORDER BY id) FROM alert_rule`),
			psql(`SELECT string_agg(hash, ',' ORDER BY id) FROM alert_his_event`),
			psql(`SELECT string_agg(id || ':' || hash, ',' ORDER BY id) FROM alert_cur_event`),
		}, "|")
	}
	schemaHas := func(q string) bool { return psql(`SELECT count(*) FROM `+q) != "0" }
	hasColumn := func(table, col string) bool {
		return schemaHas(fmt.Sprintf(`information_schema.columns WHERE table_name = '%s' AND column_name = '%s'`, table, col))
	}
	hasIndex := func(name string) bool { return schemaHas(fmt.Sprintf(`pg_indexes WHERE indexname = '%s'`, name)) }

	var d detected
	timed(t, "detect", func() { d = s.detect() })
	if d.App != "nightingale" || d.Version != "8.3.0" || !strings.Contains(d.VersionSource, "/app/n9e -version") {
		t.Fatalf("detect: %+v", d)
	}
	if d.Schema.Tool != "none" || d.Schema.Head != "" || !d.DB.Reachable || d.DB.Service != "postgres" {
		t.Errorf("detect schema/db: %+v %+v", d.Schema, d.DB)
	}
	if r := rolesOf(d); r["nightingale"] != "app" || r["postgres"] != "db" {
		t.Errorf("roles %v", r)
	}
	// One hop (no required stops between minors), with 9.0.0's advice for
	// accounts that may not alter tables among the warnings.
	out, err := s.upshift("plan", "--to", "latest", "--json", "--notes", s.notes)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	var p struct {
		To   string `json:"to"`
		Hops []struct {
			Version  string `json:"version"`
			Warnings []struct{ Version, Text string }
		} `json:"hops"`
		Blocked bool `json:"blocked"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan json: %v\n%s", err, out)
	}
	if p.To != "v9.1.1" || len(p.Hops) != 1 || p.Hops[0].Version != "v9.1.1" || p.Blocked {
		t.Errorf("plan to latest:\n%s", out)
	} else if !strings.Contains(fmt.Sprint(p.Hops[0].Warnings), "不具备建表和改表权限") {
		t.Errorf("plan to latest: 9.0.0's DDL advice is not among the warnings: %+v", p.Hops[0].Warnings)
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

	timed(t, "upgrade 8.3.0 → v8.4.1", func() {
		out, err := s.upshift("upgrade", "--to", "v8.4.1", "--yes", "--json", "--notes", s.notes)
		if err != nil {
			t.Fatalf("upgrade: %v\n%s", err, out)
		}
		if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "v8.4.1" {
			t.Fatalf("result %+v\n%s", res, out)
		}
		if !strings.Contains(out, "✓ the database role root may create and alter") {
			t.Errorf("preflight's DDL check is missing:\n%s", out)
		}
		if lines := stepLogLines(t, out, "v8.4.1/migrate"); !hasLine(lines, "http server listening on: 0.0.0.0:17000") || !hasLine(lines, "watched 15s more") {
			t.Errorf("n9e's start line or the settle wait is not in the migrate step:\n%s", strings.Join(lines, "\n"))
		}
	})
	compose, _ := os.ReadFile(filepath.Join(s.dir, "docker-compose.yaml"))
	if !strings.Contains(string(compose), "image: "+repo+":8.4.1\n") || !strings.Contains(string(compose), "command:\n      - /app/n9e\n") {
		t.Errorf("compose after the upgrade:\n%s", compose)
	}
	if !hasColumn("alert_rule", "extra_config") || !schemaHas(`information_schema.tables WHERE table_name = 'notify_rule'`) || !hasIndex("idx_group_last_eval_time") {
		t.Errorf("8.4.1's column, table or background index is missing")
	}
	if got := psql(`SELECT string_agg(ident, ',' ORDER BY id) FROM target`); got != "host-a,host-b" {
		t.Errorf("targets after the upgrade: %s", got)
	}
	if id := imageID(t, repo+":latest"); id != built["8.3.0"] {
		t.Errorf(":latest was moved by the upgrade (now %s): the old tag must stay what it was", id)
	}
	if id := containerImage(t, s, "nightingale"); id != built["8.4.1"] {
		t.Errorf("nightingale runs %s, want the 8.4.1 image", id)
	}

	// rolledBack checks what must hold after a failed hop: the same compose
	// file, the same image tags, the 8.4.1 image running and answering, the
	// same rows and none of the target's schema changes.
	rolledBack := func(hop, composeBefore, rowsBefore string) {
		t.Helper()
		if c, _ := os.ReadFile(filepath.Join(s.dir, "docker-compose.yaml")); string(c) != composeBefore {
			t.Errorf("%s: compose after the rollback:\n%s", hop, c)
		}
		for ref, want := range map[string]string{repo + ":latest": built["8.3.0"], repo + ":8.4.1": built["8.4.1"]} {
			if id := imageID(t, ref); id != want {
				t.Errorf("%s: %s is %s after the rollback, want %s", hop, ref, id, want)
			}
		}
		if id := containerImage(t, s, "nightingale"); id != built["8.4.1"] {
			t.Errorf("%s: nightingale runs %s after the rollback, want the 8.4.1 image", hop, id)
		}
		if !ping() {
			t.Errorf("%s: n9e does not answer /ping after the rollback", hop)
		}
		if hasColumn("target", "host_ip") || hasIndex("idx_target_ident") || hasIndex("idx_cur_event_hash") {
			t.Errorf("%s: 9.x schema changes are still there after the rollback", hop)
		}
		if after := snapshot(); after != rowsBefore {
			t.Errorf("%s: rows after the rollback\n%s\nwant\n%s", hop, after, rowsBefore)
		}
		if d := s.detect(); d.Version != "8.4.1" {
			t.Errorf("%s: after the rollback detect says %s", hop, d.Version)
		}
	}

	// 9.0.0 adds host_ip, then fails on a unique index over two rows for
	// the same host; n9e logs it and serves anyway.
	psql(`INSERT INTO target (ident, note) VALUES ('host-a', 'registered twice by categraf')`)
	composeBefore, before := string(compose), snapshot()
	timed(t, "failing upgrade to v9.0.0 + rollback", func() {
		out, err = s.upshift("upgrade", "--to", "v9.0.0", "--yes", "--json", "--notes", s.notes, "--no-rehearsal")
	})
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit code %d, want 3 (rolled back)\n%s", code, out)
	}
	res := lastResult(t, out)
	if res.Outcome != steps.OutcomeRolledBack || strings.TrimPrefix(res.Reached, "v") != "8.4.1" || res.FailedStep != "v9.0.0/migrate" {
		t.Fatalf("result %+v\n%s", res, out)
	}
	if !strings.Contains(res.Error, "failed to migrate table:&{target}") || !strings.Contains(res.Error, `could not create unique index "idx_target_ident"`) {
		t.Errorf("n9e's own error is not in the result: %s", res.Error)
	}
	// The app's error line, then its start line: n9e kept going, only the
	// log said the migration failed.
	lines := stepLogLines(t, out, "v9.0.0/migrate")
	if e, l := lineIndex(lines, " ERROR migrate/migrate.go:"), lineIndex(lines, "http server listening on"); e < 0 || l < e {
		t.Errorf("want n9e's error line and then its start line in the migrate step:\n%s", strings.Join(lines, "\n"))
	}
	rolledBack("v9.0.0", composeBefore, before)

	// 9.1.1's foreground part passes now, n9e serves, and then the index it
	// builds in the background fails on two current events of one hash.
	psql(`DELETE FROM target WHERE note = 'registered twice by categraf'; INSERT INTO alert_cur_event (group_id, hash, trigger_time) VALUES (1, 'h2', 1700000120)`)
	before = snapshot()
	timed(t, "upgrade to v9.1.1 failing in the background + rollback", func() {
		out, err = s.upshift("upgrade", "--to", "v9.1.1", "--yes", "--json", "--notes", s.notes, "--no-rehearsal")
	})
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit code %d, want 3 (rolled back)\n%s", code, out)
	}
	res = lastResult(t, out)
	if res.Outcome != steps.OutcomeRolledBack || strings.TrimPrefix(res.Reached, "v") != "8.4.1" || res.FailedStep != "v9.1.1/migrate" {
		t.Fatalf("result %+v\n%s", res, out)
	}
	if !strings.Contains(res.Error, "failed to create index idx_cur_event_hash on alert_cur_event") {
		t.Errorf("n9e's background error is not in the result: %s", res.Error)
	}
	lines = stepLogLines(t, out, "v9.1.1/migrate")
	if l, e := lineIndex(lines, "http server listening on"), lineIndex(lines, "failed to create index idx_cur_event_hash"); l < 0 || e < l {
		t.Errorf("want n9e's start line and then its background error in the migrate step:\n%s", strings.Join(lines, "\n"))
	}
	rolledBack("v9.1.1", composeBefore, before)

	// n9e logging in as a role that may only read and write its tables
	// cannot migrate them: preflight refuses before anything changes.
	psql(`CREATE ROLE n9e_dml LOGIN PASSWORD 'n9e-dml-pw'; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO n9e_dml`)
	cfg := filepath.Join(s.dir, "n9eetc_pg", "config.toml")
	if err := os.WriteFile(cfg, []byte(strings.Replace(n9eConfig, "user=root dbname=n9e_v6 password=n9e-e2e-1234", "user=n9e_dml dbname=n9e_v6 password=n9e-dml-pw", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = s.upshift("upgrade", "--to", "v9.0.0", "--yes", "--json", "--notes", s.notes, "--no-rehearsal")
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

	// The admin knows the background index failure is harmless for them:
	// --accept-migration-errors keeps 9.1.1 although n9e logged it, and
	// the journal says so.
	if err := os.WriteFile(cfg, []byte(n9eConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	timed(t, "upgrade to v9.1.1 keeping a logged error", func() {
		out, err = s.upshift("upgrade", "--to", "v9.1.1", "--yes", "--json", "--notes", s.notes, "--accept-migration-errors", `failed to create index idx_cur_event_hash`, "--no-rehearsal")
	})
	if err != nil {
		t.Fatalf("upgrade --accept-migration-errors: %v\n%s", err, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || strings.TrimPrefix(res.Reached, "v") != "9.1.1" {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(out, `"doubt":true`) || !strings.Contains(out, "kept despite the error") {
		t.Errorf("the kept error must be asked (a doubt) and said:\n%s", out)
	}
	if d := s.detect(); strings.TrimPrefix(d.Version, "v") != "9.1.1" {
		t.Errorf("after keeping, detect says %s", d.Version)
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

// stepLogLines are the log lines of one step in a --json event stream.
func stepLogLines(t *testing.T, out, step string) []string {
	t.Helper()
	var lines []string
	for _, raw := range strings.Split(out, "\n") {
		if !strings.HasPrefix(raw, `{"event":"log"`) {
			continue
		}
		var ev steps.Event
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			t.Fatalf("bad event %q: %v", raw, err)
		}
		if ev.Step == step {
			lines = append(lines, ev.Line)
		}
	}
	return lines
}

// lineIndex is the index of the first line containing sub, or -1.
func lineIndex(lines []string, sub string) int {
	for i, l := range lines {
		if strings.Contains(l, sub) {
			return i
		}
	}
	return -1
}

func hasLine(lines []string, sub string) bool { return lineIndex(lines, sub) >= 0 }
