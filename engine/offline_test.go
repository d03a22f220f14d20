package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/releases"
)

// offlineOptions point at dir with a GitHub API no request can reach and
// an empty cache.
func offlineOptions(t *testing.T, dir string) Options {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	return Options{Stack: detect.StackOptions{Dir: dir}, GitHubURL: "http://127.0.0.1:1"}
}

func pathHops(p releases.Path) []string {
	var out []string
	for _, h := range p.Hops {
		out = append(out, h.Version)
	}
	return out
}

func hasNoNotesMark(h releases.Hop) bool {
	for _, w := range h.Warnings {
		if w.Text == NoNotesWarning {
			return true
		}
	}
	return false
}

// TestPlanFromProfileRules: Mattermost's files, GitHub unreachable: the
// plan follows the profile's rules (ESR stop), marks each hop, and the
// image tag's PostgreSQL 13 blocks 11.x.
func TestPlanFromProfileRules(t *testing.T) {
	s, err := OpenForPlan(context.Background(), offlineOptions(t, "../testdata/apps/mattermost"), PlanMode{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := s.PlanTarget(context.Background(), "11.7.3", PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(pathHops(pl.Path), " "); got != "10.11 11.7.3" {
		t.Errorf("hops = %s, want the 10.11 ESR stop then 11.7.3", got)
	}
	for _, h := range pl.Path.Hops {
		if !hasNoNotesMark(h) {
			t.Errorf("hop %s is not marked as planned without notes", h.Version)
		}
	}
	if !pl.Path.Blocked || !strings.Contains(strings.Join(pl.Path.Blockers, " "), "runs PostgreSQL 13") {
		t.Errorf("blockers = %v, want PostgreSQL 13 too old", pl.Path.Blockers)
	}
	all := strings.Join(pl.Notices, "\n")
	for _, want := range []string{"offline", "image tag postgres:13-alpine", "planned from the profile's rules"} {
		if !strings.Contains(all, want) {
			t.Errorf("notices lack %q:\n%s", want, all)
		}
	}
	if est := s.PlanEstimate(context.Background(), pl); !est.NotEstimated || len(est.Problems()) != 0 {
		t.Errorf("offline estimate = %+v", est)
	}
}

// TestPlanVersionForm: --to 4.81.6 and --to v4.81.6 plan the same, in
// SimpleLogin's own form (v4.81.6), from --from with no compose project.
func TestPlanVersionForm(t *testing.T) {
	for _, to := range []string{"4.81.6", "v4.81.6"} {
		o := offlineOptions(t, t.TempDir())
		o.Profile = "simplelogin"
		s, err := OpenForPlan(context.Background(), o, PlanMode{Offline: true, From: "4.70.0"})
		if err != nil {
			t.Fatal(err)
		}
		pl, err := s.PlanTarget(context.Background(), to, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pl.Path.From != "v4.70.0" || pl.Path.To != "v4.81.6" || strings.Join(pathHops(pl.Path), " ") != "v4.81.6" {
			t.Errorf("--to %s: %s → %s via %v, want v4.70.0 → v4.81.6", to, pl.Path.From, pl.Path.To, pathHops(pl.Path))
		}
		if !strings.Contains(strings.Join(pl.Notices, "\n"), "no compose project") {
			t.Errorf("notices = %v", pl.Notices)
		}
	}
	// Nightingale's images drop the v, its git tags (the release notes) keep
	// it: the notes' form wins, once for the whole plan.
	n := mustProfile(t, "nightingale")
	if !usesV(n, []releases.Note{{Version: "v8.4.1"}, {Version: "v8.5.1"}}) || usesV(n, []releases.Note{{Version: "8.5.1"}}) {
		t.Error("nightingale's form does not follow its notes")
	}
	if got := appForm("8.2.2", true); got != "v8.2.2" {
		t.Errorf("appForm = %s", got)
	}
}

// TestPlanRefusesMySQL: Nightingale's MySQL layout is refused, no guess.
func TestPlanRefusesMySQL(t *testing.T) {
	s, err := OpenForPlan(context.Background(), offlineOptions(t, "../detect/testdata/nightingale-bridge"), PlanMode{Offline: true, From: "8.2.2"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.PlanTarget(context.Background(), "8.5.1", PlanOptions{})
	if err == nil || !strings.Contains(err.Error(), "MySQL") || !strings.Contains(err.Error(), "does not support") {
		t.Fatalf("err = %v, want MySQL refused", err)
	}
}

// TestPlanFromGitTags: a compose dir inside the app's own clone gives the
// versions (latest resolves); a clone of another repository is ignored.
func TestPlanFromGitTags(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "docker")
	for _, f := range []string{"docker-compose.yaml", ".env"} {
		b, err := os.ReadFile(filepath.Join("../testdata/apps/dify", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", root, "-c", "user.email=t@example.org", "-c", "user.name=t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("remote", "add", "origin", "git@github.com:langgenius/dify.git")
	git("add", "-A")
	git("commit", "-qm", "layout")
	for _, tag := range []string{"1.13.3", "1.14.0", "1.15.0-rc1", "1.15.0"} {
		git("tag", tag)
	}
	s, err := OpenForPlan(context.Background(), offlineOptions(t, dir), PlanMode{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := s.PlanTarget(context.Background(), "latest", PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Path.To != "1.15.0" || !hasNoNotesMark(pl.Path.Hops[0]) {
		t.Errorf("to = %s, hops %v", pl.Path.To, pathHops(pl.Path))
	}
	git("remote", "set-url", "origin", "https://github.com/someone/else.git")
	s, err = OpenForPlan(context.Background(), offlineOptions(t, dir), PlanMode{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PlanTarget(context.Background(), "latest", PlanOptions{}); err == nil {
		t.Error("another repository's tags were taken for the app's")
	}
}

func mustProfile(t *testing.T, name string) *profile.Profile {
	t.Helper()
	for _, p := range profile.Builtin() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no profile %s", name)
	return nil
}
