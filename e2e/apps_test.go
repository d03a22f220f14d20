package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// lookalikeImage describes the images of one demo personality: the demo
// binary FROM scratch, tagged with the real app's image names so that the
// built-in profiles' matching is exercised.
type lookalikeImage struct {
	personality string
	repo        string // e.g. mattermost/mattermost-team-edition
	expose      int
	cmd         []string
	healthcheck bool
}

var lookalikeBuilt sync.Map // image repository → *sync.Once-guarded error

type buildResult struct {
	once sync.Once
	err  error
}

// buildLookalike builds repo:<version> for every version of the
// personality, once per test process, with the docker CLI.
func buildLookalike(t *testing.T, li lookalikeImage) {
	t.Helper()
	v, _ := lookalikeBuilt.LoadOrStore(li.repo, &buildResult{})
	br := v.(*buildResult)
	br.once.Do(func() { br.err = doBuildLookalike(t, li) })
	if br.err != nil {
		t.Fatalf("build %s lookalike images: %v", li.personality, br.err)
	}
}

func doBuildLookalike(t *testing.T, li lookalikeImage) error {
	versions, err := demo.PersonalityVersions(li.personality)
	if err != nil {
		return err
	}
	ctxDir, err := os.MkdirTemp("", "upshift-lookalike-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(ctxDir) }()
	bin, err := os.ReadFile(testenv.Binary(t))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "upshift"), bin, 0o755); err != nil {
		return err
	}
	cmd, _ := json.Marshal(li.cmd)
	health := ""
	if li.healthcheck {
		health = `HEALTHCHECK --interval=1s --timeout=3s --start-period=60s --retries=60 CMD ["/upshift", "demo-app", "healthcheck"]`
	}
	dockerfile := fmt.Sprintf(`FROM scratch
COPY upshift /upshift
ARG VERSION
ENV %s=%s %s=${VERSION}
LABEL upshift.lookalike=%q
EXPOSE %d
%s
ENTRYPOINT ["/upshift", "demo-app"]
CMD %s
`, demo.PersonalityEnv, li.personality, demo.AppVersionEnv, li.personality, li.expose, health, cmd)
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	for _, v := range versions {
		start := time.Now()
		if out, err := testenv.Docker("build", "-q", "-t", li.repo+":"+v, "--build-arg", "VERSION="+v, ctxDir); err != nil {
			return fmt.Errorf("docker build %s:%s: %v\n%s", li.repo, v, err, out)
		}
		t.Logf("built %s:%s in %s", li.repo, v, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// appStack is a lookalike compose project in a temp dir.
type appStack struct {
	t     *testing.T
	dir   string
	files []string // -f arguments, relative to dir
	notes string
}

func newAppStack(t *testing.T, prefix string, files map[string]string, composeFiles []string, notes map[string]string) *appStack {
	t.Helper()
	root := t.TempDir()
	// The project name comes from the directory, as for the real apps.
	s := &appStack{t: t, dir: filepath.Join(root, testenv.UniqueName(prefix)), files: composeFiles, notes: filepath.Join(root, "notes")}
	for name, body := range files {
		p := filepath.Join(s.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if filepath.Base(name) == ".env" {
			mode = 0o600
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	for v, body := range notes {
		if err := os.MkdirAll(s.notes, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.notes, v+".md"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if out, err := s.compose("down", "--volumes", "--remove-orphans", "--timeout", "5"); err != nil {
			t.Logf("compose down: %v\n%s", err, out)
		}
	})
	return s
}

// pgDataDir makes a bind-mounted PostgreSQL data dir the test image's
// postgres user (999) owns, as an admin following the app's docs would.
func (s *appStack) pgDataDir(rel string) {
	p := filepath.Join(s.dir, rel)
	if err := os.MkdirAll(p, 0o700); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Chown(p, 999, 999); err != nil {
		s.t.Fatal(err)
	}
}

func (s *appStack) fileArgs() []string {
	var out []string
	for _, f := range s.files {
		out = append(out, "-f", f)
	}
	return out
}

func (s *appStack) compose(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	full := append(append([]string{"compose"}, s.fileArgs()...), args...)
	cmd := exec.CommandContext(ctx, "docker", full...)
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// upshift runs the real binary in the project dir, with the compose files
// the admin uses and no user profiles.
func (s *appStack) upshift(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args = append(args, s.fileArgs()...)
	cmd := exec.CommandContext(ctx, testenv.Binary(s.t), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(filepath.Dir(s.dir), "config"))
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	err := cmd.Run()
	return buf.String(), err
}

func (s *appStack) env(key string) string {
	b, err := os.ReadFile(filepath.Join(s.dir, ".env"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (s *appStack) psql(service, user, db, query string) string {
	s.t.Helper()
	out, err := s.compose("exec", "-T", service, "psql", "-v", "ON_ERROR_STOP=1", "-qtA", "-U", user, "-d", db, "-c", query)
	if err != nil {
		s.t.Fatalf("psql %q: %v\n%s", query, err, out)
	}
	return strings.TrimSpace(out)
}

type detected struct {
	App           string `json:"app"`
	Version       string `json:"version"`
	VersionSource string `json:"version_source"`
	Schema        struct {
		Tool string `json:"tool"`
		Head string `json:"head"`
	} `json:"schema"`
	DB struct {
		Reachable bool   `json:"reachable"`
		Service   string `json:"service"`
	} `json:"db"`
	Services []struct {
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"services"`
}

func (s *appStack) detect() detected {
	s.t.Helper()
	out, err := s.upshift("detect", "--json")
	if err != nil {
		s.t.Fatalf("detect: %v\n%s", err, out)
	}
	var d detected
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		s.t.Fatalf("detect json: %v\n%s", err, out)
	}
	return d
}

type planned struct {
	To   string `json:"to"`
	Hops []struct {
		Version      string   `json:"version"`
		RequiredStop bool     `json:"required_stop"`
		Manual       []string `json:"manual_actions"`
	} `json:"hops"`
	Blocked  bool     `json:"blocked"`
	Blockers []string `json:"blockers"`
}

func (s *appStack) plan(to string) planned {
	s.t.Helper()
	out, err := s.upshift("plan", "--to", to, "--json", "--notes", s.notes)
	if err != nil {
		s.t.Fatalf("plan --to %s: %v\n%s", to, err, out)
	}
	var p planned
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		s.t.Fatalf("plan json: %v\n%s", err, out)
	}
	return p
}

func (p planned) hopList() string {
	var out []string
	for _, h := range p.Hops {
		v := h.Version
		if h.RequiredStop {
			v += "(stop)"
		}
		out = append(out, v)
	}
	return strings.Join(out, " ")
}

func freePort(t *testing.T) string { return strconv.Itoa(testenv.FreePort(t)) }

func timed(t *testing.T, what string, f func()) {
	start := time.Now()
	f()
	t.Logf("TIMING %s: %s", what, time.Since(start).Round(100*time.Millisecond))
}

func rolesOf(d detected) map[string]string {
	m := map[string]string{}
	for _, s := range d.Services {
		m[s.Name] = s.Role
	}
	return m
}

// ---- Mattermost

const mmCompose = `# mattermost/docker layout (lookalike: upshift test images)
services:
  postgres:
    image: ${POSTGRES_IMAGE}:${POSTGRES_IMAGE_TAG}
    restart: ${RESTART_POLICY}
    security_opt:
      - no-new-privileges:true
    pids_limit: 100
    volumes:
      - ${POSTGRES_DATA_PATH}:/var/lib/postgresql/data
    environment:
      - TZ
      - POSTGRES_USER
      - POSTGRES_PASSWORD
      - POSTGRES_DB

  mattermost:
    depends_on:
      - postgres
    image: mattermost/${MATTERMOST_IMAGE}:${MATTERMOST_IMAGE_TAG}
    restart: ${RESTART_POLICY}
    security_opt:
      - no-new-privileges:true
    pids_limit: 200
    read_only: ${MATTERMOST_CONTAINER_READONLY}
    tmpfs:
      - /tmp
    volumes:
      - ${MATTERMOST_CONFIG_PATH}:/mattermost/config:rw
      - ${MATTERMOST_DATA_PATH}:/mattermost/data:rw
      - ${MATTERMOST_LOGS_PATH}:/mattermost/logs:rw
      - ${MATTERMOST_PLUGINS_PATH}:/mattermost/plugins:rw
      - ${MATTERMOST_CLIENT_PLUGINS_PATH}:/mattermost/client/plugins:rw
      - ${MATTERMOST_BLEVE_INDEXES_PATH}:/mattermost/bleve-indexes:rw
    environment:
      - TZ
      - MM_SQLSETTINGS_DRIVERNAME
      - MM_SQLSETTINGS_DATASOURCE
      - MM_BLEVESETTINGS_INDEXDIR
      - MM_SERVICESETTINGS_SITEURL
`

const mmWithoutNginx = `services:
  mattermost:
    ports:
      - ${APP_PORT}:8065
      - ${CALLS_PORT}:${CALLS_PORT}/udp
      - ${CALLS_PORT}:${CALLS_PORT}/tcp
`

const mmEnv = `DOMAIN=mm.example.test
TZ=UTC
RESTART_POLICY=unless-stopped

POSTGRES_IMAGE=%s
POSTGRES_IMAGE_TAG=%s
POSTGRES_DATA_PATH=./volumes/db/var/lib/postgresql/data
POSTGRES_USER=mmuser
POSTGRES_PASSWORD=mmuser_password_e2e
POSTGRES_DB=mattermost

MATTERMOST_CONFIG_PATH=./volumes/app/mattermost/config
MATTERMOST_DATA_PATH=./volumes/app/mattermost/data
MATTERMOST_LOGS_PATH=./volumes/app/mattermost/logs
MATTERMOST_PLUGINS_PATH=./volumes/app/mattermost/plugins
MATTERMOST_CLIENT_PLUGINS_PATH=./volumes/app/mattermost/client/plugins
MATTERMOST_BLEVE_INDEXES_PATH=./volumes/app/mattermost/bleve-indexes
MM_BLEVESETTINGS_INDEXDIR=/mattermost/bleve-indexes

MATTERMOST_IMAGE=mattermost-team-edition
MATTERMOST_IMAGE_TAG=10.5.2
MATTERMOST_CONTAINER_READONLY=false

APP_PORT=%s
CALLS_PORT=%s

MM_SQLSETTINGS_DRIVERNAME=postgres
MM_SQLSETTINGS_DATASOURCE=postgres://${POSTGRES_USER}:${POSTGRES_PASSWORD}@postgres:5432/${POSTGRES_DB}?sslmode=disable&connect_timeout=10
MM_SERVICESETTINGS_SITEURL=https://${DOMAIN}
`

func mmNote(v, extra string) string {
	return "# v" + v + "\n\nMattermost Server v" + v + " contains bug fixes and improvements. See the [changelog](https://docs.mattermost.com/product-overview/mattermost-server-releases.html).\n\n" + extra +
		"### Bug Fixes\n- Fixed an issue where a thread stayed unread after it was read on another device.\n"
}

var mmNotes = map[string]string{
	"10.5.2":   mmNote("10.5.2", ""),
	"10.11.17": mmNote("10.11.17", "### Improvements\n- Scheduled posts are now stored in their own table.\n\n"),
	"11.7.2":   mmNote("11.7.2", "```{Attention}\n**Breaking Changes**\n - The minimum PostgreSQL version is now v14.\n```\n\n"),
	"11.7.3":   mmNote("11.7.3", "```{Attention}\n**Breaking Changes**\n - E-mail addresses of users must be unique regardless of case; the upgrade fails when two accounts share one.\n```\n\n"),
}

// TestMattermostLookalike: a Mattermost stack in the mattermost/docker
// layout (version in .env, migrations at server start into db_migrations)
// is detected, planned through the 10.11 ESR, refused into the blocked
// 11.7.2, upgraded, and rolled back when 11.7.3's migration fails on data.
func TestMattermostLookalike(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	buildLookalike(t, lookalikeImage{personality: "mattermost", repo: "mattermost/mattermost-team-edition", expose: 8065, cmd: []string{"mattermost"}, healthcheck: true})
	pgRepo, pgTag, _ := strings.Cut(testenv.PostgresImage(), ":")
	s := newAppStack(t, "mm", map[string]string{
		"docker-compose.yml":               mmCompose,
		"docker-compose.without-nginx.yml": mmWithoutNginx,
		".env":                             fmt.Sprintf(mmEnv, pgRepo, pgTag, freePort(t), freePort(t)),
	}, []string{"docker-compose.yml", "docker-compose.without-nginx.yml"}, mmNotes)
	s.pgDataDir("volumes/db/var/lib/postgresql/data")
	timed(t, "first start", func() {
		if out, err := s.compose("up", "-d", "--wait", "--wait-timeout", "120"); err != nil {
			t.Fatalf("up: %v\n%s", err, out)
		}
	})
	psql := func(q string) string { return s.psql("postgres", "mmuser", "mattermost", q) }
	psql(`INSERT INTO users (id, username, email) VALUES ('u1', 'alice', 'alice@example.test'), ('u2', 'bob', 'bob@example.test')`)

	var d detected
	timed(t, "detect", func() { d = s.detect() })
	if d.App != "mattermost" || d.Version != "10.5.2" || !strings.Contains(d.VersionSource, "8065") {
		t.Fatalf("detect: %+v", d)
	}
	if d.Schema.Tool != "morph" || d.Schema.Head != "3" || !d.DB.Reachable || d.DB.Service != "postgres" {
		t.Errorf("detect schema/db: %+v %+v", d.Schema, d.DB)
	}
	if r := rolesOf(d); r["mattermost"] != "app" || r["postgres"] != "db" {
		t.Errorf("roles %v", r)
	}

	if p := s.plan("11.7.3"); p.hopList() != "10.11.17(stop) 11.7.3" || p.Blocked {
		t.Errorf("plan to 11.7.3: %s blocked=%v %v", p.hopList(), p.Blocked, p.Blockers)
	} else if !slices.ContainsFunc(p.Hops[1].Manual, func(m string) bool { return strings.Contains(m, "Bleve") }) {
		t.Errorf("plan to 11.7.3: no manual action for 11.0.0: %+v", p.Hops[1])
	}
	if p := s.plan("11.7.2"); !p.Blocked || len(p.Blockers) != 1 || !strings.Contains(p.Blockers[0], "migration numbers") {
		t.Errorf("plan to 11.7.2: %s blocked=%v %v", p.hopList(), p.Blocked, p.Blockers)
	}

	timed(t, "backup", func() {
		out, err := s.upshift("backup", "--json")
		if err != nil || lastResult(t, out).Outcome != steps.OutcomeSuccess {
			t.Fatalf("backup: %v\n%s", err, out)
		}
	})

	timed(t, "upgrade 10.5.2 → 10.11.17", func() {
		out, err := s.upshift("upgrade", "--to", "10.11.17", "--yes", "--json", "--notes", s.notes)
		if err != nil {
			t.Fatalf("upgrade: %v\n%s", err, out)
		}
		if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "10.11.17" {
			t.Fatalf("result %+v\n%s", res, out)
		}
		if !strings.Contains(out, "Applying migration") || !strings.Contains(out, "Server is listening on") {
			t.Errorf("the migration's log lines are not in the events:\n%s", out)
		}
	})
	if s.env("MATTERMOST_IMAGE_TAG") != "10.11.17" {
		t.Errorf(".env MATTERMOST_IMAGE_TAG = %s", s.env("MATTERMOST_IMAGE_TAG"))
	}
	if head := psql(`SELECT max(version) FROM db_migrations`); head != "131" {
		t.Errorf("db_migrations head %s, want 131", head)
	}
	if d := s.detect(); d.Version != "10.11.17" {
		t.Errorf("after upgrade detect says %s", d.Version)
	}

	// Into the blocked range: refused before anything changes.
	out, err := s.upshift("upgrade", "--to", "11.7.2", "--yes", "--json", "--notes", s.notes)
	if code := exitCode(err); code != 1 || !strings.Contains(out, "migration numbers") {
		t.Errorf("upgrade into the blocked range: exit %d\n%s", code, out)
	}

	// 11.7.3's unique index fails on two accounts sharing an address.
	psql(`INSERT INTO users (id, username, email) VALUES ('u3', 'alice2', 'ALICE@example.test')`)
	before := psql(`SELECT string_agg(id || ':' || email, ',' ORDER BY id) FROM users`)
	timed(t, "failing upgrade to 11.7.3 + rollback", func() {
		out, err = s.upshift("upgrade", "--to", "11.7.3", "--yes", "--json", "--notes", s.notes, "--no-rehearsal")
	})
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit code %d, want 3 (rolled back)\n%s", code, out)
	}
	res := lastResult(t, out)
	if res.Outcome != steps.OutcomeRolledBack || res.Reached != "10.11.17" || res.FailedStep != "11.7.3/migrate" {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(out, "could not create unique index") {
		t.Error("the migration's own error is not in the events")
	}
	if s.env("MATTERMOST_IMAGE_TAG") != "10.11.17" {
		t.Errorf(".env after rollback: MATTERMOST_IMAGE_TAG=%s", s.env("MATTERMOST_IMAGE_TAG"))
	}
	if head := psql(`SELECT max(version) FROM db_migrations`); head != "131" {
		t.Errorf("db_migrations head after rollback %s, want 131", head)
	}
	if after := psql(`SELECT string_agg(id || ':' || email, ',' ORDER BY id) FROM users`); after != before {
		t.Errorf("users after rollback %s, want %s", after, before)
	}
	if d := s.detect(); d.Version != "10.11.17" {
		t.Errorf("after rollback detect says %s", d.Version)
	}
}

// ---- SimpleLogin

// slCompose is the community compose's simple-login-compose.yaml shape. The
// container names carry a suffix so parallel test stacks never collide, and
// the one-shot migration/init services sit in the "setup" profile: the
// engine's verify step does not accept exited one-shot containers yet.
const slCompose = `services:
  postgres:
    image: ${POSTGRES_IMAGE}
    container_name: sl-db-${SL_SUFFIX}
    restart: unless-stopped
    environment:
      - POSTGRES_USER=${POSTGRES_USER}
      - POSTGRES_PASSWORD=${POSTGRES_PASSWORD}
      - POSTGRES_DB=${POSTGRES_DB}
    volumes:
      - ./db:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "${POSTGRES_USER}", "-d", "${POSTGRES_DB}"]
      interval: 1s
      timeout: 3s
      retries: 60

  migration:
    image: simplelogin/${SL_IMAGE}:${SL_VERSION}
    container_name: sl-migration-${SL_SUFFIX}
    profiles: [setup]
    command: ["alembic", "upgrade", "head"]
    env_file: .env
    volumes:
      - ./pgp:/sl/pgp
      - ./upload:/code/static/upload
      - ./dkim.key:/dkim.key
    depends_on:
      postgres:
        condition: service_healthy

  init:
    image: simplelogin/${SL_IMAGE}:${SL_VERSION}
    container_name: sl-init-${SL_SUFFIX}
    profiles: [setup]
    command: ["python", "init_app.py"]
    env_file: .env
    volumes:
      - ./pgp:/sl/pgp
      - ./upload:/code/static/upload
      - ./dkim.key:/dkim.key
    depends_on:
      postgres:
        condition: service_healthy

  app:
    image: simplelogin/${SL_IMAGE}:${SL_VERSION}
    container_name: sl-app-${SL_SUFFIX}
    restart: unless-stopped
    env_file: .env
    ports:
      - "127.0.0.1:${SL_APP_PORT}:7777"
    volumes:
      - ./pgp:/sl/pgp
      - ./upload:/code/static/upload
      - ./dkim.key:/dkim.key
    depends_on:
      postgres:
        condition: service_healthy

  email:
    image: simplelogin/${SL_IMAGE}:${SL_VERSION}
    container_name: sl-email-${SL_SUFFIX}
    command: ["python", "email_handler.py"]
    restart: unless-stopped
    env_file: .env
    volumes:
      - ./pgp:/sl/pgp
      - ./upload:/code/static/upload
      - ./dkim.key:/dkim.key
    depends_on:
      postgres:
        condition: service_healthy

  job-runner:
    image: simplelogin/${SL_IMAGE}:${SL_VERSION}
    container_name: sl-job-runner-${SL_SUFFIX}
    command: ["python", "job_runner.py"]
    restart: unless-stopped
    env_file: .env
    volumes:
      - ./pgp:/sl/pgp
      - ./upload:/code/static/upload
      - ./dkim.key:/dkim.key
    depends_on:
      postgres:
        condition: service_healthy
`

const slEnv = `DOMAIN=example.test
SL_VERSION=v4.70.0
SL_IMAGE=app-ci
SL_SUFFIX=%s
SL_APP_PORT=%s
POSTGRES_IMAGE=%s
POSTGRES_USER=sluser
POSTGRES_PASSWORD=sl_password_e2e
POSTGRES_DB=simplelogin
DB_URI=postgresql://sluser:sl_password_e2e@postgres:5432/simplelogin
URL=https://app.example.test
EMAIL_DOMAIN=example.test
FLASK_SECRET=e2e-flask-secret-value
GNUPGHOME=/sl/pgp
LOCAL_FILE_UPLOAD=1
DKIM_PRIVATE_KEY_PATH=/dkim.key
`

func slNote(features, fixes string) string {
	return "## 🚀 Features\n" + features + "\n\n## 🐛 Fixes\n" + fixes + "\n\n<details><summary>Uncategorized</summary>\n\n- Bump dependencies #2290\n</details>\n"
}

var slNotes = map[string]string{
	"v4.70.0": slNote("- Allow a mailbox to be set as default from the API #2240", "- Fix the alias export when a note contains a comma #2241"),
	"v4.72.0": slNote("- Pin aliases at the top of the dashboard #2262", "- Fix the job runner retrying a deleted mailbox #2263"),
	"v4.81.6": slNote("- Alias addresses are unique regardless of case #2301", "- Fix the unsubscribe link for reverse aliases #2302"),
}

// TestSimpleLoginLookalike: a SimpleLogin stack in the community compose
// shape (sl-* containers, SL_VERSION in .env keeping the "v", Alembic run by
// a one-off container) is detected, planned, upgraded, and rolled back when
// the next migration fails on data.
func TestSimpleLoginLookalike(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	buildLookalike(t, lookalikeImage{personality: "simplelogin", repo: "simplelogin/app-ci", expose: 7777, cmd: []string{"gunicorn", "wsgi:app", "-b", "0.0.0.0:7777", "-w", "2", "--timeout", "15"}})
	suffix := testenv.UniqueName("e2e")
	s := newAppStack(t, "sl", map[string]string{
		"docker-compose.yaml": slCompose,
		".env":                fmt.Sprintf(slEnv, suffix, freePort(t), testenv.PostgresImage()),
		"dkim.key":            "-----BEGIN RSA PRIVATE KEY-----\nnot a real key\n-----END RSA PRIVATE KEY-----\n",
		"pgp/.keep":           "",
		"upload/.keep":        "",
	}, nil, slNotes)
	s.pgDataDir("db")
	timed(t, "first start (db, migration, init, app)", func() {
		for _, args := range [][]string{
			{"up", "-d", "--wait", "--wait-timeout", "120", "postgres"},
			{"--profile", "setup", "run", "--rm", "migration"},
			{"--profile", "setup", "run", "--rm", "init"},
			{"up", "-d", "--wait", "--wait-timeout", "120"},
		} {
			if out, err := s.compose(args...); err != nil {
				t.Fatalf("compose %v: %v\n%s", args, err, out)
			}
		}
	})
	psql := func(q string) string { return s.psql("postgres", "sluser", "simplelogin", q) }
	psql(`INSERT INTO users (email) VALUES ('admin@example.test'); INSERT INTO alias (user_id, email) VALUES (1, 'shop.x1@example.test'), (1, 'news.y2@example.test')`)

	d := s.detect()
	if d.App != "simplelogin" || d.Version != "v4.70.0" || !strings.Contains(d.VersionSource, "7777") {
		t.Fatalf("detect: %+v", d)
	}
	if d.Schema.Tool != "alembic" || d.Schema.Head != "a1c0e7d35b21" || !d.DB.Reachable {
		t.Errorf("detect schema/db: %+v %+v", d.Schema, d.DB)
	}
	if r := rolesOf(d); r["app"] != "app" || r["email"] != "worker" || r["job-runner"] != "scheduler" || r["postgres"] != "db" {
		t.Errorf("roles %v", r)
	}
	if p := s.plan("latest"); p.To != "v4.81.6" || p.hopList() != "v4.81.6" || p.Blocked {
		t.Errorf("plan to latest: to %s hops %s blocked=%v", p.To, p.hopList(), p.Blocked)
	}

	timed(t, "backup", func() {
		out, err := s.upshift("backup", "--json")
		if err != nil || lastResult(t, out).Outcome != steps.OutcomeSuccess {
			t.Fatalf("backup: %v\n%s", err, out)
		}
	})
	timed(t, "upgrade v4.70.0 → v4.72.0", func() {
		out, err := s.upshift("upgrade", "--to", "v4.72.0", "--yes", "--json", "--notes", s.notes)
		if err != nil {
			t.Fatalf("upgrade: %v\n%s", err, out)
		}
		if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "v4.72.0" {
			t.Fatalf("result %+v\n%s", res, out)
		}
		if !strings.Contains(out, "Running upgrade a1c0e7d35b21 -\\u003e 5f3d9b2e8c47") {
			t.Errorf("alembic's output is not in the events:\n%s", out)
		}
		// Then init_app.py, the profile's migration.after command.
		if !strings.Contains(out, "init_app: public domain example.test is set up") {
			t.Errorf("init_app.py did not run after the migration:\n%s", out)
		}
	})
	if s.env("SL_VERSION") != "v4.72.0" {
		t.Errorf(".env SL_VERSION = %s", s.env("SL_VERSION"))
	}
	if head := psql(`SELECT version_num FROM alembic_version`); head != "5f3d9b2e8c47" {
		t.Errorf("alembic head %s", head)
	}

	// v4.81.6's unique index fails on the same alias spelled twice.
	psql(`INSERT INTO alias (user_id, email) VALUES (1, 'SHOP.X1@example.test')`)
	before := psql(`SELECT string_agg(id || ':' || email || ':' || pinned, ',' ORDER BY id) FROM alias`)
	var out string
	var err error
	timed(t, "failing upgrade to v4.81.6 + rollback", func() {
		out, err = s.upshift("upgrade", "--to", "v4.81.6", "--yes", "--json", "--notes", s.notes, "--no-rehearsal")
	})
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit code %d, want 3 (rolled back)\n%s", code, out)
	}
	res := lastResult(t, out)
	if res.Outcome != steps.OutcomeRolledBack || res.Reached != "v4.72.0" || res.FailedStep != "v4.81.6/migrate" {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(out, "could not create unique index") {
		t.Error("the migration's own error is not in the events")
	}
	if s.env("SL_VERSION") != "v4.72.0" {
		t.Errorf(".env after rollback: SL_VERSION=%s", s.env("SL_VERSION"))
	}
	if after := psql(`SELECT string_agg(id || ':' || email || ':' || pinned, ',' ORDER BY id) FROM alias`); after != before {
		t.Errorf("aliases after rollback %s, want %s", after, before)
	}
	if d := s.detect(); d.Version != "v4.72.0" || d.Schema.Head != "5f3d9b2e8c47" {
		t.Errorf("after rollback detect says %s at %s", d.Version, d.Schema.Head)
	}
}
