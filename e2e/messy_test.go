package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// A failure in the second hop goes back to the last good version: 1.0.0 →
// 1.1.0 succeeds, 1.1.0 → 2.1.0 fails in its migration (duplicate notes),
// and the stack runs 1.1.0 again, healthy, with 1.1.0's schema head.
func TestRollbackToTheLastGoodHop(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	if _, err := s.PSQL(`INSERT INTO notes (body) VALUES ('same body'), ('same body')`); err != nil {
		t.Fatal(err)
	}
	out, err := s.Run("upgrade", "--to", "2.1.0", "--yes", "--json", "--no-rehearsal")
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit %d, want 3 (rolled back)\n%s", code, out)
	}
	res := lastResult(t, out)
	if res.Outcome != steps.OutcomeRolledBack || res.Reached != "1.1.0" || !strings.HasSuffix(res.FailedStep, "/migrate") {
		t.Fatalf("result %+v", res)
	}
	if v, err := s.APIVersion(); err != nil || v != "1.1.0" {
		t.Fatalf("after the rollback the api runs %q (%v), want 1.1.0", v, err)
	}
	if head, _ := s.PSQL("SELECT version_num FROM alembic_version"); head != demo.HeadOf["1.1.0"] {
		t.Fatalf("schema at %s, want 1.1.0's %s", head, demo.HeadOf["1.1.0"])
	}
	if !strings.Contains(res.Next, "DELETE FROM notes") {
		t.Errorf("what to do should point at 2.1.0's release-note action: %q", res.Next)
	}
	if res.Cause == "" || res.Log == "" {
		t.Errorf("cause %q, log %q: a failure names the app's error line and the full log", res.Cause, res.Log)
	}
}

// A dependency of the app that is down is found before anything stops.
func TestPreflightFindsAStoppedDependency(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	compose := filepath.Join(s.Dir, "compose.yaml")
	b, err := os.ReadFile(compose)
	if err != nil {
		t.Fatal(err)
	}
	dep := "    depends_on:\n      db:\n        condition: service_healthy\n    healthcheck:"
	if !strings.Contains(string(b), dep) {
		t.Fatal("the demo compose file changed shape")
	}
	edited := strings.Replace(string(b), dep, "    depends_on:\n      db:\n        condition: service_healthy\n      cache:\n        condition: service_started\n    healthcheck:", 1)
	// A cache service the api depends on (any long-running image will do).
	edited = strings.Replace(edited, "\nvolumes:\n", "\n  cache:\n    image: ${POSTGRES_IMAGE:-postgres:16-alpine}\n    entrypoint: [\"sleep\", \"3600\"]\n\nvolumes:\n", 1)
	if err := os.WriteFile(compose, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := s.Compose("up", "-d", "cache"); err != nil {
		t.Fatalf("compose up cache: %v\n%s", err, out)
	}
	if out, err := s.Compose("stop", "cache"); err != nil {
		t.Fatalf("compose stop cache: %v\n%s", err, out)
	}
	started, _ := testenv.Docker("inspect", "-f", "{{.State.StartedAt}}", s.Container("api"))
	out, err := s.Run("upgrade", "--to", "1.1.0", "--yes", "--json")
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1 (refused)\n%s", code, out)
	}
	res := lastResult(t, out)
	if !res.Unchanged || res.FailedStep != "1.1.0/preflight" || !strings.Contains(res.Error, "cache is exited (api depends on it)") {
		t.Fatalf("result %+v", res)
	}
	if now, _ := testenv.Docker("inspect", "-f", "{{.State.StartedAt}}", s.Container("api")); now != started {
		t.Errorf("the api was restarted (%s → %s): nothing may stop before the check", started, now)
	}
}
