// Package testenv brings real demo stacks up for end-to-end tests: a static
// upshift binary, a Docker engine, docker compose and the test PostgreSQL
// image. Tests skip loudly when no engine is reachable, and fail instead when
// CI=true.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// PostgresImage is the local PostgreSQL image tests use (scripts/test-env.sh builds it).
func PostgresImage() string {
	if s := os.Getenv("UPSHIFT_TEST_PG_IMAGE"); s != "" {
		return s
	}
	return "upshift-test/postgres:15"
}

// PostgresImageMajor is the local image of PostgreSQL major (scripts/test-env.sh
// builds 15 and 17 with scripts/pg-image.sh); UPSHIFT_TEST_PG<major>_IMAGE
// overrides it, and 15 is PostgresImage.
func PostgresImageMajor(major int) string {
	if major == 15 {
		return PostgresImage()
	}
	if s := os.Getenv("UPSHIFT_TEST_PG" + strconv.Itoa(major) + "_IMAGE"); s != "" {
		return s
	}
	return "upshift-test/postgres:" + strconv.Itoa(major)
}

// RequireImage skips (or fails under CI=true) when image is not present locally.
func RequireImage(t testing.TB, image string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "image", "inspect", image).Run(); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("E2E needs the image %s and CI=true (run scripts/test-env.sh)", image)
	}
	t.Skipf("\n\n*** SKIPPING END-TO-END TEST: image %s missing ***\n*** run scripts/test-env.sh to build it ***\n", image)
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// RepoRoot is the module root (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds a static upshift binary once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "upshift-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "upshift")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if binErr != nil {
		t.Fatalf("build upshift: %v", binErr)
	}
	return binPath
}

// RequireDocker skips (or fails under CI=true) when no Docker engine, compose
// plugin or test PostgreSQL image is available.
func RequireDocker(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	problem := ""
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		problem = "no Docker engine reachable: " + strings.TrimSpace(string(out))
	} else if out, err := exec.CommandContext(ctx, "docker", "compose", "version").CombinedOutput(); err != nil {
		problem = "docker compose v2 missing: " + strings.TrimSpace(string(out))
	} else if err := exec.CommandContext(ctx, "docker", "image", "inspect", PostgresImage()).Run(); err != nil {
		problem = "image " + PostgresImage() + " missing (run scripts/test-env.sh)"
	}
	if problem == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("E2E needs Docker and CI=true: %s", problem)
	}
	t.Skipf("\n\n*** SKIPPING END-TO-END TEST: %s ***\n*** run scripts/test-env.sh to set up Docker, compose and the test images ***\n", problem)
}

// Stack is a running demo stack.
type Stack struct {
	Dir     string
	Project string
	Bin     string
	Port    string
	t       testing.TB
}

// UniqueName returns a compose-safe unique project name.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// StartDemo writes a demo stack at version into a temp dir and starts it; the
// stack (containers, network, volumes) is removed when the test ends.
func StartDemo(t testing.TB, version string) *Stack {
	t.Helper()
	return StartDemoAs(t, "upt", version)
}

// StartDemoAs is StartDemo with a project named prefix-<random>.
func StartDemoAs(t testing.TB, prefix, version string) *Stack {
	t.Helper()
	RequireDocker(t)
	s := &Stack{Dir: t.TempDir(), Project: UniqueName(prefix), Bin: Binary(t), t: t}
	t.Cleanup(func() { s.Down() })
	out, err := s.Run("demo", "up", "--dir", s.Dir, "--version", version, "--project", s.Project,
		"--postgres-image", PostgresImage(), "--port", strconv.Itoa(FreePort(t)))
	if err != nil {
		t.Fatalf("demo up: %v\n%s", err, out)
	}
	s.Port = s.Env("API_PORT")
	return s
}

// FreePort returns a free loopback port (never the demo's default 8080, which
// parallel stacks would fight over).
func FreePort(t testing.TB) int {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// Down removes the stack with its volumes.
func (s *Stack) Down() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, "demo", "down", "--dir", s.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Logf("demo down: %v: %s", err, out)
	}
}

// Run runs the upshift binary with args (in the stack dir) and returns combined output.
func (s *Stack) Run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Dir = s.Dir
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	err := cmd.Run()
	return buf.String(), err
}

// Compose runs docker compose for the stack and returns combined output.
func (s *Stack) Compose(args ...string) (string, error) {
	return s.ComposeEnv(nil, args...)
}

// ComposeEnv is Compose with extra environment (which wins over .env in
// compose's interpolation, e.g. APP_VERSION=2.0.0 selects that image).
func (s *Stack) ComposeEnv(env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	full := append([]string{"compose", "--project-directory", s.Dir, "-f", filepath.Join(s.Dir, "compose.yaml")}, args...)
	cmd := exec.CommandContext(ctx, "docker", full...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Env reads a key of the stack's .env.
func (s *Stack) Env(key string) string {
	b, err := os.ReadFile(filepath.Join(s.Dir, ".env"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// SetEnv rewrites KEY=value in the stack's .env (appending when absent).
func (s *Stack) SetEnv(key, value string) {
	p := filepath.Join(s.Dir, ".env")
	b, err := os.ReadFile(p)
	if err != nil {
		s.t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	found := false
	for i, line := range lines {
		if k, _, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			lines[i] = key + "=" + value
			found = true
		}
	}
	if !found {
		lines = append(lines, key+"="+value)
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// Container is the container name of a service (compose's default naming).
func (s *Stack) Container(service string) string { return s.Project + "-" + service + "-1" }

// UpshiftDirs lists upshift's directories in the db container's data
// directory (staged copies of base backups, a swap's old or half-moved
// directory), space-separated.
func (s *Stack) UpshiftDirs() (string, error) {
	out, err := Docker("exec", "-u", "0", s.Container("db"), "sh", "-c", `ls -a "$PGDATA" | grep '^\.upshift-' || true`)
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	return strings.Join(strings.Fields(out), " "), nil
}

// PSQL runs a query in the db container and returns its trimmed output (unaligned, tuples only).
func (s *Stack) PSQL(query string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "exec", s.Container("db"), "psql", "-v", "ON_ERROR_STOP=1", "-qtA",
		"-U", s.Env("DB_USER"), "-d", s.Env("DB_NAME"), "-c", query)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// APIVersion asks the api's /version endpoint.
func (s *Stack) APIVersion() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+s.Port+"/version", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /version: %s", resp.Status)
	}
	return strings.TrimSpace(string(b)), err
}

// Docker runs the docker CLI and returns its combined output.
func Docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return string(out), err
}
