package e2e

import (
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ownDemoImages makes the test build and run this binary's demo app under
// its own image repository (removed afterwards), whatever another upshift
// left as upshift-demo/app on a shared engine: the test depends on the
// demo's data (a seeded 1.x history with duplicate notes, unique 2.x
// heartbeats).
func ownDemoImages(t *testing.T) {
	t.Helper()
	repo := testenv.UniqueName("upt-rehearse") + ".local/" + demo.ImageRepo
	t.Setenv(demo.ImageRepoEnv, repo)
	t.Cleanup(func() {
		for _, v := range demo.Versions {
			_, _ = testenv.Docker("rmi", "--force", repo+":"+v)
		}
	})
}

// startedAt is when each service's container last started.
func startedAt(t *testing.T, s *testenv.Stack, services ...string) string {
	t.Helper()
	var out []string
	for _, svc := range services {
		o, err := testenv.Docker("inspect", "--format", "{{.State.StartedAt}}", s.Container(svc))
		if err != nil {
			t.Fatalf("inspect %s: %v %s", svc, err, o)
		}
		out = append(out, svc+"="+strings.TrimSpace(o))
	}
	return strings.Join(out, " ")
}

// orphanScratch lists scratch containers whose owning process is gone
// (another upshift's live scratch server is not ours to judge).
func orphanScratch(t *testing.T) []string {
	t.Helper()
	o, err := testenv.Docker("ps", "-a", "--filter", "label=io.upshift.scratch", "--format", `{{.Names}} {{.Label "io.upshift.scratch.pid"}}`)
	if err != nil {
		t.Fatalf("docker ps: %v %s", err, o)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(o), "\n") {
		name, pidS, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		pid, _ := strconv.Atoi(pidS)
		if pid <= 0 || syscall.Kill(pid, 0) == syscall.ESRCH {
			out = append(out, name)
		}
	}
	return out
}

// TestRehearsalStopsBeforeDowntime: on 2.0.0 with duplicate notes (the 1.x
// history), `upgrade --to 2.1.0` fails in its rehearsal with nothing
// stopped or changed and points at the release note's DELETE; `rehearse`
// alone says the same; after the DELETE both pass and the api runs 2.1.0.
func TestRehearsalStopsBeforeDowntime(t *testing.T) {
	ownDemoImages(t)
	s := testenv.StartDemo(t, "2.0.0")
	quietWorker(t, s)
	if n, err := s.PSQL("SELECT count(*) FROM (SELECT body FROM notes GROUP BY body HAVING count(*) > 1) d"); err != nil || n == "0" {
		t.Fatalf("the demo's 1.x history should hold duplicate notes: %q %v", n, err)
	}
	started := startedAt(t, s, "api", "worker")
	before := tableSums(t, s)
	unchanged := func(what string) {
		t.Helper()
		if got := startedAt(t, s, "api", "worker"); got != started {
			t.Fatalf("%s: the app was restarted:\nbefore %s\nafter  %s", what, started, got)
		}
		if got := tableSums(t, s); got != before {
			t.Fatalf("%s: the database changed:\nbefore %s\nafter  %s", what, before, got)
		}
		if v, err := s.APIVersion(); err != nil || v != "2.0.0" {
			t.Fatalf("%s: api version %q %v, want 2.0.0", what, v, err)
		}
		if o := orphanScratch(t); len(o) > 0 {
			t.Fatalf("%s: scratch containers left behind: %v", what, o)
		}
	}

	out, err := s.Run("upgrade", "--to", "2.1.0", "--yes", "--json")
	if code := exitCode(err); code != 1 {
		t.Fatalf("upgrade: exit %d, want 1 (failed before any change)\n%s", code, out)
	}
	res := lastResult(t, out)
	if res.Outcome != steps.OutcomeFailed || res.FailedStep != "2.1.0/rehearse" || !res.Unchanged || res.Reached != "2.0.0" {
		t.Fatalf("upgrade result %+v", res)
	}
	for _, want := range []string{"nothing was changed", "could not create unique index"} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("upgrade message lacks %q: %s", want, res.Message)
		}
	}
	if !strings.Contains(res.Next, "DELETE FROM notes a USING notes b") {
		t.Errorf("what to do should give 2.1.0's duplicate-notes action: %q", res.Next)
	}
	if strings.Contains(out, `"step":"2.1.0/stop"`) || strings.Contains(out, "rolling_back") {
		t.Errorf("the upgrade went past the rehearsal:\n%s", out)
	}
	// The restore point is a base backup: the rehearsal ran on a copy of
	// it and of the WAL so far, not on a dump of the running database.
	if !strings.Contains(out, "of the WAL written so far") || strings.Contains(out, "a copy of the running database") {
		t.Errorf("the rehearsal did not run on a copy of the base backup:\n%s", out)
	}
	unchanged("failed upgrade")

	out, err = s.Run("rehearse", "--to", "2.1.0")
	if code := exitCode(err); code != 1 {
		t.Fatalf("rehearse: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"nothing was changed", "could not create unique index", "DELETE FROM notes a USING notes b", "rehearsal 2.1.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("rehearse output lacks %q:\n%s", want, out)
		}
	}
	unchanged("failed rehearsal")

	if o, err := s.PSQL("DELETE FROM notes a USING notes b WHERE a.id > b.id AND a.body = b.body"); err != nil {
		t.Fatalf("the release note's DELETE: %v %s", err, o)
	}
	before = tableSums(t, s)

	out, err = s.Run("rehearse", "--to", "2.1.0", "--json")
	if code := exitCode(err); code != 0 {
		t.Fatalf("rehearse after the DELETE: exit %d\n%s", code, out)
	}
	res = lastResult(t, out)
	head := demo.HeadOf["2.1.0"]
	if res.Outcome != steps.OutcomeSuccess || res.Reached != "2.0.0" || !strings.Contains(res.Message, "2.1.0 in ") || !strings.Contains(res.Message, "head "+head) {
		t.Fatalf("rehearse result %+v", res)
	}
	unchanged("passed rehearsal")

	out, err = s.Run("upgrade", "--to", "2.1.0", "--yes")
	if code := exitCode(err); code != 0 {
		t.Fatalf("upgrade after the DELETE: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "passed its rehearsal") {
		t.Errorf("the upgrade did not rehearse:\n%s", out)
	}
	if v, err := s.APIVersion(); err != nil || v != "2.1.0" {
		t.Fatalf("after the upgrade the api runs %q (%v), want 2.1.0", v, err)
	}
	if o := orphanScratch(t); len(o) > 0 {
		t.Fatalf("scratch containers left behind: %v", o)
	}
	t.Logf("rehearsal passed: %s", res.Message)
}
