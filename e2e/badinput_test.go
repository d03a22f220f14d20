package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// TestDetectBadInput: each problem gives a clear line of what is wrong and
// what to do, a non-zero exit, and changes nothing.
func TestDetectBadInput(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	run := func(env []string, args ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, s.Bin, args...)
		cmd.Dir = s.Dir
		cmd.Env = append(cmd.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), exitCode(err)
	}

	out, code := run([]string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, "detect")
	if code != 1 || !strings.Contains(out, "nothing answers") || !strings.Contains(out, "Fix:") {
		t.Errorf("daemon down: exit %d\n%s", code, out)
	}
	out, code = run(nil, "detect", "--dir", t.TempDir())
	if code != 1 || !strings.Contains(out, "no compose file found") {
		t.Errorf("no compose file: exit %d\n%s", code, out)
	}
	out, code = run(nil, "plan")
	if code != 2 {
		t.Errorf("plan without --to: exit %d, want 2 (usage)\n%s", code, out)
	}

	// No TTY and no --yes: the first confirmation cannot be answered; the
	// run stops there without rolling back (nothing was changed yet) and
	// the app never stopped.
	out, code = run(nil, "upgrade", "--to", "1.1.0")
	if code != 1 || !strings.Contains(out, "--yes") || strings.Contains(out, "rolling back") {
		t.Errorf("upgrade without a TTY or --yes: exit %d\n%s", code, out)
	}
	if s.Env("APP_VERSION") != "1.0.0" {
		t.Error("the unanswered upgrade changed .env")
	}
	if v, err := s.APIVersion(); err != nil || v != "1.0.0" {
		t.Errorf("the app must keep running 1.0.0: %q %v", v, err)
	}

	// No known schema table.
	if out, err := s.PSQL("ALTER TABLE alembic_version RENAME TO alembic_version_x"); err != nil {
		t.Fatal(out)
	}
	out, code = run(nil, "detect")
	if code != 1 || !strings.Contains(out, "alembic_version") {
		t.Errorf("no schema table: exit %d\n%s", code, out)
	}
	if out, err := s.PSQL("ALTER TABLE alembic_version_x RENAME TO alembic_version"); err != nil {
		t.Fatal(out)
	}

	// Wrong password: the database's password no longer matches the one
	// the stack was configured with.
	user := s.Env("DB_USER")
	if out, err := s.PSQL("ALTER USER " + user + " PASSWORD 'changed-behind-our-back'"); err != nil {
		t.Fatal(out)
	}
	out, code = run(nil, "detect")
	if code != 1 || !strings.Contains(out, "password") || strings.Contains(out, s.Env("DB_PASSWORD")) {
		t.Errorf("wrong password: exit %d\n%s", code, out)
	}
	out, code = run(nil, "upgrade", "--to", "1.1.0", "--yes")
	if code != 1 || !strings.Contains(out, "Nothing was changed") {
		t.Errorf("upgrade with an unreachable database must refuse before changing anything: exit %d\n%s", code, out)
	}
	if s.Env("APP_VERSION") != "1.0.0" {
		t.Error("the refused upgrade changed .env")
	}
}
