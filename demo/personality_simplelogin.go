package demo

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// simpleloginApp passes for simplelogin/app-ci: the image never migrates by
// itself; a one-off `alembic upgrade head` does, then `python init_app.py`.
// The web app (gunicorn on :7777) answers /health, /live and /version (the
// git tag, with its "v"); email_handler and job_runner are background
// processes. Every process refuses a schema that is not its own head.
type simpleloginApp struct{}

func init() { registerPersonality("simplelogin", simpleloginApp{}) }

type slRevision struct {
	id, down, since, doc string
	sql                  []string
}

// slRevisions are Alembic revisions; v4.81.6 adds a unique index that fails
// on real data holding the same alias twice.
var slRevisions = []slRevision{
	{"a1c0e7d35b21", "", "v4.70.0", "initial schema", []string{
		`CREATE TABLE users (id SERIAL PRIMARY KEY, email VARCHAR(256) NOT NULL UNIQUE, name VARCHAR(128), created_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
		`CREATE TABLE mailbox (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), email VARCHAR(256) NOT NULL)`,
		`CREATE TABLE alias (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), email VARCHAR(128) NOT NULL, enabled BOOLEAN NOT NULL DEFAULT true, note TEXT)`,
		`CREATE TABLE public_domain (id SERIAL PRIMARY KEY, domain VARCHAR(128) NOT NULL UNIQUE)`,
	}},
	{"5f3d9b2e8c47", "a1c0e7d35b21", "v4.72.0", "alias pinned", []string{
		`ALTER TABLE alias ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT false`,
	}},
	{"c8e4a6f1d093", "5f3d9b2e8c47", "v4.81.6", "unique alias email", []string{
		`CREATE UNIQUE INDEX ix_alias_email_lower ON alias (lower(email))`,
	}},
}

func (simpleloginApp) versions() []string { return []string{"v4.70.0", "v4.72.0", "v4.81.6"} }

// slHead is the head revision of a release.
func slHead(v string) string {
	head := ""
	for _, r := range slRevisions {
		if slAtMost(r.since, v) {
			head = r.id
		}
	}
	return head
}

func slAtMost(since, v string) bool {
	vs := simpleloginApp{}.versions()
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

func (a simpleloginApp) run(ctx context.Context, v, mode string) error {
	log.SetFlags(0)
	log.SetPrefix("")
	cmd := strings.Fields(mode)
	if len(cmd) == 0 {
		cmd = []string{"gunicorn"}
	}
	switch {
	case cmd[0] == "healthcheck":
		return probeLocal(ctx, "http://127.0.0.1:7777/health")
	case mode == "alembic upgrade head" || mode == "flask db upgrade":
		return a.withDB(ctx, func(c *pgx.Conn) error { return slMigrate(ctx, c, v) })
	case len(cmd) > 1 && cmd[0] == "python" && cmd[1] == "init_app.py":
		return a.withDB(ctx, func(c *pgx.Conn) error { return slInit(ctx, c, v) })
	case len(cmd) > 1 && cmd[0] == "python" && cmd[1] == "email_handler.py":
		return a.withDB(ctx, func(c *pgx.Conn) error {
			if err := slCheckSchema(ctx, c, v); err != nil {
				return err
			}
			return idle(ctx, "email handler listening on 0.0.0.0:20381", time.Minute)
		})
	case len(cmd) > 1 && cmd[0] == "python" && cmd[1] == "job_runner.py":
		return a.withDB(ctx, func(c *pgx.Conn) error {
			if err := slCheckSchema(ctx, c, v); err != nil {
				return err
			}
			return idle(ctx, "job runner", time.Minute)
		})
	case cmd[0] == "gunicorn" || cmd[0] == "serve":
		return a.withDB(ctx, func(c *pgx.Conn) error {
			if err := slCheckSchema(ctx, c, v); err != nil {
				return err
			}
			return slServe(ctx, c, v)
		})
	}
	return fmt.Errorf("simplelogin lookalike: unknown command %q", mode)
}

func (simpleloginApp) withDB(ctx context.Context, f func(*pgx.Conn) error) error {
	conn, err := connectURL(ctx, os.Getenv("DB_URI"))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	return f(conn)
}

func slRevision0(ctx context.Context, c *pgx.Conn) (string, error) {
	var rev string
	err := c.QueryRow(ctx, `SELECT version_num FROM alembic_version`).Scan(&rev)
	var pgErr *pgconn.PgError
	if (errors.As(err, &pgErr) && pgErr.Code == "42P01") || errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read alembic_version: %w", err)
	}
	return rev, nil
}

func slCheckSchema(ctx context.Context, c *pgx.Conn, v string) error {
	rev, err := slRevision0(ctx, c)
	if err != nil {
		return err
	}
	if head := slHead(v); rev != head {
		return fmt.Errorf("sqlalchemy.exc.ProgrammingError: the database is at revision %q but %s needs %s: run `alembic upgrade head` first", rev, v, head)
	}
	return nil
}

func slMigrate(ctx context.Context, c *pgx.Conn, v string) error {
	log.Printf("INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.")
	log.Printf("INFO  [alembic.runtime.migration] Will assume transactional DDL.")
	if _, err := c.Exec(ctx, `CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))`); err != nil {
		return fmt.Errorf("create alembic_version: %w", err)
	}
	rev, err := slRevision0(ctx, c)
	if err != nil {
		return err
	}
	var known []slRevision
	for _, r := range slRevisions {
		if slAtMost(r.since, v) {
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
		if err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if err := execAll(ctx, tx, r.sql...); err != nil {
				return err
			}
			if r.down == "" {
				return setRevision(ctx, tx, "", r.id)
			}
			return setRevision(ctx, tx, r.down, r.id)
		}); err != nil {
			return fmt.Errorf("sqlalchemy.exc.IntegrityError: running upgrade %s -> %s failed: %w", orBase(r.down), r.id, err)
		}
	}
	return nil
}

func slInit(ctx context.Context, c *pgx.Conn, v string) error {
	if err := slCheckSchema(ctx, c, v); err != nil {
		return err
	}
	domain := os.Getenv("EMAIL_DOMAIN")
	if domain == "" {
		domain = "sl.local"
	}
	if _, err := c.Exec(ctx, `INSERT INTO public_domain (domain) VALUES ($1) ON CONFLICT DO NOTHING`, domain); err != nil {
		return fmt.Errorf("init_app: %w", err)
	}
	log.Printf("init_app: public domain %s is set up", domain)
	return nil
}

func slServe(ctx context.Context, conn *pgx.Conn, v string) error {
	db := make(chan *pgx.Conn, 1)
	db <- conn
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		c := <-db
		err := c.Ping(r.Context())
		db <- c
		if err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprint(w, "success")
	})
	mux.HandleFunc("GET /live", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprint(w, "live") })
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprint(w, v) })
	mux.HandleFunc("GET /git", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprint(w, "9b1f0c2d7e4a") })
	return serveUntilDone(ctx, ":7777", mux, func() {
		log.Printf("[INFO] Listening at: http://0.0.0.0:7777")
	})
}
