package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// AppVersionEnv is set in each demo image to the version it was built as.
const AppVersionEnv = "UPSHIFT_DEMO_APP_VERSION"

// AppVersion is the version this process runs as.
func AppVersion() (string, error) {
	v := os.Getenv(AppVersionEnv)
	if !IsVersion(v) {
		return "", fmt.Errorf("%s=%q is not a demo version (known: %v); demo-app runs inside the demo images", AppVersionEnv, v, Versions)
	}
	return v, nil
}

// RunApp is the entry point of `upshift demo-app <mode>` inside the images.
func RunApp(ctx context.Context, mode string) error {
	log.SetFlags(log.LstdFlags | log.LUTC)
	log.SetOutput(os.Stdout)
	if name := os.Getenv(PersonalityEnv); name != "" {
		return runPersonality(ctx, name, mode)
	}
	if mode == "healthcheck" {
		return healthcheck(ctx)
	}
	version, err := AppVersion()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch mode {
	case "migrate":
		conn, err := connect(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(context.Background()) }()
		if err := Migrate(ctx, conn, version); err != nil {
			return err
		}
		if os.Getenv(SeedEnv) == "1" {
			return seedHistory(ctx, conn, version)
		}
		return nil
	case "serve", "worker", "scheduler":
		if mode == "scheduler" && version < "2.0.0" {
			return fmt.Errorf("the scheduler is new in 2.0.0; %s has none", version)
		}
		if err := checkSettings(version); err != nil {
			return err
		}
		conn, err := connect(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(context.Background()) }()
		if os.Getenv("AUTO_MIGRATE") == "true" && mode == "serve" {
			if err := Migrate(ctx, conn, version); err != nil {
				return err
			}
		}
		if err := checkSchema(ctx, conn, version); err != nil {
			return err
		}
		switch mode {
		case "serve":
			return serve(ctx, conn, version)
		case "scheduler":
			return schedule(ctx, conn, version)
		}
		return work(ctx, conn, version)
	default:
		return fmt.Errorf("unknown demo-app mode %q (serve, worker, scheduler, migrate, healthcheck)", mode)
	}
}

// checkSettings enforces the env contract of each version (2.0.0 renamed
// NOTES_SECRET to APP_SECRET).
func checkSettings(version string) error {
	if version >= "2.0.0" {
		if os.Getenv("APP_SECRET") == "" {
			if os.Getenv("NOTES_SECRET") != "" {
				return errors.New("configuration error: NOTES_SECRET was renamed to APP_SECRET in 2.0.0; set APP_SECRET in .env")
			}
			return errors.New("configuration error: APP_SECRET is not set")
		}
		return nil
	}
	if os.Getenv("NOTES_SECRET") == "" {
		return errors.New("configuration error: NOTES_SECRET is not set")
	}
	return nil
}

func connect(ctx context.Context) (*pgx.Conn, error) {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		return nil, errors.New("DATABASE_URL is not set")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, url)
		if err == nil {
			return conn, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("connect to database: %w", err)
		}
		log.Printf("waiting for the database: %v", err)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func healthcheck(ctx context.Context) error {
	return probeLocal(ctx, "http://127.0.0.1:8080/health")
}

type note struct {
	ID        int64     `json:"id"`
	Body      string    `json:"body"`
	Owner     string    `json:"owner"`
	WordCount *int      `json:"word_count,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func serve(ctx context.Context, conn *pgx.Conn, version string) error {
	uploads := "/data/uploads"
	if err := os.MkdirAll(uploads, 0o755); err == nil {
		readme := filepath.Join(uploads, "README.txt")
		if _, err := os.Stat(readme); errors.Is(err, os.ErrNotExist) {
			_ = os.WriteFile(readme, []byte("Attachments of the upshift demo notes service.\n"), 0o644)
		}
	}
	dbq := make(chan func(*pgx.Conn), 1)
	go func() { // one goroutine owns the connection, and reconnects it
		for f := range dbq {
			if conn.IsClosed() {
				if c, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL")); err == nil {
					conn = c
				}
			}
			f(conn)
		}
	}()
	defer close(dbq)
	withDB := func(f func(*pgx.Conn)) {
		done := make(chan struct{})
		dbq <- func(c *pgx.Conn) { f(c); close(done) }
		<-done
	}
	ownerCol := "author"
	if version >= "2.0.0" {
		ownerCol = "owner"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		var rev string
		var err error
		withDB(func(c *pgx.Conn) { rev, err = currentRevision(r.Context(), c) })
		w.Header().Set("X-Version", version)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "version": version, "error": "database unavailable"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok", "version": version, "revision": rev})
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Version", version)
		_, _ = fmt.Fprintln(w, version)
	})
	mux.HandleFunc("GET /api/notes", func(w http.ResponseWriter, r *http.Request) {
		limit := 50
		if n, err := strconv.Atoi(os.Getenv("PAGE_SIZE")); err == nil && n > 0 {
			limit = n
		}
		wc := "NULL::int"
		if version >= "1.1.0" {
			wc = "word_count"
		}
		var out []note
		var err error
		withDB(func(c *pgx.Conn) {
			var rows pgx.Rows
			rows, err = c.Query(r.Context(), `SELECT id, body, `+ownerCol+`, `+wc+`, created_at FROM notes ORDER BY id DESC LIMIT $1`, limit)
			if err != nil {
				return
			}
			defer rows.Close()
			for rows.Next() {
				var n note
				if err = rows.Scan(&n.ID, &n.Body, &n.Owner, &n.WordCount, &n.CreatedAt); err != nil {
					return
				}
				out = append(out, n)
			}
			err = rows.Err()
		})
		if err != nil {
			http.Error(w, "database error", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST /api/notes", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Body string `json:"body"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || strings.TrimSpace(in.Body) == "" {
			http.Error(w, `want {"body": "..."}`, http.StatusBadRequest)
			return
		}
		var id int64
		var err error
		withDB(func(c *pgx.Conn) { id, err = insertNote(r.Context(), c, version, in.Body) })
		if err != nil {
			http.Error(w, "database error: "+err.Error(), http.StatusConflict)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]int64{"id": id})
	})
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("upshift demo %s listening on :8080", version)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		log.Printf("shut down")
		return nil
	}
}

func insertNote(ctx context.Context, c *pgx.Conn, version, body string) (int64, error) {
	var id int64
	var err error
	if version >= "1.1.0" {
		err = c.QueryRow(ctx, `INSERT INTO notes (body, word_count) VALUES ($1, $2) RETURNING id`, body, len(strings.Fields(body))).Scan(&id)
	} else {
		err = c.QueryRow(ctx, `INSERT INTO notes (body) VALUES ($1) RETURNING id`, body).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("insert note: %w", err)
	}
	return id, nil
}

// work writes one heartbeat note per interval and logs the id of each
// committed row, so tests can prove no acknowledged write was lost.
func work(ctx context.Context, conn *pgx.Conn, version string) error {
	return writeLoop(ctx, conn, version, writer{
		name: "worker", what: "heartbeat", intervalEnv: "WORKER_INTERVAL_MS", interval: 100 * time.Millisecond,
		body: func(int) string { return heartbeatBody() }, logged: "committed id=%d",
	})
}

// writer is one of the demo's background writers.
type writer struct {
	name, what  string
	intervalEnv string // overrides interval, in milliseconds
	interval    time.Duration
	body        func(n int) string
	logged      string // the line logged per committed row, with its id
}

// writeLoop inserts one note per interval until ctx ends, reconnecting
// after a lost connection, and logs the id of each committed row.
func writeLoop(ctx context.Context, conn *pgx.Conn, version string, w writer) error {
	interval := w.interval
	if ms, err := strconv.Atoi(os.Getenv(w.intervalEnv)); err == nil && ms > 0 {
		interval = time.Duration(ms) * time.Millisecond
	}
	log.Printf("%s %s started, one %s every %s", w.name, version, w.what, interval)
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			log.Printf("%s stopped", w.name)
			return nil
		case <-t.C:
		}
		id, err := insertNote(ctx, conn, version, w.body(n))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !conn.IsClosed() {
				return err
			}
			log.Printf("lost the database connection (%v); reconnecting", err)
			if c, cerr := pgx.Connect(ctx, os.Getenv("DATABASE_URL")); cerr == nil {
				conn = c
			}
			continue
		}
		log.Printf(w.logged, id)
	}
}

// schedule (2.0.0 and later) writes a digest note per interval, each body
// unique, and logs the id of each committed row like the worker.
func schedule(ctx context.Context, conn *pgx.Conn, version string) error {
	return writeLoop(ctx, conn, version, writer{
		name: "scheduler", what: "digest", intervalEnv: "SCHEDULER_INTERVAL_MS", interval: 2 * time.Second,
		body: func(n int) string {
			return fmt.Sprintf("digest %d at %s", n, time.Now().UTC().Format(time.RFC3339Nano))
		},
		logged: "scheduled digest id=%d",
	})
}
