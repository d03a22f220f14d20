package e2e

import (
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// TestResumeKeepsRollbackTo: `upgrade --to 2.0.0 --rollback-to start` from
// 1.0.0, killed -9 in 2.0.0's migration (1.1.0 verified on the way); a
// plain `resume --rollback --yes` goes back where the run was told to, 1.0.0,
// not to the last good 1.1.0.
func TestResumeKeepsRollbackTo(t *testing.T) {
	t.Parallel()
	s := testenv.StartDemo(t, "1.0.0")
	s.SetEnv("DEMO_MIGRATION_DELAY", "4s")
	cmd, cancel := startUpgrade(t, s, "2.0.0", "--rollback-to", "start", "--no-rehearsal")
	defer cancel()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	out, err := s.Run("resume", "--rollback", "--yes", "--json")
	if code := exitCode(err); code != 3 {
		t.Fatalf("resume --rollback: exit %d, want 3 (rolled back): %v\n%s", code, err, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeRolledBack || res.Reached != "1.0.0" {
		t.Fatalf("resume result %+v, want rolled back to 1.0.0\n%s", res, tail(out, 10))
	}
	if v, err := s.APIVersion(); err != nil || v != "1.0.0" {
		t.Fatalf("after the resumed rollback the api runs %q (%v), want 1.0.0", v, err)
	}
	if head, _ := s.PSQL("SELECT version_num FROM alembic_version"); head != demo.Rev100 {
		t.Fatalf("after the rollback the schema is at %s, want 1.0.0's %s", head, demo.Rev100)
	}
	if !strings.Contains(s.Env("APP_VERSION"), "1.0.0") {
		t.Fatalf(".env APP_VERSION=%s", s.Env("APP_VERSION"))
	}
}
