package demo

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pelletier/go-toml/v2"
)

// n9eApp passes for flashcatcloud/nightingale (n9e) on PostgreSQL: one
// process (/app/n9e) reads etc/config.toml ([DB] DBType/DSN), migrates its
// tables the way gorm AutoMigrate does at every start (no version table;
// a failure is only logged and n9e serves anyway), then listens on :17000
// with /ping and /api/n9e/version ("v8.4.1-<commit>") while the tables of
// alert events are migrated in the background. `/app/n9e -version` prints
// the same version. Image tags have no "v" (8.4.1), as goreleaser
// publishes them; the log lines have the shape of n9e's logger.
type n9eApp struct{}

func init() {
	registerPersonality("nightingale", n9eApp{})
	// The real image runs /app/n9e: in a lookalike image that path is the
	// upshift binary, dispatched here by its name.
	if os.Getenv(PersonalityEnv) == "nightingale" && len(os.Args) > 0 && filepath.Base(os.Args[0]) == "n9e" {
		os.Args = []string{os.Args[0], "demo-app", strings.TrimSpace("n9e " + strings.Join(os.Args[1:], " "))}
	}
}

func (n9eApp) versions() []string { return []string{"8.3.0", "8.4.1", "9.0.0", "9.1.1"} }

const n9eCommit = "3f9c2a1"

// n9eStep is one schema change of a release. Like AutoMigrate each is
// idempotent and runs on its own (no transaction), so a failure leaves the
// earlier ones applied.
type n9eStep struct {
	since string
	table string
	sql   string
	// background steps run once n9e serves, as n9e migrates its big alert
	// event tables in a goroutine: their errors come after the start line.
	background bool
}

// n9eSteps: 9.0.0 adds target.host_ip, then a unique index on target.ident
// that a host registered twice breaks; 9.1.1 builds a unique index on
// alert_cur_event.hash in the background, which two current events of one
// hash break after n9e already serves.
var n9eSteps = []n9eStep{
	{since: "8.3.0", table: "users", sql: `CREATE TABLE IF NOT EXISTS users (id BIGSERIAL PRIMARY KEY, username VARCHAR(64) NOT NULL UNIQUE, nickname VARCHAR(64) NOT NULL DEFAULT '', roles VARCHAR(255) NOT NULL DEFAULT '')`},
	{since: "8.3.0", table: "alert_rule", sql: `CREATE TABLE IF NOT EXISTS alert_rule (id BIGSERIAL PRIMARY KEY, group_id BIGINT NOT NULL DEFAULT 0, name VARCHAR(255) NOT NULL, prom_ql TEXT NOT NULL DEFAULT '', severity SMALLINT NOT NULL DEFAULT 2)`},
	{since: "8.3.0", table: "target", sql: `CREATE TABLE IF NOT EXISTS target (id BIGSERIAL PRIMARY KEY, ident VARCHAR(191) NOT NULL, note VARCHAR(255) NOT NULL DEFAULT '', update_at BIGINT NOT NULL DEFAULT 0)`},
	{since: "8.3.0", table: "alert_his_event", sql: `CREATE TABLE IF NOT EXISTS alert_his_event (id BIGSERIAL PRIMARY KEY, group_id BIGINT NOT NULL DEFAULT 0, rule_id BIGINT NOT NULL DEFAULT 0, hash VARCHAR(64) NOT NULL, last_eval_time BIGINT NOT NULL DEFAULT 0)`},
	{since: "8.3.0", table: "alert_cur_event", sql: `CREATE TABLE IF NOT EXISTS alert_cur_event (id BIGSERIAL PRIMARY KEY, group_id BIGINT NOT NULL DEFAULT 0, rule_id BIGINT NOT NULL DEFAULT 0, hash VARCHAR(64) NOT NULL, trigger_time BIGINT NOT NULL DEFAULT 0)`},
	{since: "8.4.1", table: "alert_rule", sql: `ALTER TABLE alert_rule ADD COLUMN IF NOT EXISTS extra_config TEXT NOT NULL DEFAULT ''`},
	{since: "8.4.1", table: "notify_rule", sql: `CREATE TABLE IF NOT EXISTS notify_rule (id BIGSERIAL PRIMARY KEY, name VARCHAR(255) NOT NULL, enable BOOLEAN NOT NULL DEFAULT true)`},
	{since: "8.4.1", table: "alert_his_event", background: true, sql: `CREATE INDEX IF NOT EXISTS idx_group_last_eval_time ON alert_his_event (group_id, last_eval_time)`},
	{since: "9.0.0", table: "target", sql: `ALTER TABLE target ADD COLUMN IF NOT EXISTS host_ip VARCHAR(15) NOT NULL DEFAULT ''`},
	{since: "9.0.0", table: "target", sql: `CREATE UNIQUE INDEX IF NOT EXISTS idx_target_ident ON target (ident)`},
	{since: "9.1.1", table: "alert_cur_event", background: true, sql: `CREATE UNIQUE INDEX IF NOT EXISTS idx_cur_event_hash ON alert_cur_event (hash)`},
}

// n9eLog writes a line the way n9e's logger does:
// "2026-08-21 10:00:00.123456 ERROR migrate/migrate.go:230 message".
func n9eLog(level, where, format string, args ...any) {
	_, _ = fmt.Fprintf(os.Stdout, "%s %s %s %s\n", time.Now().Format("2006-01-02 15:04:05.000000"), level, where, fmt.Sprintf(format, args...))
}

func (a n9eApp) run(ctx context.Context, v, mode string) error {
	if mode == "healthcheck" {
		return probeLocal(ctx, "http://127.0.0.1:17000/ping")
	}
	showVersion, configDir, err := n9eFlags(mode)
	if err != nil {
		return err
	}
	if showVersion {
		_, _ = fmt.Fprintf(os.Stdout, "v%s-%s\n", v, n9eCommit)
		return nil
	}
	cwd, _ := os.Getwd()
	host, _ := os.Hostname()
	fmt.Println("runner.cwd:", cwd)
	fmt.Println("runner.hostname:", host)
	fmt.Println("runner.fd_limits: (soft=1048576, hard=1048576)")
	fmt.Println("runner.vm_limits: (soft=unlimited, hard=unlimited)")
	fail := func(err error) error {
		log.Println("failed to initialize:", err)
		return err
	}
	dsn, err := n9eDSN(filepath.Join(configDir, "config.toml"))
	if err != nil {
		return fail(fmt.Errorf("failed to init config: %w", err))
	}
	if err := n9eWaitHosts(ctx, os.Getenv("WAIT_HOSTS")); err != nil {
		return fail(err)
	}
	conn, err := connectURL(ctx, dsn)
	if err != nil {
		return fail(err)
	}
	background := make(chan struct{})
	defer func() {
		<-background // it shares the connection
		_ = conn.Close(context.Background())
	}()
	n9eMigrate(ctx, conn, v, false)
	rootInit := n9eInitRoot(ctx, conn)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprint(w, "pong") })
	mux.HandleFunc("GET /api/n9e/version", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintf(w, "v%s-%s", v, n9eCommit)
	})
	return serveUntilDone(ctx, ":17000", mux, func() {
		fmt.Println("http server listening on: 0.0.0.0:17000")
		fmt.Printf("please view n9e at  http://%s:17000\n", n9eIP())
		if rootInit {
			fmt.Println("username/password: root/root.2020")
		}
		go func() {
			defer close(background)
			n9eMigrate(ctx, conn, v, true)
		}()
	})
}

// n9eFlags reads n9e's command line: -version, -configs DIR (default
// $N9E_CONFIGS or etc), -crypto-key KEY.
func n9eFlags(mode string) (showVersion bool, configDir string, err error) {
	fields := strings.Fields(mode)
	if len(fields) == 0 || (fields[0] != "n9e" && fields[0] != "serve") {
		return false, "", fmt.Errorf("nightingale lookalike: unknown command %q (n9e [-version] [-configs DIR], healthcheck)", mode)
	}
	configDir = os.Getenv("N9E_CONFIGS")
	if configDir == "" {
		configDir = "etc"
	}
	for i := 1; i < len(fields); i++ {
		name, val, hasVal := strings.Cut(strings.TrimLeft(fields[i], "-"), "=")
		switch name {
		case "version":
			showVersion = true
		case "configs", "crypto-key":
			if !hasVal {
				if i++; i >= len(fields) {
					return false, "", fmt.Errorf("flag needs an argument: -%s", name)
				}
				val = fields[i]
			}
			if name == "configs" {
				configDir = val
			}
		default:
			return false, "", fmt.Errorf("flag provided but not defined: %s", fields[i])
		}
	}
	return showVersion, configDir, nil
}

// n9eMigrate runs the steps up to version v, in the foreground (before n9e
// serves) or the background ones. Like n9e it logs a failure and goes on.
func n9eMigrate(ctx context.Context, conn *pgx.Conn, v string, background bool) {
	for _, st := range n9eSteps {
		if st.background != background || !slAtMostIn(n9eApp{}.versions(), st.since, v) {
			continue
		}
		_, err := conn.Exec(ctx, st.sql)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case background:
			name := strings.Fields(strings.SplitN(st.sql, " ON ", 2)[0])
			n9eLog("ERROR", "migrate/migrate.go:246", "failed to create index %s on %s: %v", name[len(name)-1], st.table, err)
		default:
			n9eLog("ERROR", "migrate/migrate.go:283", "failed to migrate table:&{%s} %v", st.table, err)
		}
	}
}

// n9eInitRoot creates the root user on the first start, as n9e does.
func n9eInitRoot(ctx context.Context, conn *pgx.Conn) bool {
	tag, err := conn.Exec(ctx, `INSERT INTO users (username, nickname, roles) VALUES ('root', '超管', 'Admin') ON CONFLICT (username) DO NOTHING`)
	if err != nil {
		n9eLog("ERROR", "models/user.go:1012", "failed to init root user: %v", err)
		return false
	}
	return tag.RowsAffected() == 1
}

// n9eWaitHosts waits until every "host:port" of WAIT_HOSTS accepts TCP.
func n9eWaitHosts(ctx context.Context, hosts string) error {
	deadline := time.Now().Add(60 * time.Second)
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		for {
			var d net.Dialer
			dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			c, err := d.DialContext(dctx, "tcp", h)
			cancel()
			if err == nil {
				_ = c.Close()
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("wait for %s: %w", h, err)
			}
			select {
			case <-time.After(500 * time.Millisecond):
			case <-ctx.Done():
				return fmt.Errorf("wait for %s: %w", h, ctx.Err())
			}
		}
	}
	return nil
}

// n9eIP is the address n9e announces (its first non-loopback IPv4).
func n9eIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return "127.0.0.1"
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
	if cfg.DB.DSN == "" {
		return "", errors.New(path + ": [DB] DSN is empty")
	}
	return cfg.DB.DSN, nil
}
