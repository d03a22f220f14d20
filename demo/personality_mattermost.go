package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seed-e7a9fb3b/upshift/releases/version"
)

// mattermostApp passes for mattermost/mattermost-*-edition: the server on
// :8065 migrates its database at every start the way morph does (one row per
// migration in db_migrations), refuses a too-old PostgreSQL, and answers
// /api/v4/system/ping and /api/v4/config/client?format=old.
type mattermostApp struct{}

func init() { registerPersonality("mattermost", mattermostApp{}) }

type mmMigration struct {
	version int64
	name    string
	since   string // first release that ships it
	sql     string
}

// mmMigrations are numbered like morph's; 11.7.x adds a unique index that
// fails on real data with duplicate e-mail addresses.
var mmMigrations = []mmMigration{
	{1, "create_users", "10.5.2", `CREATE TABLE users (id VARCHAR(26) PRIMARY KEY, username VARCHAR(64) NOT NULL, email VARCHAR(128) NOT NULL, createat BIGINT NOT NULL DEFAULT 0)`},
	{2, "create_channels", "10.5.2", `CREATE TABLE channels (id VARCHAR(26) PRIMARY KEY, name VARCHAR(64) NOT NULL, displayname VARCHAR(64) NOT NULL DEFAULT '')`},
	{3, "create_posts", "10.5.2", `CREATE TABLE posts (id VARCHAR(26) PRIMARY KEY, channelid VARCHAR(26) NOT NULL, userid VARCHAR(26) NOT NULL, message TEXT NOT NULL DEFAULT '', createat BIGINT NOT NULL DEFAULT 0)`},
	{128, "create_scheduled_posts", "10.11.17", `CREATE TABLE scheduledposts (id VARCHAR(26) PRIMARY KEY, channelid VARCHAR(26) NOT NULL, message TEXT NOT NULL DEFAULT '', scheduledat BIGINT NOT NULL)`},
	{131, "add_users_lastlogin", "10.11.17", `ALTER TABLE users ADD COLUMN lastlogin BIGINT NOT NULL DEFAULT 0`},
	{142, "users_email_unique", "11.7.2", `CREATE UNIQUE INDEX idx_users_email_unique ON users (lower(email))`},
}

func (mattermostApp) versions() []string { return []string{"10.5.2", "10.11.17", "11.7.2", "11.7.3"} }

func mmLog(level, msg string, fields ...any) {
	m := map[string]any{"timestamp": time.Now().UTC().Format("2006-01-02 15:04:05.000 Z"), "level": level, "msg": msg}
	for i := 0; i+1 < len(fields); i += 2 {
		m[fmt.Sprint(fields[i])] = fields[i+1]
	}
	b, _ := json.Marshal(m)
	_, _ = fmt.Fprintln(os.Stdout, string(b))
}

func (a mattermostApp) run(ctx context.Context, v, mode string) error {
	switch mode {
	case "healthcheck":
		return probeLocal(ctx, "http://127.0.0.1:8065/api/v4/system/ping")
	case "mattermost", "server", "serve":
	default:
		return fmt.Errorf("mattermost lookalike: unknown command %q (mattermost, healthcheck)", mode)
	}
	mmLog("info", "Server is initializing...", "go_version", "go1.24")
	conn, err := connectURL(ctx, os.Getenv("MM_SQLSETTINGS_DATASOURCE"))
	if err != nil {
		mmLog("fatal", "Failed to initialize the database.", "error", err.Error())
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if err := mmCheckPostgres(ctx, conn, v); err != nil {
		mmLog("fatal", "Error initializing server.", "error", err.Error())
		return err
	}
	if err := mmMigrate(ctx, conn, v); err != nil {
		mmLog("fatal", "Failed to apply database migrations.", "error", err.Error())
		return err
	}
	mmWriteConfig(v)
	return serveUntilDone(ctx, ":8065", mmHandler(conn, v), func() {
		mmLog("info", "Server is listening on [::]:8065", "address", "[::]:8065")
	})
}

// mmCheckPostgres refuses a server below the minimum of this release (13
// from 10.6, 14 from 11.0), as Mattermost does.
func mmCheckPostgres(ctx context.Context, conn *pgx.Conn, v string) error {
	var num int
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&num); err != nil {
		return fmt.Errorf("read the PostgreSQL version: %w", err)
	}
	want := 11
	ver := version.MustParse(v)
	switch {
	case ver.Compare(version.MustParse("11.0.0")) >= 0:
		want = 14
	case ver.Compare(version.MustParse("10.6.0")) >= 0:
		want = 13
	}
	if num/10000 < want {
		return fmt.Errorf("minimum required postgres version is %d.0; found %d.%d", want, num/10000, num%10000)
	}
	return nil
}

func mmMigrate(ctx context.Context, conn *pgx.Conn, v string) error {
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS db_migrations (version BIGINT NOT NULL PRIMARY KEY, name VARCHAR NOT NULL)`); err != nil {
		return fmt.Errorf("create db_migrations: %w", err)
	}
	applied := map[int64]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM db_migrations`)
	if err != nil {
		return fmt.Errorf("read db_migrations: %w", err)
	}
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("read db_migrations: %w", err)
		}
		applied[n] = true
	}
	rows.Close()
	ver := version.MustParse(v)
	count := 0
	for _, m := range mmMigrations {
		if applied[m.version] || version.MustParse(m.since).Compare(ver) > 0 {
			continue
		}
		mmLog("info", "Applying migration", "version", m.version, "name", m.name)
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if err := execAll(ctx, tx, m.sql); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO db_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("record migration %d: %w", m.version, err)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("driver: failed to apply migration %d %s: %w", m.version, m.name, err)
		}
		count++
	}
	mmLog("info", "Migrations applied", "count", count)
	return nil
}

// mmWriteConfig writes config.json on first start, like the server does.
func mmWriteConfig(v string) {
	p := "/mattermost/config/config.json"
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		return
	}
	cfg := map[string]any{
		"ServiceSettings": map[string]any{"ListenAddress": ":8065", "SiteURL": os.Getenv("MM_SERVICESETTINGS_SITEURL")},
		"TeamSettings":    map[string]any{"SiteName": "Mattermost", "ExperimentalViewArchivedChannels": true},
		"SqlSettings":     map[string]any{"DriverName": "postgres"},
		"Version":         v,
	}
	b, _ := json.MarshalIndent(cfg, "", "    ")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
		_ = os.WriteFile(p, b, 0o600)
	}
	_ = os.MkdirAll("/mattermost/data/users", 0o755)
}

func mmHandler(conn *pgx.Conn, v string) http.Handler {
	ver := version.MustParse(v)
	schemaVersion := fmt.Sprintf("%d.%d.0", ver.Major(), ver.Minor())
	hash := "4c7f1b2e9d0a"
	db := make(chan *pgx.Conn, 1)
	db <- conn
	ping := func(ctx context.Context) error {
		c := <-db
		defer func() { db <- c }()
		return c.Ping(ctx)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v4/system/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Version-Id", strings.Join([]string{schemaVersion, v, hash, "false"}, "."))
		status := "OK"
		if err := ping(r.Context()); err != nil {
			status = "UNHEALTHY"
			w.WriteHeader(http.StatusInternalServerError)
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"ActiveSearchBackend": "database", "status": status})
	})
	mux.HandleFunc("GET /api/v4/config/client", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("format") != "old" {
			w.WriteHeader(http.StatusNotImplemented)
			_, _ = fmt.Fprint(w, `{"id":"api.config.client.old_format.app_error","status_code":501}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"Version": schemaVersion, "BuildNumber": v, "BuildDate": "Tue Jun 10 12:00:00 UTC 2026",
			"BuildHash": hash, "BuildHashEnterprise": "none", "BuildEnterpriseReady": "false",
			"SiteName": "Mattermost", "DiagnosticsEnabled": "false",
		})
	})
	return mux
}
