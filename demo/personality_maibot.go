package demo

import (
	"context"
	"crypto/md5" //nolint:gosec // MaiBot itself compares MD5s of its documents
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // MaiBot keeps its data in SQLite
)

// maibotApp passes for sengokucola/maibot 1.x: one core process, data in
// SQLite (data/MaiBot.db, WAL mode) with the schema version in PRAGMA
// user_version, migrations at every start, a refusal to start on a database
// newer than the code, the EULA/PRIVACY MD5 gate, and the WebUI health
// route on :8001. Its image ships /MaiMBot/pyproject.toml, EULA.md and
// PRIVACY.md (MaiBotImageFiles).
type maibotApp struct{}

func init() { registerPersonality("maibot", maibotApp{}) }

func (maibotApp) versions() []string { return []string{"1.1.0", "1.2.0", "1.2.1"} }

// MaiBotRoot is where the lookalike image keeps the app, as the real one.
const MaiBotRoot = "/MaiMBot"

type mbMigration struct {
	to    int64 // user_version after it
	since string
	sql   []string
}

// mbMigrations: a fresh database gets every one of them; 1.2.1's unique
// index fails on real data holding the same person twice.
var mbMigrations = []mbMigration{
	{38, "1.1.0", []string{
		`CREATE TABLE chat_streams (id INTEGER PRIMARY KEY, platform TEXT NOT NULL, group_id TEXT, created REAL NOT NULL)`,
		`CREATE TABLE messages (id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, user_id TEXT NOT NULL, text TEXT NOT NULL, time REAL NOT NULL)`,
		`CREATE TABLE person_info (id INTEGER PRIMARY KEY, platform TEXT NOT NULL, user_id TEXT NOT NULL, nickname TEXT)`,
		`CREATE TABLE online_time (id INTEGER PRIMARY KEY, start REAL NOT NULL, duration REAL NOT NULL)`,
	}},
	{39, "1.2.0", []string{
		`ALTER TABLE messages ADD COLUMN reply_to INTEGER`,
		`CREATE TABLE expressions (id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, situation TEXT NOT NULL, style TEXT NOT NULL)`,
	}},
	{40, "1.2.1", []string{
		`CREATE UNIQUE INDEX idx_person_info_platform_user ON person_info (platform, user_id)`,
	}},
}

func mbLatest(v string) int64 {
	var latest int64
	for _, m := range mbMigrations {
		if slAtMostIn(maibotApp{}.versions(), m.since, v) {
			latest = m.to
		}
	}
	return latest
}

// slAtMostIn reports whether since comes at or before v in vs.
func slAtMostIn(vs []string, since, v string) bool {
	i, j := -1, -1
	for k, x := range vs {
		if x == since {
			i = k
		}
		if x == v {
			j = k
		}
	}
	return i >= 0 && i <= j
}

// MaiBotImageFiles are the files a lookalike image of version v ships under
// MaiBotRoot: 1.2.0 rewrote its EULA, so its MD5 changes there.
func MaiBotImageFiles(v string) map[string]string {
	eula := "# MaiBot 最终用户许可协议 (EULA)\n\n更新日期：2026-03-01\n\n1. 使用本软件即表示你同意本协议。\n2. 你需要自行承担使用大模型产生内容的责任。\n"
	if v != "1.1.0" {
		eula = "# MaiBot 最终用户许可协议 (EULA)\n\n更新日期：2026-07-15\n\n1. 使用本软件即表示你同意本协议。\n2. 你需要自行承担使用大模型产生内容的责任。\n3. 插件由第三方提供，其行为不由本项目负责。\n"
	}
	// The config templates: 1.2.0 adds bot.alias_names and renames
	// bot.qq_account to bot.account.
	botTemplate := "[inner]\nversion = \"8.14.37\" # 配置文件版本\n\n[bot]\nplatform = \"qq\"\nqq_account = 0 # 机器人账号\nnickname = \"麦麦\"\n"
	modelTemplate := "[inner]\nversion = \"1.17.8\"\n"
	if v != "1.1.0" {
		botTemplate = "[inner]\nversion = \"8.15.0\" # 配置文件版本\n\n[bot]\nplatform = \"qq\"\naccount = 0 # 机器人账号\nnickname = \"麦麦\"\nalias_names = [] # 别名\n"
	}
	return map[string]string{
		"template/bot_config_template.toml":   botTemplate,
		"template/model_config_template.toml": modelTemplate,
		"pyproject.toml":                      "[project]\nname = \"MaiBot\"\nversion = \"" + v + "\"\ndescription = \"MaiCore\"\nrequires-python = \">=3.10\"\n",
		"EULA.md":                             eula,
		"PRIVACY.md":                          "# MaiBot 隐私条款\n\n更新日期：2026-03-01\n\n本软件在本地保存聊天记录，用于生成回复。\n",
	}
}

// MD5Hex is the hex MD5 of s, as MaiBot compares EULA_AGREE.
func MD5Hex(s string) string {
	sum := md5.Sum([]byte(s)) //nolint:gosec // the app's own check
	return hex.EncodeToString(sum[:])
}

func (a maibotApp) run(ctx context.Context, v, mode string) error {
	log.SetFlags(0)
	logf := func(level, format string, args ...any) {
		log.Printf("%s [%s] %s", time.Now().Format("01-02 15:04:05"), level, fmt.Sprintf(format, args...))
	}
	switch mode {
	case "healthcheck":
		return probeLocal(ctx, "http://127.0.0.1:8001/api/webui/health")
	case "python bot.py", "bot.py", "":
	default:
		return fmt.Errorf("maibot lookalike: unknown command %q (python bot.py, healthcheck)", mode)
	}
	// Like the real config module, the version is logged before anything
	// else: this line says nothing about the database yet.
	logf("INFO", "MaiCore当前版本: %s", v)
	if err := mbCheckTerms(); err != nil {
		logf("WARNING", "%v", err)
		logf("INFO", "EULA或隐私条款内容已变更，请在阅读后重新确认。输入'同意'或'confirmed'继续运行")
		log.Printf("Traceback (most recent call last):\n  File \"/MaiMBot/bot.py\", line 412, in <module>\nEOFError: EOF when reading a line")
		return errors.New("EOFError: EOF when reading a line")
	}
	dbPath := filepath.Join(MaiBotRoot, "data", "MaiBot.db")
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=journal_mode(wal)&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("open %s: %w", dbPath, err)
	}
	db.SetMaxOpenConns(1)
	defer func() { _ = db.Close() }()
	if err := mbMigrate(ctx, db, v, logf); err != nil {
		log.Printf("Traceback (most recent call last):\n  File \"/MaiMBot/src/common/database/migrations/bootstrap.py\", line 88, in run_migrations\nsqlite3.IntegrityError: %v", err)
		return err
	}
	go mbChat(ctx, db)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/webui/health", func(w http.ResponseWriter, r *http.Request) {
		if err := db.PingContext(r.Context()); err != nil {
			http.Error(w, `{"status":"unhealthy"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprint(w, `{"status":"healthy","service":"MaiBot WebUI"}`)
	})
	return serveUntilDone(ctx, ":8001", mux, func() {
		logf("INFO", "WebUI 服务器已启动: http://0.0.0.0:8001")
	})
}

// mbCheckTerms is the EULA/PRIVACY gate: the MD5 of each document in the
// image must equal the value the admin agreed to.
func mbCheckTerms() error {
	for _, d := range []struct{ file, env string }{{"EULA.md", "EULA_AGREE"}, {"PRIVACY.md", "PRIVACY_AGREE"}} {
		b, err := os.ReadFile(filepath.Join(MaiBotRoot, d.file))
		if err != nil {
			return fmt.Errorf("read %s: %w", d.file, err)
		}
		if got := MD5Hex(string(b)); os.Getenv(d.env) != got {
			return fmt.Errorf("%s 的哈希 %s 与 %s=%q 不一致", d.file, got, d.env, os.Getenv(d.env))
		}
	}
	return nil
}

func mbMigrate(ctx context.Context, db *sql.DB, v string, logf func(string, string, ...any)) error {
	var cur int64
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&cur); err != nil {
		return fmt.Errorf("read user_version: %w", err)
	}
	latest := mbLatest(v)
	if cur > latest {
		logf("ERROR", "当前数据库版本高于代码内注册的最新迁移版本，已拒绝继续启动。(数据库 %d > 代码 %d)", cur, latest)
		return fmt.Errorf("database version %d is newer than this code (%d)", cur, latest)
	}
	if cur == latest {
		logf("INFO", "数据库结构已是最新 (user_version=%d)", cur)
		return nil
	}
	for _, m := range mbMigrations {
		if m.to <= cur || m.to > latest {
			continue
		}
		logf("INFO", "执行数据库迁移 v%d -> v%d", cur, m.to)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration to v%d: %w", m.to, err)
		}
		for _, q := range m.sql {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("migration to v%d: %w", m.to, err)
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, m.to)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migration to v%d: %w", m.to, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration to v%d: %w", m.to, err)
		}
		cur = m.to
	}
	logf("INFO", "数据库迁移完成 (user_version=%d)", cur)
	return nil
}

// mbChat is the bot at work: it records its online time every 300 ms, so
// the database always has fresh pages in its -wal.
func mbChat(ctx context.Context, db *sql.DB) {
	start := time.Now()
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = db.ExecContext(ctx, `INSERT INTO online_time (start, duration) VALUES (?, ?)`, float64(start.Unix()), time.Since(start).Seconds())
		}
	}
}
