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

// layoutCompose keeps the app's definition where many real layouts keep
// it: the service extends one of a shared file, whose image (a literal
// tag) sits in an x- anchor merged in; the database takes its settings
// from an anchor too.
const layoutCompose = `x-db: &db
  image: ${PG_IMAGE}
  healthcheck:
    test: ["CMD", "pg_isready", "-U", "feedreader"]
    interval: 1s
    start_period: 30s
services:
  feedreader:
    extends:
      file: ./common/app.yml
      service: app
    ports:
      - "${FR_PORT}:8080"
    depends_on:
      db:
        condition: service_healthy
  db:
    <<: *db
    environment:
      - POSTGRES_USER=feedreader
      - POSTGRES_PASSWORD=${DB_PASSWORD}
      - POSTGRES_DB=feedreader
    volumes:
      - feedreader-db:/var/lib/postgresql/data
volumes:
  feedreader-db:
`

const layoutCommon = `x-app: &app
  image: feedreader/feedreader:2.2.6 # the release we run
  restart: unless-stopped
services:
  app:
    <<: *app
    environment:
      - DATABASE_URL=postgres://feedreader:${DB_PASSWORD}@db/feedreader?sslmode=disable
      - RUN_MIGRATIONS=1
`

// TestLayoutExtendsAndAnchors: an app whose image compose reads through
// extends (another file) and a merge key is upgraded by the generic
// profile where the tag is written — the shared file's anchor, its
// comment kept, nothing else in either file moved — and a failed upgrade
// rolls that file back byte for byte (the backup keeps every file the
// compose files extend or include).
func TestLayoutExtendsAndAnchors(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	buildLookalike(t, lookalikeImage{personality: "feedreader", repo: "feedreader/feedreader", expose: 8080, cmd: []string{"feedreader"}, healthcheck: true})
	s := newAppStack(t, "lay", map[string]string{
		"docker-compose.yml": layoutCompose,
		"common/app.yml":     layoutCommon,
		".env":               fmt.Sprintf("PG_IMAGE=%s\nFR_PORT=%s\nDB_PASSWORD=lay-e2e-secret\n", testenv.PostgresImage(), freePort(t)),
	}, nil, frNotes)
	if out, err := s.compose("up", "-d", "--wait", "--wait-timeout", "120"); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	psql := func(q string) string { return s.psql("db", "feedreader", "feedreader", q) }
	psql(`INSERT INTO users (username) VALUES ('alice'); INSERT INTO feeds (user_id, feed_url) VALUES (1, 'https://a.example/rss')`)
	if d := s.detect(); d.Version != "2.2.6" {
		t.Fatalf("detect: %+v", d)
	}
	common := filepath.Join(s.dir, "common", "app.yml")
	main := filepath.Join(s.dir, "docker-compose.yml")

	out, err := s.upshift("plan", "--to", "2.2.8", "--notes", s.notes)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	if !strings.Contains(out, "app.yml") {
		t.Errorf("plan does not say the version is set in common/app.yml:\n%s", out)
	}
	out, err = s.upshift("upgrade", "--to", "2.2.8", "--yes", "--json", "--notes", s.notes)
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "2.2.8" {
		t.Fatalf("result %+v\n%s", res, out)
	}
	got, _ := os.ReadFile(common)
	if want := strings.Replace(layoutCommon, "feedreader:2.2.6 # the release", "feedreader:2.2.8 # the release", 1); string(got) != want {
		t.Errorf("common/app.yml after the upgrade:\n%s\nwant:\n%s", got, want)
	}
	if b, _ := os.ReadFile(main); string(b) != layoutCompose {
		t.Errorf("docker-compose.yml changed:\n%s", b)
	}
	if img, _ := appImage(s); img != "feedreader/feedreader:2.2.8" {
		t.Errorf("the app container runs %q", img)
	}

	// 2.2.10 fails on a feed subscribed twice: rolled back, the shared file
	// as it was before that run.
	psql(`INSERT INTO feeds (user_id, feed_url) VALUES (1, 'https://a.example/rss')`)
	before, _ := os.ReadFile(common)
	out, err = s.upshift("upgrade", "--to", "2.2.10", "--yes", "--json", "--notes", s.notes)
	if code := exitCode(err); code != 3 {
		t.Fatalf("failing upgrade: exit %d, want 3\n%s", code, out)
	}
	if after, _ := os.ReadFile(common); string(after) != string(before) {
		t.Errorf("common/app.yml after the rollback:\n%s\nwant:\n%s", after, before)
	}
	if img, _ := appImage(s); img != "feedreader/feedreader:2.2.8" {
		t.Errorf("after the rollback the app container runs %q", img)
	}
}

// appImage is the image the feedreader container runs.
func appImage(s *appStack) (string, error) {
	id, err := s.compose("ps", "-q", "feedreader")
	if err != nil {
		return "", err
	}
	img, err := testenv.Docker("inspect", "-f", "{{.Config.Image}}", strings.TrimSpace(id))
	return strings.TrimSpace(img), err
}
