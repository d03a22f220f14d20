package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// frCompose is the layout of Miniflux's contrib/docker-compose/basic.yml
// for an app upshift has no profile for: the whole image reference comes
// from .env (FEEDREADER_IMAGE), the database is a postgres service with
// the usual POSTGRES_* keys, and the app migrates at start.
const frCompose = `services:
  feedreader:
    image: ${FEEDREADER_IMAGE:-feedreader/feedreader:latest}
    ports:
      - "${FR_PORT}:8080"
    depends_on:
      db:
        condition: service_healthy
    environment:
      - DATABASE_URL=postgres://feedreader:${DB_PASSWORD}@db/feedreader?sslmode=disable
      - RUN_MIGRATIONS=1
  db:
    image: ${PG_IMAGE}
    environment:
      - POSTGRES_USER=feedreader
      - POSTGRES_PASSWORD=${DB_PASSWORD}
      - POSTGRES_DB=feedreader
    volumes:
      - feedreader-db:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "feedreader"]
      interval: 1s
      start_period: 30s
volumes:
  feedreader-db:
`

const frEnv = "FEEDREADER_IMAGE=feedreader/feedreader:2.2.6\nPG_IMAGE=%s\nFR_PORT=%s\nDB_PASSWORD=fr-e2e-secret\n"

var frNotes = map[string]string{
	"2.2.6":  "## Bug fixes\n* first release here\n",
	"2.2.8":  "## Improvements\n* feeds can be disabled\n",
	"2.2.10": "## Improvements\n* starred entries\n* a feed URL can be subscribed only once\n",
}

// TestGenericProfileOwnApp: a compose project upshift has no profile for
// (the feedreader personality, shaped like Miniflux) is upgraded by the
// generic profile (the image reference in .env keeps its form, the app's
// own schema_version table is read), rolled back when a migration fails on
// real data, and `profile init` writes a profile that `profile check`
// accepts and that upgrades it.
func TestGenericProfileOwnApp(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	buildLookalike(t, lookalikeImage{personality: "feedreader", repo: "feedreader/feedreader", expose: 8080, cmd: []string{"feedreader"}, healthcheck: true})
	s := newAppStack(t, "fr", map[string]string{
		"docker-compose.yml": frCompose,
		".env":               fmt.Sprintf(frEnv, testenv.PostgresImage(), freePort(t)),
	}, nil, frNotes)
	timed(t, "first start", func() {
		if out, err := s.compose("up", "-d", "--wait", "--wait-timeout", "120"); err != nil {
			t.Fatalf("up: %v\n%s", err, out)
		}
	})
	psql := func(q string) string { return s.psql("db", "feedreader", "feedreader", q) }
	psql(`INSERT INTO users (username) VALUES ('alice'); INSERT INTO feeds (user_id, feed_url) VALUES (1, 'https://a.example/rss'), (1, 'https://b.example/rss')`)

	d := s.detect()
	if d.App != "generic" || d.Version != "2.2.6" || d.Schema.Tool != "table" || d.Schema.Head != "3" {
		t.Fatalf("detect: %+v", d)
	}

	out, err := s.upshift("plan", "--to", "2.2.8", "--notes", s.notes)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	t.Logf("plan:\n%s", out)
	for _, want := range []string{"FEEDREADER_IMAGE", "schema_version"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan does not say %q", want)
		}
	}

	if out, err := s.upshift("upgrade", "--to", "2.2.8", "--dry-run", "--notes", s.notes); err != nil || !strings.Contains(out, "FEEDREADER_IMAGE") || !strings.Contains(out, "assumed to migrate when it starts") {
		t.Errorf("--dry-run does not say what it guessed: %v\n%s", err, out)
	}

	timed(t, "upgrade 2.2.6 → 2.2.8 (generic)", func() {
		out, err := s.upshift("upgrade", "--to", "2.2.8", "--yes", "--json", "--notes", s.notes)
		if err != nil {
			t.Fatalf("upgrade: %v\n%s", err, out)
		}
		if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "2.2.8" {
			t.Fatalf("result %+v\n%s", res, out)
		}
	})
	if got := s.env("FEEDREADER_IMAGE"); got != "feedreader/feedreader:2.2.8" {
		t.Errorf(".env FEEDREADER_IMAGE = %q, want feedreader/feedreader:2.2.8", got)
	}
	if head := psql(`SELECT version FROM schema_version`); head != "4" {
		t.Errorf("schema_version %s, want 4", head)
	}

	// 2.2.10's unique index fails on a feed subscribed twice: rolled back.
	psql(`INSERT INTO feeds (user_id, feed_url) VALUES (1, 'https://a.example/rss')`)
	before := psql(`SELECT string_agg(id || ':' || feed_url, ',' ORDER BY id) FROM feeds`)
	timed(t, "failing upgrade to 2.2.10 + rollback", func() {
		out, err = s.upshift("upgrade", "--to", "2.2.10", "--yes", "--json", "--notes", s.notes)
	})
	if code := exitCode(err); code != 3 {
		t.Fatalf("failing upgrade: exit %d, want 3 (rolled back)\n%s", code, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeRolledBack || res.Reached != "2.2.8" {
		t.Errorf("result %+v", res)
	}
	if got := s.env("FEEDREADER_IMAGE"); got != "feedreader/feedreader:2.2.8" {
		t.Errorf("after the rollback .env FEEDREADER_IMAGE = %q", got)
	}
	if after := psql(`SELECT string_agg(id || ':' || feed_url, ',' ORDER BY id) FROM feeds`); after != before {
		t.Errorf("feeds after the rollback %s, before %s", after, before)
	}
	if head := psql(`SELECT version FROM schema_version`); head != "4" {
		t.Errorf("schema_version after the rollback %s, want 4", head)
	}

	// profile init writes a profile of this stack; check accepts it; it upgrades.
	prof := filepath.Join(filepath.Dir(s.dir), "feedreader.yaml")
	out, err = s.upshift("profile", "init", "--name", "feedreader", "-o", prof)
	if err != nil {
		t.Fatalf("profile init: %v\n%s", err, out)
	}
	body, _ := os.ReadFile(prof)
	t.Logf("profile init wrote:\n%s", body)
	for _, want := range []string{"feedreader/feedreader", "FEEDREADER_IMAGE", "tool: table", "schema_version", "POSTGRES_PASSWORD", "/healthcheck"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the written profile lacks %q", want)
		}
	}
	if out, err := s.upshift("profile", "check", prof); err != nil {
		t.Fatalf("profile check of what init wrote: %v\n%s", err, out)
	}
	// The contradictions are refused with file:line.
	bad := filepath.Join(filepath.Dir(s.dir), "bad.yaml")
	contradictions := strings.Replace(strings.Replace(string(body), "  tool: table\n", "  tool: none\n", 1), "  # heads:", "  heads: {2.2.8: \"4\"}\n  # heads:", 1)
	contradictions = strings.Replace(contradictions, "  form: image\n", "  form: whole\n", 1)
	if err := os.WriteFile(bad, []byte(contradictions), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = s.upshift("profile", "check", bad)
	if exitCode(err) != 1 {
		t.Errorf("profile check of contradictions: exit %d\n%s", exitCode(err), out)
	}
	for _, want := range []string{bad + ":", "schema.table:", "schema.column:", "schema.heads:", "apply.form:"} {
		if !strings.Contains(out, want) {
			t.Errorf("profile check output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("profile check of contradictions:\n%s", out)

	psql(`DELETE FROM feeds WHERE id = 3`)
	timed(t, "upgrade 2.2.8 → 2.2.10 (profile init's)", func() {
		out, err := s.upshift("upgrade", "--to", "2.2.10", "--yes", "--json", "--notes", s.notes, "--profile", prof)
		if err != nil {
			t.Fatalf("upgrade with the written profile: %v\n%s", err, out)
		}
		if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "2.2.10" {
			t.Fatalf("result %+v\n%s", res, out)
		}
	})
	if got := s.env("FEEDREADER_IMAGE"); got != "feedreader/feedreader:2.2.10" {
		t.Errorf(".env FEEDREADER_IMAGE = %q", got)
	}
	if head := psql(`SELECT version FROM schema_version`); head != "5" {
		t.Errorf("schema_version %s, want 5", head)
	}
}
