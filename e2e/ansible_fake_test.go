package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeUpshift is a stand-in upshift for the paths a demo stack cannot
// show cheaply: it answers detect and plan from files, and records any
// upgrade it is asked for.
const fakeUpshift = `#!/bin/sh
dir=""; prev=""
for a in "$@"; do [ "$prev" = "--dir" ] && dir="$a"; prev="$a"; done
case "$1" in
detect) cat "$dir/detect.json" ;;
plan) cat "$dir/plan.json" ;;
upgrade)
  echo "$*" >> "$dir/upgrades"
  if [ -f "$dir/upgrade.stderr" ]; then cat "$dir/upgrade.stderr" >&2; exit 1; fi
  echo '{"event":"done","schema_version":1}'
  echo '{"result":"success","from":"1.0.0","to":"2.0.0","reached":"2.0.0","schema_version":1}' ;;
*) echo "fake upshift: $*" >&2; exit 2 ;;
esac
`

// TestAnsibleStopsEarly: with a stand-in upshift (no Docker), a blocked
// path fails the host before any upgrade, with the blockers in the message;
// an upgrade upshift refuses before it starts (stdout empty) fails with
// upshift's stderr; extra flags reach upshift upgrade; --check says what
// would change and upgrades nothing.
func TestAnsibleStopsEarly(t *testing.T) {
	bin := requireAnsible(t)
	tmp := t.TempDir()
	fake := filepath.Join(tmp, "upshift")
	if err := os.WriteFile(fake, []byte(fakeUpshift), 0o755); err != nil {
		t.Fatal(err)
	}
	mk := func(name, plan, stderr string) string {
		d := filepath.Join(tmp, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{"detect.json": `{"version": "1.0.0", "app": "x"}`, "plan.json": plan}
		if stderr != "" {
			files["upgrade.stderr"] = stderr
		}
		for f, c := range files {
			if err := os.WriteFile(filepath.Join(d, f), []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	okPlan := `{"from": "1.0.0", "to": "2.0.0", "hops": [{"version": "1.1.0"}, {"version": "2.0.0"}], "blocked": false, "blockers": []}`
	good := mk("good", okPlan, "")
	blocked := mk("blocked", `{"from": "1.0.0", "to": "2.0.0", "blocked": true, "blockers": ["2.0.0 needs PostgreSQL 16 or newer (runs 15.8)"]}`, "")
	locked := mk("locked", okPlan, "upshift: another upshift is running on this project (pid 42). Nothing was changed.")
	inv := filepath.Join(tmp, "inventory.yml")
	h := func(d string) string { return fmt.Sprintf("{upshift_project_dir: %q}", d) }
	if err := os.WriteFile(inv, []byte(fmt.Sprintf(`all:
  children:
    upshift:
      vars:
        ansible_connection: local
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
        upshift_bin: %q
        upshift_target_version: "2.0.0"
        upshift_extra_flags: ["--backup-after-stop"]
      hosts:
        good: %s
        blocked: %s
        locked: %s
`, fake, h(good), h(blocked), h(locked))), 0o600); err != nil {
		t.Fatal(err)
	}

	// --check: detect and plan run, the upgrade does not; the host would
	// change.
	out, code := runPlaybook(t, bin, inv, "--check", "--limit", "good")
	if r := parseRecap(out)["good"]; code != 0 || r.changed != 1 || r.failed != 0 || !strings.Contains(out, "would upgrade 1.0.0 → 2.0.0 through 1.1.0, 2.0.0") {
		t.Errorf("check mode: exit %d recap %+v\n%s", code, r, out)
	}
	if _, err := os.Stat(filepath.Join(good, "upgrades")); err == nil {
		t.Error("--check ran the upgrade")
	}

	// One host per run: max_fail_percentage 0 would stop at the first.
	out, code = runPlaybook(t, bin, inv, "--limit", "good")
	if r := parseRecap(out)["good"]; code != 0 || r.changed != 1 || r.failed != 0 {
		t.Errorf("good host: exit %d recap %+v\n%s", code, r, out)
	}
	if b, _ := os.ReadFile(filepath.Join(good, "upgrades")); !strings.Contains(string(b), "--backup-after-stop") || !strings.Contains(string(b), "--yes --json") {
		t.Errorf("upgrade called as %q, want --yes --json and the extra flags", b)
	}

	out, code = runPlaybook(t, bin, inv, "--limit", "blocked")
	if msg := fatalMsg(out, "blocked"); code == 0 || !strings.Contains(msg, "is blocked: 2.0.0 needs PostgreSQL 16") {
		t.Errorf("blocked host: exit %d, message %q\n%s", code, msg, out)
	}
	if _, err := os.Stat(filepath.Join(blocked, "upgrades")); err == nil {
		t.Error("upgrade ran on a blocked path")
	}

	out, code = runPlaybook(t, bin, inv, "--limit", "locked")
	if msg := fatalMsg(out, "locked"); code == 0 || !strings.Contains(msg, "error (exit 1): upshift: another upshift is running") {
		t.Errorf("locked host: exit %d, message %q\n%s", code, msg, out)
	}
}
