package demo

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// feedreaderApp is an app upshift has no profile for, shaped like Miniflux
// (a Go RSS reader on PostgreSQL): one process on :8080 that migrates at
// every start (RUN_MIGRATIONS=1) and records the schema in a one-row table
// of its own, schema_version(version text); it refuses a schema newer than
// it knows and answers /healthcheck and /version. Its compose layout keeps
// the whole image reference in .env (FEEDREADER_IMAGE). 2.2.10's unique
// index on feeds(feed_url) fails on real data subscribed twice.
type feedreaderApp struct{}

func init() { registerPersonality("feedreader", feedreaderApp{}) }

func (feedreaderApp) versions() []string { return []string{"2.2.6", "2.2.8", "2.2.10"} }

// frMigrations[i] takes the schema to version i+1; since is the first
// release that ships it.
var frMigrations = []struct {
	since string
	sql   []string
}{
	{"2.2.6", []string{`CREATE TABLE users (id bigserial PRIMARY KEY, username text NOT NULL UNIQUE)`}},
	{"2.2.6", []string{`CREATE TABLE feeds (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id), feed_url text NOT NULL, title text NOT NULL DEFAULT '')`}},
	{"2.2.6", []string{`CREATE TABLE entries (id bigserial PRIMARY KEY, feed_id bigint NOT NULL REFERENCES feeds(id), title text NOT NULL, url text NOT NULL)`}},
	{"2.2.8", []string{`ALTER TABLE feeds ADD COLUMN disabled boolean NOT NULL DEFAULT false`}},
	{"2.2.10", []string{`ALTER TABLE entries ADD COLUMN starred boolean NOT NULL DEFAULT false`, `CREATE UNIQUE INDEX feeds_feed_url_key ON feeds (feed_url)`}},
}

// frSchemaOf is the schema version a release expects.
func frSchemaOf(v string) int {
	n := 0
	for i, m := range frMigrations {
		if slAtMostIn(feedreaderApp{}.versions(), m.since, v) {
			n = i + 1
		}
	}
	return n
}

func (a feedreaderApp) run(ctx context.Context, v, mode string) error {
	switch mode {
	case "healthcheck":
		return probeLocal(ctx, "http://127.0.0.1:8080/healthcheck")
	case "", "feedreader", "serve":
	default:
		return fmt.Errorf("feedreader lookalike: unknown command %q (feedreader, healthcheck)", mode)
	}
	log.SetFlags(log.LstdFlags)
	log.Printf("[INFO] Starting feedreader %s", v)
	conn, err := connectURL(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Printf("[FATAL] Unable to connect to the database: %v", err)
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if os.Getenv("RUN_MIGRATIONS") == "1" {
		if err := frMigrate(ctx, conn, v); err != nil {
			log.Printf("[FATAL] %v", err)
			return err
		}
	}
	cur, err := frCurrent(ctx, conn)
	if err != nil {
		log.Printf("[FATAL] %v", err)
		return err
	}
	if want := frSchemaOf(v); cur != want {
		err := fmt.Errorf("the database schema is at version %d, this release needs %d: run the migrations (RUN_MIGRATIONS=1)", cur, want)
		log.Printf("[FATAL] %v", err)
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthcheck", func(w http.ResponseWriter, r *http.Request) {
		if err := conn.Ping(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprint(w, "database unreachable")
			return
		}
		_, _ = fmt.Fprint(w, "OK")
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprint(w, v) })
	return serveUntilDone(ctx, ":8080", mux, func() { log.Printf("[INFO] Listening on :8080") })
}

func frCurrent(ctx context.Context, conn *pgx.Conn) (int, error) {
	var s string
	err := conn.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read schema_version: %w", err)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("schema_version holds %q, not a number", s)
	}
	return n, nil
}

// frMigrate runs each missing migration in its own transaction and bumps
// the one row, like Miniflux's database.Migrate.
func frMigrate(ctx context.Context, conn *pgx.Conn, v string) error {
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version text not null)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	cur, err := frCurrent(ctx, conn)
	if err != nil {
		return err
	}
	want := frSchemaOf(v)
	if cur > want {
		return fmt.Errorf("the database schema is at version %d, newer than this release knows (%d): downgrades are not supported", cur, want)
	}
	log.Printf("[INFO] Running database migrations (current=%d, latest=%d)", cur, want)
	for i := cur; i < want; i++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if err := execAll(ctx, tx, frMigrations[i].sql...); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM schema_version`); err != nil {
				return fmt.Errorf("bump schema_version: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, strconv.Itoa(i+1)); err != nil {
				return fmt.Errorf("bump schema_version: %w", err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("[Migration v%d] %w", i+1, err)
		}
		log.Printf("[INFO] Applied migration v%d", i+1)
	}
	return nil
}
