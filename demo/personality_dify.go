package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// difyApp passes for langgenius/dify-api (MODE=api|worker|beat|migration)
// and langgenius/dify-web (command web): the api entrypoint runs the
// Alembic migration (`flask upgrade-db`) when MIGRATION_ENABLED=true, under
// a lock so that api, worker and worker_beat never migrate at once; the api
// answers GET :5001/health with {"status":"ok","version":...} and an
// X-Version header on every response. A failed migration exits like
// upgrade-db's SystemExit(1). The same binary is the plugin daemon when
// DIFY_LOOKALIKE_PROCESS=plugin-daemon: it keeps its own database
// (DB_DATABASE=dify_plugin), created on first start.
type difyApp struct{}

func init() { registerPersonality("dify", difyApp{}) }

func (difyApp) versions() []string { return []string{"1.9.1", "1.9.2", "1.10.0"} }

// difyRevisions are Alembic revisions with the versions that ship them;
// 1.10.0's unique index fails on real data with a duplicated membership.
var difyRevisions = []slRevision{
	{"64b051264f32", "", "1.9.1", "init", []string{
		`CREATE TABLE accounts (id UUID PRIMARY KEY, name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT now())`,
		`CREATE TABLE tenants (id UUID PRIMARY KEY, name VARCHAR(255) NOT NULL, plan VARCHAR(255) NOT NULL DEFAULT 'basic')`,
		`CREATE TABLE tenant_account_joins (id SERIAL PRIMARY KEY, tenant_id UUID NOT NULL, account_id UUID NOT NULL, role VARCHAR(16) NOT NULL DEFAULT 'normal')`,
		`CREATE TABLE apps (id UUID PRIMARY KEY, tenant_id UUID NOT NULL, name VARCHAR(255) NOT NULL, mode VARCHAR(255) NOT NULL)`,
		`CREATE TABLE messages (id SERIAL PRIMARY KEY, app_id UUID NOT NULL, query TEXT NOT NULL, answer TEXT NOT NULL DEFAULT '')`,
	}},
	{"8a7f2ad7c23e", "64b051264f32", "1.9.2", "add app icon type and draft variables", []string{
		`ALTER TABLE apps ADD COLUMN icon_type VARCHAR(255)`,
		`CREATE TABLE workflow_draft_variables (id UUID PRIMARY KEY, app_id UUID NOT NULL, name VARCHAR(255) NOT NULL, value TEXT)`,
	}},
	{"d1b9c4e5a7f0", "8a7f2ad7c23e", "1.10.0", "unique tenant account join", []string{
		`ALTER TABLE apps ADD COLUMN max_active_requests INTEGER`,
		`CREATE UNIQUE INDEX unique_tenant_account_join ON tenant_account_joins (tenant_id, account_id)`,
	}},
}

func difyDSN(db string) string {
	if db == "" {
		db = os.Getenv("DB_DATABASE")
	}
	return fmt.Sprintf("postgres://%s:%s@%s:%s/%s?sslmode=disable", os.Getenv("DB_USERNAME"), os.Getenv("DB_PASSWORD"), os.Getenv("DB_HOST"), os.Getenv("DB_PORT"), db)
}

func (a difyApp) run(ctx context.Context, v, mode string) error {
	log.SetFlags(0)
	if mode == "healthcheck" {
		return probeLocal(ctx, "http://127.0.0.1:5001/health")
	}
	if os.Getenv("DIFY_LOOKALIKE_PROCESS") == "plugin-daemon" {
		return difyPluginDaemon(ctx)
	}
	if mode == "web" {
		return difyWeb(ctx, v)
	}
	process := os.Getenv("MODE")
	if process == "" {
		process = "api"
	}
	conn, err := connectURL(ctx, difyDSN(""))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if os.Getenv("MIGRATION_ENABLED") == "true" || process == "migration" {
		log.Printf("Running migrations")
		if err := difyUpgradeDB(ctx, conn, v); err != nil {
			return err
		}
		if process == "migration" {
			log.Printf("Migration completed, exiting normally")
			return nil
		}
	}
	switch process {
	case "api":
		return difyAPI(ctx, conn, v)
	case "worker":
		return idle(ctx, "celery@worker ready.", time.Minute)
	case "beat":
		return idle(ctx, "beat: Starting...", time.Minute)
	}
	return fmt.Errorf("dify lookalike: unknown MODE %q (api, worker, beat, migration)", process)
}

// difyUpgradeDB is `flask upgrade-db`: a lock, then Alembic to the head of v.
func difyUpgradeDB(ctx context.Context, conn *pgx.Conn, v string) error {
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(727318)`).Scan(&got); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	if !got {
		log.Printf("Database migration skipped")
		return nil
	}
	defer func() { _, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock(727318)`) }()
	log.Printf("Starting database migration.")
	if err := difyAlembic(ctx, conn, v); err != nil {
		log.Printf("ERROR [commands] Failed to execute database migration")
		log.Printf("Traceback (most recent call last):\n  File \"/app/api/commands.py\", line 702, in upgrade_db\n    flask_migrate.upgrade()\nsqlalchemy.exc.IntegrityError: (psycopg2.errors.UniqueViolation) %v", err)
		log.Printf("Database migration failed: %v", err)
		return fmt.Errorf("upgrade-db: %w", err)
	}
	log.Printf("Database migration successful!")
	return nil
}

func difyAlembic(ctx context.Context, conn *pgx.Conn, v string) error {
	log.Printf("INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.")
	log.Printf("INFO  [alembic.runtime.migration] Will assume transactional DDL.")
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))`); err != nil {
		return fmt.Errorf("create alembic_version: %w", err)
	}
	rev, err := slRevision0(ctx, conn)
	if err != nil {
		return err
	}
	var known []slRevision
	for _, r := range difyRevisions {
		if slAtMostIn(difyApp{}.versions(), r.since, v) {
			known = append(known, r)
		}
	}
	start := 0
	if rev != "" {
		start = -1
		for i, r := range known {
			if r.id == rev {
				start = i + 1
			}
		}
		if start < 0 {
			return fmt.Errorf("alembic.util.exc.CommandError: Can't locate revision identified by '%s'", rev)
		}
	}
	for _, r := range known[start:] {
		log.Printf("INFO  [alembic.runtime.migration] Running upgrade %s -> %s, %s", orBase(r.down), r.id, r.doc)
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if err := execAll(ctx, tx, r.sql...); err != nil {
				return err
			}
			return setRevision(ctx, tx, r.down, r.id)
		}); err != nil {
			return fmt.Errorf("running upgrade %s -> %s: %w", orBase(r.down), r.id, err)
		}
	}
	return nil
}

func difyAPI(ctx context.Context, conn *pgx.Conn, v string) error {
	db := make(chan *pgx.Conn, 1)
	db <- conn
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		c := <-db
		err := c.Ping(r.Context())
		db <- c
		if err != nil {
			http.Error(w, `{"status":"error"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"pid": os.Getpid(), "status": "ok", "version": v})
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Version", v)
		w.Header().Set("X-Env", "PRODUCTION")
		mux.ServeHTTP(w, r)
	})
	return serveUntilDone(ctx, ":5001", h, func() {
		log.Printf("[INFO] Listening at: http://0.0.0.0:5001 (%d)", os.Getpid())
	})
}

func difyWeb(ctx context.Context, v string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintf(w, "<!DOCTYPE html><title>Dify</title><meta name=\"version\" content=\"%s\">", v)
	})
	return serveUntilDone(ctx, ":3000", mux, func() {
		log.Printf("   ▲ Next.js\n   - Local:        http://localhost:3000\n ✓ Ready")
	})
}

// difyPluginDaemon keeps the plugin daemon's own database: created when
// missing, like the real daemon, with a table of installed plugins.
func difyPluginDaemon(ctx context.Context) error {
	name := os.Getenv("DB_DATABASE")
	if name == "" {
		name = "dify_plugin"
	}
	admin, err := connectURL(ctx, difyDSN("postgres"))
	if err != nil {
		return err
	}
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		_ = admin.Close(ctx)
		return fmt.Errorf("plugin daemon: %w", err)
	}
	if !exists {
		if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
			_ = admin.Close(ctx)
			return fmt.Errorf("plugin daemon: create database %s: %w", name, err)
		}
		log.Printf("[INFO] created database %s", name)
	}
	_ = admin.Close(ctx)
	conn, err := connectURL(ctx, difyDSN(name))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS plugin_installations (id SERIAL PRIMARY KEY, tenant_id UUID NOT NULL, plugin_unique_identifier VARCHAR(255) NOT NULL)`); err != nil {
		return fmt.Errorf("plugin daemon: %w", err)
	}
	return idle(ctx, "[INFO] plugin daemon started, "+strings.TrimSpace("serverless runtime disabled"), time.Minute)
}
