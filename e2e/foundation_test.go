// Package e2e holds end-to-end tests against a real Docker engine, real
// docker compose and real PostgreSQL containers.
package e2e

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// TestDemoAppUpgradeSemantics proves the demo app behaves like a real
// self-hosted app during upgrades.
func TestDemoAppUpgradeSemantics(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")

	v, err := s.APIVersion()
	if err != nil || v != "1.0.0" {
		t.Fatalf("api /version = %q, %v; want 1.0.0", v, err)
	}
	if head, err := s.PSQL("SELECT version_num FROM alembic_version"); err != nil || head != demo.Rev100 {
		t.Fatalf("schema head %q (%v), want %s", head, err, demo.Rev100)
	}

	// The worker acknowledges rows; stop it and remember what it said.
	if out, err := s.Compose("stop", "worker", "api"); err != nil {
		t.Fatalf("stop: %v\n%s", err, out)
	}
	acked := ackedIDs(t, s)
	if len(acked) < 3 {
		t.Fatalf("worker acknowledged only %d rows", len(acked))
	}

	// 2.0.0 refuses to start on the 1.0.0 schema.
	buildImage(t, s, "2.0.0")
	out, err := s.ComposeEnv([]string{"APP_VERSION=2.0.0"}, "run", "--rm", "--no-deps", "-e", "APP_SECRET=x", "api", "serve")
	if err == nil || !strings.Contains(out, "this version needs "+demo.Rev200) {
		t.Fatalf("2.0.0 serve on 1.0.0 schema: err=%v, want refusal; output:\n%s", err, out)
	}
	// ... and its migration refuses too: 1.1.0 is a required stop.
	out, err = runMigrate(t, s, "2.0.0")
	if err == nil || !strings.Contains(out, "upgrade to 1.1.0 first") {
		t.Fatalf("2.0.0 migrate on 1.0.0 schema: err=%v, want required-stop refusal; output:\n%s", err, out)
	}

	// One-off migrate of 1.1.0 then 2.0.0 succeeds.
	buildImage(t, s, "1.1.0")
	for _, v := range []string{"1.1.0", "2.0.0"} {
		if out, err := runMigrate(t, s, v); err != nil {
			t.Fatalf("migrate %s: %v\n%s", v, err, out)
		}
		if head, _ := s.PSQL("SELECT version_num FROM alembic_version"); head != demo.HeadOf[v] {
			t.Fatalf("after migrate %s: head %s, want %s", v, head, demo.HeadOf[v])
		}
	}

	// Starting 1.0.0 on the 2.0.0 schema fails with the unknown-revision error.
	out, err = s.Compose("run", "--rm", "--no-deps", "api", "serve")
	if err == nil || !strings.Contains(out, "Can't locate revision identified by '"+demo.Rev200+"'") {
		t.Fatalf("1.0.0 on 2.0.0 schema: err=%v, want unknown revision; output:\n%s", err, out)
	}

	// Every acknowledged row is in the table.
	rows, err := s.PSQL("SELECT id FROM notes ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	have := map[int]bool{}
	for _, f := range strings.Fields(rows) {
		n, _ := strconv.Atoi(f)
		have[n] = true
	}
	for _, id := range acked {
		if !have[id] {
			t.Fatalf("acknowledged row %d is missing", id)
		}
	}

	// The 2.1.0 migration fails halfway on real data (the seeded 1.x history
	// has duplicate notes) and leaves the database changed.
	buildImage(t, s, "2.1.0")
	out, err = runMigrate(t, s, "2.1.0")
	if err == nil || !strings.Contains(out, "could not create unique index") {
		t.Fatalf("2.1.0 migrate: err=%v, want unique-index failure; output:\n%s", err, out)
	}
	if head, _ := s.PSQL("SELECT version_num FROM alembic_version"); head != demo.Rev200 {
		t.Fatalf("after failed 2.1.0: head %s, want %s (unchanged)", head, demo.Rev200)
	}
	if n, err := s.PSQL("SELECT count(*) FROM note_tags"); err != nil || n == "0" {
		t.Fatalf("after failed 2.1.0 the first part must have committed: note_tags count %q err %v", n, err)
	}
}

func buildImage(t *testing.T, s *testenv.Stack, v string) {
	t.Helper()
	if out, err := s.Run("demo", "build", "--version", v); err != nil {
		t.Fatalf("demo build %s: %v\n%s", v, err, out)
	}
}

func runMigrate(t *testing.T, s *testenv.Stack, v string) (string, error) {
	t.Helper()
	return s.ComposeEnv([]string{"APP_VERSION=" + v}, "run", "--rm", "--no-deps", "api", "migrate")
}

var committedRe = regexp.MustCompile(`committed id=(\d+)`)

func ackedIDs(t *testing.T, s *testenv.Stack) []int {
	t.Helper()
	out, err := s.Compose("logs", "--no-color", "worker")
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	var ids []int
	for _, m := range committedRe.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		ids = append(ids, n)
	}
	sort.Ints(ids)
	return ids
}

// TestDemoUpDownLeavesNothing: `demo up` serves 1.0.0; `demo down` removes
// every container, network and volume of the project.
func TestDemoUpDownLeavesNothing(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	if v, err := s.APIVersion(); err != nil || v != "1.0.0" {
		t.Fatalf("/version = %q, %v", v, err)
	}
	out, err := s.Run("demo", "status", "--dir", s.Dir)
	if err != nil || !strings.Contains(out, "answers version 1.0.0") {
		t.Fatalf("demo status: %v\n%s", err, out)
	}
	s.Down()
	label := "label=com.docker.compose.project=" + s.Project
	for _, args := range [][]string{
		{"ps", "-aq", "--filter", label},
		{"network", "ls", "-q", "--filter", label},
		{"volume", "ls", "-q", "--filter", label},
	} {
		out, err := testenv.Docker(args...)
		if err != nil {
			t.Fatalf("docker %v: %v", args, err)
		}
		if strings.TrimSpace(out) != "" {
			t.Errorf("after demo down, docker %v still lists:\n%s", args, out)
		}
	}
}
