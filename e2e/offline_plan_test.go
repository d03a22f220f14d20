package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// runNoDocker runs upshift in dir with no Docker engine reachable and no
// route to GitHub; stdout and stderr apart.
func runNoDocker(t *testing.T, bin, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent", "UPSHIFT_GITHUB_API=http://127.0.0.1:1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

type planShape struct {
	From     string   `json:"from"`
	To       string   `json:"to"`
	Blocked  bool     `json:"blocked"`
	Blockers []string `json:"blockers"`
	Notices  []string `json:"notices"`
	Hops     []struct {
		Version      string `json:"version"`
		RequiredStop bool   `json:"required_stop"`
		Warnings     []struct {
			Kind string `json:"kind"`
			Text string `json:"text"`
		} `json:"warnings"`
		ManualActions []string `json:"manual_actions"`
	} `json:"hops"`
	Steps []struct {
		ID string `json:"id"`
	} `json:"steps"`
}

// hopsOnly is what must agree online and offline: hops, stops, warnings,
// manual actions and steps (notices say how each was made, and differ).
func hopsOnly(t *testing.T, raw string) string {
	t.Helper()
	var p planShape
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, raw)
	}
	p.Notices = nil
	b, _ := json.MarshalIndent(p, "", " ")
	return string(b)
}

// TestOfflinePlan: the demo stack's directory plans the same without a
// Docker engine as with one; the image tag tells PostgreSQL 15 is too old
// for 3.0.0; --from/--profile plans in an empty directory; a MySQL layout is
// refused without a guess.
func TestOfflinePlan(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")

	online, err := s.Run("plan", "--dir", s.Dir, "--to", "2.0.0", "--json")
	if err != nil {
		t.Fatalf("online plan: %v\n%s", err, online)
	}
	offline, stderr, code := runNoDocker(t, s.Bin, s.Dir, "plan", "--dir", s.Dir, "--to", "2.0.0", "--json")
	if code != 0 {
		t.Fatalf("offline plan exit %d: %s\n%s", code, stderr, offline)
	}
	if a, b := hopsOnly(t, online), hopsOnly(t, offline); a != b {
		t.Errorf("offline plan differs from online:\nonline:  %s\noffline: %s", a, b)
	}
	var p planShape
	_ = json.Unmarshal([]byte(offline), &p)
	if !strings.Contains(strings.Join(p.Notices, "\n"), "no Docker engine reachable") {
		t.Errorf("the offline plan does not say it was made offline: %v", p.Notices)
	}
	if len(p.Hops) != 2 || !p.Hops[0].RequiredStop || p.Hops[0].Version != "1.1.0" {
		t.Errorf("hops = %+v, want the 1.1.0 stop then 2.0.0", p.Hops)
	}

	// PostgreSQL 15 (from the image tag) is too old for 3.0.0.
	out, stderr, code := runNoDocker(t, s.Bin, s.Dir, "plan", "--offline", "--dir", s.Dir, "--to", "3.0.0")
	if code != 1 {
		t.Errorf("plan --to 3.0.0 offline: exit %d, want 1\n%s%s", code, out, stderr)
	}
	all := out + stderr
	for _, want := range []string{"PostgreSQL 16 or newer", "runs PostgreSQL 15", "image tag", "Upgrade the database server first"} {
		if !strings.Contains(all, want) {
			t.Errorf("plan --to 3.0.0 does not say %q:\n%s", want, all)
		}
	}

	// No stack at all.
	empty := t.TempDir()
	out, stderr, code = runNoDocker(t, s.Bin, empty, "plan", "--from", "1.0.0", "--profile", "upshift-demo", "--to", "2.0.0", "--json")
	if code != 0 {
		t.Fatalf("plan --from in an empty dir: exit %d\n%s%s", code, out, stderr)
	}
	if a, b := hopsOnly(t, online), hopsOnly(t, out); a != b {
		t.Errorf("--from plan differs from the stack's:\nstack: %s\nfrom:  %s", a, b)
	}

	// A MySQL layout: said plainly, exit 1, nothing guessed.
	mysql := filepath.Join(testenv.RepoRoot(), "detect", "testdata", "nightingale-bridge")
	out, stderr, code = runNoDocker(t, s.Bin, mysql, "plan", "--to", "8.5.1", "--from", "8.2.2")
	if code != 1 || !strings.Contains(out+stderr, "MySQL") || !strings.Contains(out+stderr, "does not support") {
		t.Errorf("MySQL layout: exit %d, want 1 and 'MySQL ... does not support':\n%s%s", code, out, stderr)
	}
	if strings.Contains(out, "hop 1") {
		t.Errorf("a MySQL layout was planned:\n%s", out)
	}
}
