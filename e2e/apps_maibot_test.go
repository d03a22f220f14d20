package e2e

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// mbCompose is the 1.x repo-root docker-compose.yml shape: one core on the
// floating :latest tag, the EULA/PRIVACY hashes pinned in its environment,
// config and data bind-mounted. napcat and sqlite-web (other images) are
// left out; the container name carries a suffix so test runs never collide.
const mbCompose = `services:
  core:
    container_name: maim-bot-core-${MAI_SUFFIX}
    image: sengokucola/maibot:latest
    environment:
      - TZ=Asia/Shanghai
      - EULA_AGREE=%s # 同意EULA
      - PRIVACY_AGREE=%s # 同意EULA
      - MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED=1
    ports:
      - "${WEBUI_PORT}:8001"
    volumes:
      - ./docker-config/mmc:/MaiMBot/config
      - ./data/MaiMBot:/MaiMBot/data
    restart: always
    networks:
      - maim_bot
networks:
  maim_bot:
    driver: bridge
`

var mbNotes = map[string]string{
	"1.1.0": "# [1.1.0] - 2026-7-1\n\n### 🌟 主要功能更改\n- WebUI 支持查看聊天流\n\n### 🐛 细节修复\n- 修复表情包偶尔重复发送\n",
	"1.2.0": "# [1.2.0] - 2026-7-20\n\n**注意：此版本改动内容较多，请阅读以下说明**\n\n- EULA 已更新（新增插件条款），升级后需要重新同意\n\n### 🌟 主要功能更改\n- 新增表达方式学习\n\n### 🐛 细节修复\n- 修复WebUI偶发的登录失效\n",
	"1.2.1": "# [1.2.1] - 2026-8-19\n\n### 🌟 主要功能更改\n- 同一平台的同一用户只保留一份用户信息\n\n### 🐛 细节修复\n- 修复关闭时偶发的数据库锁\n",
}

// TestMaiBotLookalike: a MaiBot 1.x stack (SQLite in a bind-mounted data
// dir, floating :latest, EULA hashes in the compose file) is detected
// (version from pyproject.toml in the container, schema from PRAGMA
// user_version), backed up with the core stopped, upgraded through a
// changed EULA (refused by --yes alone, agreed with --accept-terms), and
// rolled back when the next version's migration fails on data: the old
// image, the old hashes and the old database come back together.
func TestMaiBotLookalike(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	buildShellLookalike(t, shellLookalike{
		personality: "maibot", repo: "sengokucola/maibot", binAt: "/upshift", workdir: demo.MaiBotRoot, expose: 8001,
		files: func(v string) map[string]string {
			out := map[string]string{}
			for name, body := range demo.MaiBotImageFiles(v) {
				out[demo.MaiBotRoot+"/"+name] = body
			}
			return out
		},
		entrypoint: []string{"/upshift", "demo-app"}, cmd: []string{"python", "bot.py"},
	})
	files110 := demo.MaiBotImageFiles("1.1.0")
	files120 := demo.MaiBotImageFiles("1.2.0")
	eula110, eula120 := demo.MD5Hex(files110["EULA.md"]), demo.MD5Hex(files120["EULA.md"])
	privacy := demo.MD5Hex(files110["PRIVACY.md"])
	if eula110 == eula120 {
		t.Fatal("the lookalike's 1.2.0 must change its EULA")
	}
	s := newAppStack(t, "mai", map[string]string{
		"docker-compose.yml":                  fmt.Sprintf(mbCompose, eula110, privacy),
		".env":                                fmt.Sprintf("MAI_SUFFIX=%s\nWEBUI_PORT=%s\n", testenv.UniqueName("e2e"), freePort(t)),
		"docker-config/mmc/bot_config.toml":   "[inner]\nversion = \"8.14.37\" # 配置文件版本\n\n[bot]\nplatform = \"qq\"\n# 我的机器人账号\nqq_account = 10001 # 机器人账号\nnickname = \"小麦\"\n",
		"docker-config/mmc/model_config.toml": "[inner]\nversion = \"1.17.8\"\n",
		"data/MaiMBot/.keep":                  "",
	}, nil, mbNotes)
	timed(t, "first start", func() {
		if out, err := s.compose("up", "-d", "--wait", "--wait-timeout", "120"); err != nil {
			t.Fatalf("up: %v\n%s", err, out)
		}
	})
	dbPath := filepath.Join(s.dir, "data", "MaiMBot", "MaiBot.db")
	waitFor(t, "the database to be created", func() bool { _, err := os.Stat(dbPath); return err == nil })
	exec := func(q string) {
		t.Helper()
		db := openSQLite(t, dbPath)
		defer func() { _ = db.Close() }()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	query := func(q string) string {
		t.Helper()
		db := openSQLite(t, dbPath)
		defer func() { _ = db.Close() }()
		var out sql.NullString
		if err := db.QueryRow(q).Scan(&out); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return out.String
	}
	waitFor(t, "migrations of 1.1.0", func() bool { return sqliteUserVersion(t, dbPath) == 38 })
	exec(`INSERT INTO person_info (platform, user_id, nickname) VALUES ('qq', '20001', '小明'), ('qq', '20002', '小红')`)
	exec(`INSERT INTO messages (chat_id, user_id, text, time) VALUES (1, '20001', '早上好', 1), (1, '20002', '晚安', 2)`)

	var d detected
	timed(t, "detect", func() { d = s.detect() })
	if d.App != "maibot" || d.Version != "1.1.0" || !strings.Contains(d.VersionSource, "pyproject.toml") {
		t.Fatalf("detect: %+v", d)
	}
	if d.Schema.Tool != "sqlite-user-version" || d.Schema.Head != "38" || !d.DB.Reachable || d.DB.Service != "core" {
		t.Errorf("detect schema/db: %+v %+v", d.Schema, d.DB)
	}
	if r := rolesOf(d); r["core"] != "app" {
		t.Errorf("roles %v", r)
	}
	out, err := s.upshift("plan", "--to", "1.2.1", "--json", "--notes", s.notes)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	if p := s.plan("1.2.1"); p.hopList() != "1.2.1" || p.Blocked {
		t.Errorf("plan to 1.2.1: %s blocked=%v", p.hopList(), p.Blocked)
	}
	if !strings.Contains(out, "需要重新同意") {
		t.Errorf("the plan does not warn about 1.2.0's EULA change:\n%s", out)
	}

	timed(t, "backup (core stopped for the copy)", func() {
		out, err := s.upshift("backup", "--json")
		if err != nil || lastResult(t, out).Outcome != steps.OutcomeSuccess {
			t.Fatalf("backup: %v\n%s", err, out)
		}
		// Stopped, core cannot be asked its version: the set is still named
		// after the version that ran, not the floating tag.
		if id := lastResult(t, out).Backup; !strings.HasSuffix(id, "-1.1.0") {
			t.Errorf("backup set %s is not named after 1.1.0", id)
		}
		for _, want := range []string{`"step":"stop"`, "SQLite file /MaiMBot/data/MaiBot.db (container stopped)", `"step":"start"`} {
			if !strings.Contains(out, want) {
				t.Errorf("backup events lack %s:\n%s", want, out)
			}
		}
	})

	// --yes alone never agrees to a changed EULA: refused before any change.
	out, err = s.upshift("upgrade", "--to", "1.2.0", "--yes", "--json", "--notes", s.notes)
	if code := exitCode(err); code != 1 || !strings.Contains(out, "--accept-terms") || !strings.Contains(out, eula120) {
		t.Fatalf("upgrade without --accept-terms: exit %d\n%s", code, out)
	}
	if res := lastResult(t, out); !res.Unchanged || res.FailedStep != "1.2.0/terms" {
		t.Errorf("result %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(s.dir, "docker-compose.yml")); !strings.Contains(string(b), "maibot:latest") || !strings.Contains(string(b), eula110) {
		t.Errorf("the compose file changed although the upgrade was refused:\n%s", b)
	}
	if d := s.detect(); d.Version != "1.1.0" {
		t.Errorf("after the refusal detect says %s", d.Version)
	}

	// The admin's profile knows that 1.2.0's template renamed qq_account.
	builtinYAML, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "profile", "builtin", "maibot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	own := strings.Replace(string(builtinYAML), "    source: image:/MaiMBot/template/bot_config_template.toml\n    service: core\n    format: toml\n",
		"    source: image:/MaiMBot/template/bot_config_template.toml\n    service: core\n    format: toml\n    renames:\n      - {from: bot.qq_account, to: bot.account, version: 1.2.0}\n", 1)
	ownProfile := filepath.Join(filepath.Dir(s.dir), "maibot-own.yaml")
	if own == string(builtinYAML) || os.WriteFile(ownProfile, []byte(own), 0o644) != nil {
		t.Fatal("could not write the admin's profile")
	}
	timed(t, "upgrade 1.1.0 → 1.2.0 --accept-terms", func() {
		out, err = s.upshift("upgrade", "--to", "1.2.0", "--yes", "--accept-terms", "--json", "--notes", s.notes, "--profile", ownProfile)
		if err != nil {
			t.Fatalf("upgrade: %v\n%s", err, out)
		}
		if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "1.2.0" {
			t.Fatalf("result %+v\n%s", res, out)
		}
		if !strings.Contains(out, "执行数据库迁移 v38 -\\u003e v39") || !strings.Contains(out, "WebUI 服务器已启动") {
			t.Errorf("the app's migration log is not in the events:\n%s", out)
		}
	})
	compose, _ := os.ReadFile(filepath.Join(s.dir, "docker-compose.yml"))
	if !strings.Contains(string(compose), "sengokucola/maibot:1.2.0") || !strings.Contains(string(compose), "EULA_AGREE="+eula120+" # 同意EULA") || !strings.Contains(string(compose), "PRIVACY_AGREE="+privacy) {
		t.Errorf("compose after the upgrade:\n%s", compose)
	}
	if v := sqliteUserVersion(t, dbPath); v != 39 {
		t.Errorf("user_version %d, want 39", v)
	}
	// bot_config.toml merged from the 1.1.0 image's template to 1.2.0's:
	// the new key, the admin's values and comments, the renamed key with
	// the admin's value.
	botConfig, _ := os.ReadFile(filepath.Join(s.dir, "docker-config", "mmc", "bot_config.toml"))
	for _, want := range []string{`version = "8.15.0"`, "account = 10001", `nickname = "小麦"`, "alias_names = []", "# 我的机器人账号"} {
		if !strings.Contains(string(botConfig), want) {
			t.Errorf("bot_config.toml after the upgrade lacks %q:\n%s", want, botConfig)
		}
	}
	if strings.Contains(string(botConfig), "qq_account") {
		t.Errorf("the renamed key is still there:\n%s", botConfig)
	}
	if got := query(`SELECT group_concat(nickname, ',') FROM (SELECT nickname FROM person_info ORDER BY id)`); got != "小明,小红" {
		t.Errorf("person_info after the upgrade: %q", got)
	}

	// 1.2.1's unique index fails on the same person recorded twice.
	exec(`INSERT INTO person_info (platform, user_id, nickname) VALUES ('qq', '20001', '小明(新)')`)
	exec(`INSERT INTO messages (chat_id, user_id, text, time, reply_to) VALUES (1, '20001', '在吗', 3, 1)`)
	snapshot := func() string {
		return query(`SELECT group_concat(x, ';') FROM (SELECT 'p' || id || ':' || user_id || ':' || nickname AS x FROM person_info UNION ALL SELECT 'm' || id || ':' || text || ':' || ifnull(reply_to, '-') FROM messages ORDER BY 1)`)
	}
	before := snapshot()
	imageBefore := containerImage(t, s, "core")
	timed(t, "failing upgrade to 1.2.1 + rollback", func() {
		out, err = s.upshift("upgrade", "--to", "1.2.1", "--yes", "--accept-terms", "--json", "--notes", s.notes)
	})
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit code %d, want 3 (rolled back)\n%s", code, out)
	}
	res := lastResult(t, out)
	if res.Outcome != steps.OutcomeRolledBack || res.Reached != "1.2.0" || res.FailedStep != "1.2.1/migrate" {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(res.Error, "UNIQUE constraint failed") && !strings.Contains(res.Error, "constraint failed") {
		t.Errorf("the migration's own error is not in the result: %s", res.Error)
	}
	if !strings.Contains(out, `"step":"1.2.1/terms"`) || !strings.Contains(out, "nothing to do: the documents of 1.2.1 are the ones already agreed to") {
		t.Errorf("1.2.1 has the agreed EULA: the terms step should be skipped:\n%s", out)
	}
	compose, _ = os.ReadFile(filepath.Join(s.dir, "docker-compose.yml"))
	if !strings.Contains(string(compose), "sengokucola/maibot:1.2.0") || !strings.Contains(string(compose), eula120) {
		t.Errorf("compose after the rollback:\n%s", compose)
	}
	if v := sqliteUserVersion(t, dbPath); v != 39 {
		t.Errorf("user_version after the rollback %d, want 39", v)
	}
	if b, _ := os.ReadFile(filepath.Join(s.dir, "docker-config", "mmc", "bot_config.toml")); string(b) != string(botConfig) {
		t.Errorf("bot_config.toml after the rollback is not 1.2.0's byte for byte:\n%s", b)
	}
	if after := snapshot(); after != before {
		t.Errorf("rows after the rollback:\n%s\nwant\n%s", after, before)
	}
	if img := containerImage(t, s, "core"); img != imageBefore {
		t.Errorf("core runs image %s after the rollback, want %s", img, imageBefore)
	}
	if d := s.detect(); d.Version != "1.2.0" || d.Schema.Head != "39" {
		t.Errorf("after the rollback detect says %s at %s", d.Version, d.Schema.Head)
	}
}

func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func sqliteUserVersion(t *testing.T, path string) int64 {
	t.Helper()
	db := openSQLite(t, path)
	defer func() { _ = db.Close() }()
	var v int64
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return -1
	}
	return v
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// containerImage is the image ID the service's container runs.
func containerImage(t *testing.T, s *appStack, service string) string {
	t.Helper()
	out, err := s.compose("ps", "-q", service)
	if err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("compose ps %s: %v %s", service, err, out)
	}
	img, err := testenv.Docker("inspect", "-f", "{{.Image}}", strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("inspect: %v %s", err, img)
	}
	return strings.TrimSpace(img)
}
