package e2e

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// TestBackupCLIRestore: `upshift backup`, `backups --json`, `backup verify`,
// then destructive changes, then `restore --yes` puts everything back; and
// `detect -p NAME` finds the running project from anywhere.
func TestBackupCLIRestore(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	quietWorker(t, s)

	out, err := s.Run("detect", "--json", "-p", s.Project, "--dir", "")
	if err != nil || !strings.Contains(out, `"version": "1.0.0"`) {
		t.Fatalf("detect -p %s: %v\n%s", s.Project, err, out)
	}

	out, err = s.Run("backup", "--json")
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	id := lastResult(t, out).Backup
	if id == "" {
		t.Fatalf("no backup id:\n%s", out)
	}
	out, err = s.Run("backups", "--json")
	var sets []struct{ ID string }
	if err != nil || json.Unmarshal([]byte(out), &sets) != nil || len(sets) != 1 || sets[0].ID != id {
		t.Fatalf("backups --json: %v\n%s", err, out)
	}
	if out, err := s.Run("backup", "verify", id); err != nil || !strings.Contains(out, "intact") {
		t.Fatalf("backup verify: %v\n%s", err, out)
	}
	before := tableSums(t, s)

	// Destroy things.
	if out, err := s.PSQL("DROP TABLE attachments; DELETE FROM notes WHERE id % 2 = 0"); err != nil {
		t.Fatal(out)
	}
	s.SetEnv("LOG_LEVEL", "oops")

	out, err = s.Run("restore", id, "--yes", "--json")
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess {
		t.Fatalf("restore result %+v", res)
	}
	if after := tableSums(t, s); after != before {
		t.Fatalf("database differs after restore:\n%s\n%s", before, after)
	}
	if s.Env("LOG_LEVEL") != "info" {
		t.Errorf(".env not restored: LOG_LEVEL=%s", s.Env("LOG_LEVEL"))
	}
	if v, err := s.APIVersion(); err != nil || v != "1.0.0" {
		t.Fatalf("after restore: %q %v", v, err)
	}
}

// TestSIGHUPDoesNotAbandonTheStep: a dropped SSH session (SIGHUP) in the
// middle of the migration does not stop the upgrade.
func TestSIGHUPDoesNotAbandonTheStep(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	s.SetEnv("DEMO_MIGRATION_DELAY", "2s")
	cmd, cancel := startUpgrade(t, s, "1.1.0")
	defer cancel()
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("upgrade after SIGHUP: %v", err)
	}
	if v, err := s.APIVersion(); err != nil || v != "1.1.0" {
		t.Fatalf("after SIGHUP the upgrade must finish: %q %v", v, err)
	}
	out, err := s.Run("history", "--json")
	if err != nil || !strings.Contains(out, `"outcome": "success"`) {
		t.Fatalf("history: %v\n%s", err, out)
	}
}
