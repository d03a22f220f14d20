package demo

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pelletier/go-toml/v2"
)

// n9eApp passes for flashcatcloud/nightingale (n9e) on PostgreSQL: one
// process (/app/n9e) reads /app/etc/config.toml, migrates its tables the
// way gorm AutoMigrate does at every start (no version table; a failure is
// only logged and n9e serves anyway), then listens on :17000 with /ping and
// /api/n9e/version ("v8.4.1-<commit>"). `/app/n9e -version` prints the
// same. Image tags have no "v" (8.4.1), as goreleaser publishes them.
type n9eApp struct{}

func init() {
	registerPersonality("nightingale", n9eApp{})
	// The real image runs /app/n9e (through sh -c): in a lookalike image
	// that path is the upshift binary, dispatched here by its name.
	if os.Getenv(PersonalityEnv) == "nightingale" && len(os.Args) > 0 && filepath.Base(os.Args[0]) == "n9e" {
		os.Args = []string{os.Args[0], "demo-app", strings.TrimSpace("n9e " + strings.Join(os.Args[1:], " "))}
	}
}

func (n9eApp) versions() []string { return []string{"8.3.0", "8.4.1", "9.0.0"} }

const n9eCommit = "3f9c2a1"

type n9eStep struct {
	since string
	sql   string
}

// n9eSteps are what AutoMigrate of each release does: idempotent, one
// statement at a time, not in a transaction. 9.0.0 adds a column, then
// a unique index on target.ident that real data with the same host twice
// breaks, leaving the schema half-changed.
var n9eSteps = []n9eStep{
	{"8.3.0", `CREATE TABLE IF NOT EXISTS users (id BIGSERIAL PRIMARY KEY, username VARCHAR(64) NOT NULL UNIQUE, nickname VARCHAR(64) NOT NULL DEFAULT '', roles VARCHAR(255) NOT NULL DEFAULT '')`},
	{"8.3.0", `CREATE TABLE IF NOT EXISTS alert_rule (id BIGSERIAL PRIMARY KEY, group_id BIGINT NOT NULL DEFAULT 0, name VARCHAR(255) NOT NULL, prom_ql TEXT NOT NULL DEFAULT '', severity SMALLINT NOT NULL DEFAULT 2)`},
	{"8.3.0", `CREATE TABLE IF NOT EXISTS target (id BIGSERIAL PRIMARY KEY, ident VARCHAR(191) NOT NULL, note VARCHAR(255) NOT NULL DEFAULT '', update_at BIGINT NOT NULL DEFAULT 0)`},
	{"8.4.1", `ALTER TABLE alert_rule ADD COLUMN IF NOT EXISTS extra_config TEXT NOT NULL DEFAULT ''`},
	{"8.4.1", `CREATE TABLE IF NOT EXISTS notify_rule (id BIGSERIAL PRIMARY KEY, name VARCHAR(255) NOT NULL, enable BOOLEAN NOT NULL DEFAULT true)`},
	{"9.0.0", `ALTER TABLE target ADD COLUMN IF NOT EXISTS host_ip VARCHAR(15) NOT NULL DEFAULT ''`},
	{"9.0.0", `CREATE UNIQUE INDEX IF NOT EXISTS idx_target_ident ON target (ident)`},
}

func n9eLog(level, where, format string, args ...any) {
	_, _ = fmt.Fprintf(os.Stdout, "%s %s %s %s\n", time.Now().Format("2006-01-02 15:04:05.000000"), level, where, fmt.Sprintf(format, args...))
}

func (a n9eApp) run(ctx context.Context, v, mode string) error {
	switch mode {
	case "healthcheck":
		return probeLocal(ctx, "http://127.0.0.1:17000/ping")
	case "n9e -version", "n9e --version", "n9e -v":
		_, _ = fmt.Fprintf(os.Stdout, "v%s-%s\n", v, n9eCommit)
		return nil
	case "n9e", "serve":
	default:
		return fmt.Errorf("nightingale lookalike: unknown command %q (n9e, n9e -version, healthcheck)", mode)
	}
	dsn, err := n9eDSN(filepath.Join("/app", "etc", "config.toml"))
	if err != nil {
		n9eLog("ERROR", "center/center.go:52", "failed to init config: %v", err)
		return err
	}
	fmt.Println("runner.cwd: /app")
	fmt.Println("runner.hostname:", hostname())
	conn, err := connectURL(ctx, dsn)
	if err != nil {
		n9eLog("ERROR", "center/center.go:71", "failed to init database: %v", err)
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	n9eMigrate(ctx, conn, v)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprint(w, "pong") })
	mux.HandleFunc("GET /api/n9e/version", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintf(w, "v%s-%s", v, n9eCommit)
	})
	return serveUntilDone(ctx, ":17000", mux, func() {
		fmt.Println("http server listening on: 0.0.0.0:17000")
	})
}

// n9eMigrate runs every statement up to version v; like gorm AutoMigrate
// in n9e, an error is logged and the start goes on.
func n9eMigrate(ctx context.Context, conn *pgx.Conn, v string) {
	for _, st := range n9eSteps {
		if !slAtMostIn(n9eApp{}.versions(), st.since, v) {
			continue
		}
		if _, err := conn.Exec(ctx, st.sql); err != nil {
			n9eLog("ERROR", "migrate/migrate.go:26", "failed to migrate table: %v", err)
			return
		}
	}
}

// n9eDSN reads [DB] DSN from n9e's config.toml.
func n9eDSN(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	var cfg struct {
		DB struct {
			DBType string
			DSN    string
		}
	}
	if err := toml.Unmarshal(b, &cfg); err != nil {
		return "", fmt.Errorf("parse %s: %w", path, err)
	}
	if cfg.DB.DBType != "postgres" {
		return "", fmt.Errorf("%s: DBType %q: the lookalike speaks postgres only", path, cfg.DB.DBType)
	}
	return cfg.DB.DSN, nil
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
