// Package testpg starts a real PostgreSQL server in Docker for tests. It owns
// the test containers (labelled upshift-test=1) and their cleanup; it must not
// import upshift packages, so that their tests can use it.
//
// Tests skip LOUDLY when no Docker engine is reachable, and fail instead when
// CI=true, so that a CI run never passes without having touched PostgreSQL.
package testpg

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultImage is the local PostgreSQL image scripts/test-env.sh builds.
const DefaultImage = "upshift-test/postgres:15"

// ImageEnv overrides DefaultImage.
const ImageEnv = "UPSHIFT_TEST_PG_IMAGE"

// readyTimeout bounds how long a fresh container may take to accept queries.
const readyTimeout = 60 * time.Second

// DB is one running PostgreSQL test server.
type DB struct {
	DSN       string // postgres:// URL of the default database, sslmode=disable
	Container string // Docker container ID
	Host      string // 127.0.0.1 (the published port)
	Port      string
	User      string // superuser created by POSTGRES_USER
	Password  string
	Database  string // default database created by POSTGRES_DB
}

// Image is the image tests run: $UPSHIFT_TEST_PG_IMAGE or DefaultImage.
func Image() string {
	if s := os.Getenv(ImageEnv); s != "" {
		return s
	}
	return DefaultImage
}

// Start runs a fresh PostgreSQL container for this test only and removes it
// in t.Cleanup, whether the test passes or not.
func Start(t testing.TB) *DB {
	t.Helper()
	requireDocker(t)
	db, err := start(context.Background())
	if db != nil {
		t.Cleanup(func() { remove(db.Container) })
	}
	if err != nil {
		t.Fatalf("testpg: %v", err)
	}
	return db
}

var (
	mainRunning atomic.Bool
	sharedOnce  sync.Once
	shared      *DB
	sharedErr   error
)

// Shared returns the one server shared by every test of this test binary,
// starting it on first use. It requires TestMain to call Main, which removes
// the container when the tests are done. Give each test its own database with
// NewDatabase.
func Shared(t testing.TB) *DB {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal("testpg.Shared needs testpg.Main in this package's TestMain " +
			"(func TestMain(m *testing.M) { testpg.Main(m) }) so the container is removed; use testpg.Start otherwise")
	}
	requireDocker(t)
	sharedOnce.Do(func() {
		shared, sharedErr = start(context.Background())
	})
	if sharedErr != nil {
		t.Fatalf("testpg: shared server: %v", sharedErr)
	}
	return shared
}

// Main runs the tests and then removes the container Shared started, if any.
// Call it from TestMain; it does not return.
func Main(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	mainRunning.Store(true)
	defer func() {
		if shared != nil {
			remove(shared.Container)
		}
	}()
	return m.Run()
}

var dbCounter atomic.Int64

// NewDatabase creates an empty database on d, owned by d.User, and returns its
// DSN. The name is made safe and unique (a suffix is added), so tests may pass
// t.Name(). The database is dropped in t.Cleanup.
func (d *DB) NewDatabase(t testing.TB, name string) string {
	t.Helper()
	name = fmt.Sprintf("%s_%d", safeName(name), dbCounter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testpg: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("testpg: drop database %s: %v", name, err)
		}
	})
	return d.dsn(name)
}

func (d *DB) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, d.DSN)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

func (d *DB) dsn(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(d.User, d.Password),
		Host:     net.JoinHostPort(d.Host, d.Port),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// safeName turns a test name into a lower-case identifier of at most 40 bytes.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	out := b.String()
	if out == "" || (out[0] >= '0' && out[0] <= '9') {
		out = "db_" + out
	}
	return out
}

var (
	dockerOnce    sync.Once
	dockerProblem string
)

// requireDocker skips the test loudly when no Docker engine answers, or fails
// it under CI=true.
func requireDocker(t testing.TB) {
	t.Helper()
	dockerOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
		if err != nil {
			dockerProblem = fmt.Sprintf("%v: %s", err, strings.TrimSpace(string(out)))
			// go test without -v hides skip messages; this one must be seen.
			fmt.Fprintf(os.Stderr, "\n!!! testpg: SKIPPING every PostgreSQL test: no Docker engine reachable (%s) !!!\n\n", dockerProblem)
		}
	})
	if dockerProblem == "" {
		return
	}
	msg := "SKIPPING: no Docker engine reachable, so this test did NOT run against a real PostgreSQL (" +
		dockerProblem + "). Start Docker or run scripts/test-env.sh."
	if os.Getenv("CI") == "true" {
		t.Fatal(strings.Replace(msg, "SKIPPING", "FAILING (CI=true)", 1))
	}
	t.Skip(msg)
}

// start runs a container and waits until it answers queries. On error the
// returned DB, if not nil, names a container the caller must remove.
func start(ctx context.Context) (*DB, error) {
	image := Image()
	if err := docker(ctx, "image", "inspect", image); err != nil {
		return nil, fmt.Errorf("image %s is missing (scripts/test-env.sh builds it; nothing can be pulled): %w", image, err)
	}
	pw := make([]byte, 12)
	_, _ = rand.Read(pw)
	db := &DB{User: "upshift", Password: "pw-" + hex.EncodeToString(pw), Database: "upshift", Host: "127.0.0.1"}
	id, err := dockerOut(ctx, "run", "-d", "--rm",
		"--label", "upshift-test=1",
		"-e", "POSTGRES_USER="+db.User,
		"-e", "POSTGRES_PASSWORD="+db.Password,
		"-e", "POSTGRES_DB="+db.Database,
		"-p", "127.0.0.1::5432",
		image,
		// Test data is thrown away: trade durability for speed.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	if err != nil {
		return nil, fmt.Errorf("docker run %s: %w", image, err)
	}
	db.Container = id
	hostPort, err := dockerOut(ctx, "port", id, "5432/tcp")
	if err != nil {
		return db, fmt.Errorf("docker port: %w", err)
	}
	// "docker port" may print one line per address family.
	line, _, _ := strings.Cut(hostPort, "\n")
	if _, db.Port, err = net.SplitHostPort(strings.TrimSpace(line)); err != nil {
		return db, fmt.Errorf("docker port printed %q: %w", hostPort, err)
	}
	db.DSN = db.dsn(db.Database)
	if err := waitReady(ctx, db); err != nil {
		logs, _ := exec.CommandContext(ctx, "docker", "logs", "--tail", "50", id).CombinedOutput()
		return db, fmt.Errorf("%w; container logs:\n%s", err, logs)
	}
	return db, nil
}

func waitReady(ctx context.Context, db *DB) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	for {
		if last = ping(ctx, db.DSN); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("PostgreSQL in container %.12s not ready after %s: %w", db.Container, readyTimeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("select 1: %w", err)
	}
	return nil
}

// remove force-removes a container; it runs during cleanup, after the test's
// own context is gone, so it has its own deadline.
func remove(id string) {
	if id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := docker(ctx, "rm", "-f", "-v", id); err != nil {
		fmt.Fprintf(os.Stderr, "testpg: removing container %.12s: %v\n", id, err)
	}
}

func docker(ctx context.Context, args ...string) error {
	_, err := dockerOut(ctx, args...)
	return err
}

func dockerOut(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", fmt.Errorf("docker %s: %w", args[0], err)
		}
		return "", fmt.Errorf("docker %s: %w: %s", args[0], err, msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}
