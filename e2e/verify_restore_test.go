package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// scratchLeftovers lists everything labelled as a scratch server.
func scratchLeftovers(t *testing.T) string {
	t.Helper()
	var all []string
	for _, args := range [][]string{
		{"ps", "-aq", "--filter", "label=io.upshift.scratch"},
		{"network", "ls", "-q", "--filter", "label=io.upshift.scratch"},
		{"volume", "ls", "-q", "--filter", "label=io.upshift.scratch"},
	} {
		out, err := testenv.Docker(args...)
		if err != nil {
			t.Fatalf("docker %v: %v: %s", args, err, out)
		}
		if s := strings.TrimSpace(out); s != "" {
			all = append(all, args[0]+": "+s)
		}
	}
	return strings.Join(all, "; ")
}

func containerStarts(t *testing.T, s *testenv.Stack) string {
	t.Helper()
	ids, err := testenv.Docker("ps", "-aq", "--filter", "label=com.docker.compose.project="+s.Project)
	if err != nil {
		t.Fatal(ids)
	}
	insp, err := testenv.Docker(append([]string{"inspect", "--format", "{{.Name}} {{.State.StartedAt}} {{.RestartCount}}"}, strings.Fields(ids)...)...)
	if err != nil {
		t.Fatal(insp)
	}
	return insp
}

// TestBackupVerifyRestore: `upshift backup` of the demo stack while its
// worker keeps writing, then `backup verify --restore ID` restores the set
// into a scratch PostgreSQL and finds every table equal to the sums recorded
// from the dump's snapshot; a set whose recorded checksum was edited fails
// with a clear message; the live stack is never touched and nothing labelled
// io.upshift.scratch is left.
func TestBackupVerifyRestore(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	out, err := s.Run("backup", "--json")
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	id := lastResult(t, out).Backup
	out, err = s.Run("backups", "--json")
	var sets []struct {
		ID  string
		Dir string
	}
	if err != nil || json.Unmarshal([]byte(out), &sets) != nil || len(sets) != 1 || sets[0].ID != id {
		t.Fatalf("backups --json: %v\n%s", err, out)
	}
	dir := sets[0].Dir
	live := containerStarts(t, s)

	start := time.Now()
	out, err = s.Run("backup", "verify", "--restore", id)
	t.Logf("verify --restore took %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
	if err != nil || !strings.Contains(out, "every row count and checksum equal to the dump's") {
		t.Fatalf("backup verify --restore: %v\n%s", err, out)
	}
	var m map[string]any
	body, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil || json.Unmarshal(body, &m) != nil {
		t.Fatalf("manifest: %v", err)
	}
	if rp, ok := m["restore_proof"].(map[string]any); !ok || rp["passed"] != true {
		t.Fatalf("no passed restore_proof in the manifest: %v", m["restore_proof"])
	}
	if left := scratchLeftovers(t); left != "" {
		t.Fatalf("scratch leftovers: %s", left)
	}

	// Edit one recorded row count, as a damaged or forged manifest would.
	dbs := m["databases"].([]any)
	tables := dbs[0].(map[string]any)["tables"].(map[string]any)
	sum := tables["public.notes"].(map[string]any)
	sum["rows"] = sum["rows"].(float64) + 1
	body, _ = json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), body, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = s.Run("backup", "verify", "--restore", id)
	t.Logf("tampered: %s", strings.TrimSpace(out))
	if err == nil || !strings.Contains(out, "table public.notes has") || !strings.Contains(out, "at dump time") || !strings.Contains(out, "live stack was not touched") {
		t.Fatalf("a tampered set must fail clearly: %v\n%s", err, out)
	}
	out, err = s.Run("backup", "verify", "--restore", "--json", id)
	if err == nil || !strings.Contains(out, `"passed": false`) || !strings.Contains(out, `"problem": "restore proof failed`) {
		t.Fatalf("verify --restore --json of a tampered set: %v\n%s", err, out)
	}
	if left := scratchLeftovers(t); left != "" {
		t.Fatalf("scratch leftovers: %s", left)
	}
	if now := containerStarts(t, s); now != live {
		t.Fatalf("the live stack was touched:\nbefore %s\nafter  %s", live, now)
	}
	if v, err := s.APIVersion(); err != nil || v != "1.0.0" {
		t.Fatalf("the app after verify --restore: %q %v", v, err)
	}
}

// TestUpgradeRestoreProof: `upgrade` proves its backup by a restore before
// the downtime by default (the demo database is far below the threshold),
// and --restore-proof never skips it.
func TestUpgradeRestoreProof(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	start := time.Now()
	// always: the hop's backup is a pg_dump (a base backup is proven only
	// once sealed at the stop), restored in a scratch server before the stop.
	out, err := s.Run("upgrade", "--to", "1.1.0", "--yes", "--json", "--restore-proof", "always")
	t.Logf("upgrade 1.0.0 → 1.1.0 with the proof took %s", time.Since(start).Round(time.Millisecond))
	if err != nil || !strings.Contains(out, "every row count and checksum equal to the dump") {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	if left := scratchLeftovers(t); left != "" {
		t.Fatalf("scratch leftovers: %s", left)
	}
	out, err = s.Run("upgrade", "--to", "2.0.0", "--yes", "--json", "--restore-proof", "never")
	if err != nil || !strings.Contains(out, "restore proof skipped (--restore-proof never)") {
		t.Fatalf("upgrade --restore-proof never: %v\n%s", err, out)
	}
	if _, err := s.Run("upgrade", "--to", "2.1.0", "--restore-proof", "sometimes"); err == nil {
		t.Fatal("--restore-proof sometimes must be refused")
	}
}
