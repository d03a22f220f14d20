package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// requireAnsible finds ansible-playbook: it skips loudly without it, and
// fails under CI=true (scripts/test-env.sh installs it).
func requireAnsible(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ansible-playbook")
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("ansible-playbook is not on PATH and CI=true (scripts/test-env.sh installs it)")
	}
	t.Skip("\n\n*** SKIPPING THE ANSIBLE END-TO-END TEST: ansible-playbook is not on PATH (apt-get install ansible) ***\n")
	return ""
}

// recap is one host's line of the PLAY RECAP.
type recap struct{ ok, changed, failed, skipped, rescued int }

var recapRe = regexp.MustCompile(`(?m)^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)\s+skipped=(\d+)\s+rescued=(\d+)`)

func parseRecap(out string) map[string]recap {
	m := map[string]recap{}
	for _, g := range recapRe.FindAllStringSubmatch(out, -1) {
		n := func(i int) int { v, _ := strconv.Atoi(g[i]); return v }
		m[g[1]] = recap{ok: n(2), changed: n(3), failed: n(4), skipped: n(5), rescued: n(6)}
	}
	return m
}

// fatalMsg is the msg of the last "fatal: [host]: FAILED! => {...}" of host.
func fatalMsg(out, host string) string {
	msg := ""
	prefix := "fatal: [" + host + "]: FAILED! => "
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			var r struct {
				Msg string `json:"msg"`
			}
			if json.Unmarshal([]byte(rest), &r) == nil {
				msg = r.Msg
			}
		}
	}
	return msg
}

func runPlaybook(t *testing.T, bin, inventory string, extra ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := filepath.Join(testenv.RepoRoot(), "examples", "ansible")
	cmd := exec.CommandContext(ctx, bin, append([]string{"-i", inventory, "upgrade.yml"}, extra...)...)
	cmd.Dir = dir
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "ANSIBLE_STDOUT_CALLBACK=default", "ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0",
		"ANSIBLE_LOCAL_TEMP="+tmp, "ANSIBLE_REMOTE_TEMP="+tmp, "ANSIBLE_HOME="+tmp, "ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_ROLES_PATH="+filepath.Join(dir, "roles"),
		// ansible-core refuses a non-UTF-8 locale (LC_ALL=C in some CI
		// shells); C.UTF-8 is always there on Debian.
		"LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	t.Logf("TIMING ansible-playbook %v: %s", extra, time.Since(t0).Round(100*time.Millisecond))
	return out.String(), exitCode(err)
}

// TestAnsiblePlaybook runs examples/ansible for real against localhost:
// app1 (1.0.0 → 2.0.0 through the required stop) is "changed"; app2
// (2.0.0 → 2.1.0, whose migration fails on the demo's data) is rolled back
// by upshift and reported failed with upshift's own message; the play
// stops there (app3 is never touched); a second run reports app1 "ok".
func TestAnsiblePlaybook(t *testing.T) {
	bin := requireAnsible(t)
	a := testenv.StartDemo(t, "1.0.0")
	b := testenv.StartDemo(t, "2.0.0")
	// The seeded 1.x history holds duplicate notes: 2.1.0's migration fails on them.

	inv := filepath.Join(t.TempDir(), "inventory.yml")
	host := func(dir, to string) string {
		return fmt.Sprintf("{upshift_project_dir: %q, upshift_target_version: %q}", dir, to)
	}
	invText := fmt.Sprintf(`all:
  children:
    upshift:
      vars:
        ansible_connection: local
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
        upshift_bin: %q
      hosts:
        app1: %s
        app2: %s
        app3: %s
`, a.Bin, host(a.Dir, "2.0.0"), strings.TrimSuffix(host(b.Dir, "2.1.0"), "}")+`, upshift_extra_flags: ["--no-rehearsal"]}`, host(filepath.Join(t.TempDir(), "never-touched"), "2.0.0"))
	if err := os.WriteFile(inv, []byte(invText), 0o600); err != nil {
		t.Fatal(err)
	}

	out, code := runPlaybook(t, bin, inv)
	if code == 0 {
		t.Fatalf("the playbook succeeded although app2's upgrade fails:\n%s", out)
	}
	if os.Getenv("UPSHIFT_SHOW_ANSIBLE") != "" {
		t.Logf("playbook output:\n%s", out)
	}
	rc := parseRecap(out)
	if r, ok := rc["app1"]; !ok || r.changed != 1 || r.failed != 0 {
		t.Errorf("app1 recap %+v (want changed=1 failed=0)\n%s", r, out)
	}
	if r, ok := rc["app2"]; !ok || r.failed != 1 {
		t.Errorf("app2 recap %+v (want failed=1)\n%s", r, out)
	}
	if r, ok := rc["app3"]; ok && (r.ok > 0 || r.changed > 0) {
		t.Errorf("app3 was reached after app2 failed (recap %+v): the play must stop at the first failure\n%s", r, out)
	}
	if v, err := a.APIVersion(); err != nil || v != "2.0.0" {
		t.Errorf("app1 runs %q %v, want 2.0.0", v, err)
	}
	if v, err := b.APIVersion(); err != nil || v != "2.0.0" {
		t.Errorf("app2 runs %q %v, want 2.0.0 again (rolled back)", v, err)
	}

	// app2's failure carries upshift's own message, the one its journal
	// keeps (upshift status shows it too, and exits 1).
	stOut, err := b.Run("status", "--json")
	if exitCode(err) != 1 {
		t.Errorf("status of the rolled-back stack: exit %d, want 1\n%s", exitCode(err), stOut)
	}
	var st struct {
		State   string `json:"state"`
		LastRun struct {
			Outcome string `json:"outcome"`
			Message string `json:"message"`
		} `json:"last_run"`
	}
	if err := json.Unmarshal([]byte(stOut[:strings.LastIndex(stOut, "}")+1]), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, stOut)
	}
	msg := fatalMsg(out, "app2")
	if st.LastRun.Outcome != "rolled_back" || st.LastRun.Message == "" || !strings.Contains(msg, "rolled_back (exit 3)") || !strings.Contains(msg, st.LastRun.Message) {
		t.Errorf("app2's failure message %q lacks upshift's %q (status %+v)\n%s", msg, st.LastRun.Message, st, out)
	}
	if !strings.Contains(out, "app2: FAILED: 2.0.0 → 2.1.0 (rolled_back, exit 3): ") || !strings.Contains(out, "app1: CHANGED: 1.0.0 → 2.0.0 (success)") || !strings.Contains(out, "app3: not reached") {
		t.Errorf("the fleet summary is not in the output:\n%s", out)
	}

	// Idempotent: app1 is at the target, so a second run changes nothing.
	out, code = runPlaybook(t, bin, inv, "--limit", "app1")
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	if r := parseRecap(out)["app1"]; r.changed != 0 || r.failed != 0 || r.ok == 0 {
		t.Errorf("second run app1 recap %+v (want ok, changed=0)\n%s", r, out)
	}
	if !strings.Contains(out, "app1: OK: 2.0.0 → 2.0.0 (already there)") {
		t.Errorf("second run summary:\n%s", out)
	}
	if out, err := a.Run("status"); err != nil || !strings.Contains(out, "2.0.0 runs") {
		t.Errorf("status of app1 after the play: %v\n%s", err, out)
	}
}
