package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/tape"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// hangupTape approves the migration, then the test kills the terminal
// (the whole tmux server, as an SSH drop takes the whole session) while the
// migration runs.
const hangupTape = wizardToMigrate + `
Sleep 2s
`

// TestWizardSurvivesHangup: the terminal of a wizard goes away in the
// middle of a migration (tmux server killed: SIGHUP to the session's
// process group, the pty gone). The run detaches, finishes on its own, and
// `upshift history` says success; the stack runs 1.1.0 with its schema.
func TestWizardSurvivesHangup(t *testing.T) {
	requireTmux(t)
	s := testenv.StartDemo(t, "1.0.0")
	s.SetEnv("DEMO_MIGRATION_DELAY", "6s")
	cmds, err := tape.ParseString(hangupTape)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// An interactive bash, as on an SSH login: upshift runs as its job, and
	// on the hang-up bash passes SIGHUP on to the job's whole process group
	// (docker compose included, unless it runs in a group of its own).
	start, err := tape.ParseString("Type \"" + s.Bin + " --dir " + s.Dir + " --log-file " + filepath.Join(t.TempDir(), "wizard.log") + "\"\nEnter\n")
	if err != nil {
		t.Fatal(err)
	}
	// Replay kills the tmux server when the tape ends: that is the hang-up.
	if err := tape.Replay(ctx, append(start, cmds...), testenv.UniqueName("hup"), "bash --norc --noprofile -i"); err != nil {
		t.Fatalf("wizard replay: %v", err)
	}
	deadline := time.Now().Add(4 * time.Minute)
	var last string
	done := false
	for !done && time.Now().Before(deadline) {
		out, err := s.Run("history", "--json")
		if err == nil {
			var rows []struct {
				Outcome     string `json:"outcome"`
				Interrupted bool   `json:"interrupted"`
				To          string `json:"to"`
			}
			if json.Unmarshal([]byte(out), &rows) == nil && len(rows) > 0 {
				last = out
				if !rows[0].Interrupted {
					if rows[0].Outcome != "success" || rows[0].To != "1.1.0" {
						t.Fatalf("after the hang-up the run ended %q (to %s), want success:\n%s", rows[0].Outcome, rows[0].To, out)
					}
					done = true
					continue
				}
			}
		}
		time.Sleep(2 * time.Second)
	}
	if !done {
		t.Fatalf("the run did not finish within 4 minutes of the hang-up; history:\n%s", last)
	}
	if v, err := s.APIVersion(); err != nil || v != "1.1.0" {
		t.Fatalf("after the hang-up the api runs %q (%v), want 1.1.0\nhistory: %s", v, err, last)
	}
	if head, _ := s.PSQL("SELECT version_num FROM alembic_version"); head != demo.Rev110 {
		t.Fatalf("schema at %s, want %s", head, demo.Rev110)
	}
	journal, _ := filepath.Glob(filepath.Join(s.Dir, "upshift-backups", "runs", "*.jsonl"))
	if len(journal) != 1 || !fileContains(t, journal[0], "SIGHUP") {
		t.Fatalf("the journal %v must note the hang-up", journal)
	}
}

func fileContains(t *testing.T, path, text string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), text)
}
