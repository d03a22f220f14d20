package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/pg"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

// Hand-written fakes of the ports (k9s style): each records its calls and
// can be told to fail one. A fake proves a step's logic, never the upgrade:
// the e2e suite runs the real thing.

var (
	_ Docker   = (*fakeDocker)(nil)
	_ Compose  = (*fakeCompose)(nil)
	_ Detector = (*fakeDetector)(nil)
	_ Backups  = (*fakeBackups)(nil)
	_ DB       = (*fakeDB)(nil)
	_ HTTP     = (*fakeHTTP)(nil)
)

var errFake = errors.New("fake failure")

// calls is a goroutine-safe call log shared by the fakes of one Env, so a
// test can assert the order across ports.
type calls struct {
	mu  sync.Mutex
	all []string
}

func (c *calls) add(s string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.all = append(c.all, s)
	c.mu.Unlock()
}

func (c *calls) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.all...)
}

// ---- Docker

type fakeDocker struct {
	log *calls

	server    dockerx.ServerInfo
	serverErr error
	// images present locally, by reference or ID.
	images     map[string]dockerx.Image
	inspectErr error
	pullErr    error
	removeErr  map[string]error
	containers []dockerx.Container
	listErr    error
	waitCode   int
	waitErr    error
	// logs gives each container's log lines (by container ID); logFunc,
	// when set, replaces it (to block, or to time lines).
	logs    map[string][]string
	logFunc func(ctx context.Context, id string, line func(string)) error
	// files inside images, by "image path".
	files map[string][]byte

	mu      sync.Mutex
	pulled  []string
	removed []string
	stopped []string
}

func (d *fakeDocker) Server(context.Context) (dockerx.ServerInfo, error) {
	d.log.add("docker server")
	return d.server, d.serverErr
}

func (d *fakeDocker) ImageInspect(_ context.Context, ref string) (dockerx.Image, bool, error) {
	d.log.add("docker inspect " + ref)
	if d.inspectErr != nil {
		return dockerx.Image{}, false, d.inspectErr
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	img, ok := d.images[ref]
	return img, ok, nil
}

func (d *fakeDocker) ImagePull(_ context.Context, ref string, log func(string)) error {
	d.log.add("docker pull " + ref)
	if d.pullErr != nil {
		return d.pullErr
	}
	log("pulled " + ref)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pulled = append(d.pulled, ref)
	if d.images == nil {
		d.images = map[string]dockerx.Image{}
	}
	d.images[ref] = dockerx.Image{ID: "sha256:" + ref}
	return nil
}

func (d *fakeDocker) ImageRemove(_ context.Context, ref string) error {
	d.log.add("docker rmi " + ref)
	if err := d.removeErr[ref]; err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.removed = append(d.removed, ref)
	return nil
}

func (d *fakeDocker) ProjectContainers(_ context.Context, project string) ([]dockerx.Container, error) {
	d.log.add("docker ps " + project)
	return d.containers, d.listErr
}

func (d *fakeDocker) Wait(_ context.Context, id string) (int, error) {
	d.log.add("docker wait " + id)
	return d.waitCode, d.waitErr
}

func (d *fakeDocker) Stop(_ context.Context, id string, _ time.Duration) error {
	d.log.add("docker stop " + id)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = append(d.stopped, id)
	return nil
}

func (d *fakeDocker) Logs(ctx context.Context, id string, follow bool, _ time.Time, line func(string)) error {
	d.log.add(fmt.Sprintf("docker logs %s follow=%v", id, follow))
	if d.logFunc != nil {
		return d.logFunc(ctx, id, line)
	}
	for _, l := range d.logs[id] {
		line(l)
	}
	return nil
}

func (d *fakeDocker) ReadImageFile(_ context.Context, image, path string, _ int64) ([]byte, error) {
	d.log.add("docker read " + image + " " + path)
	b, ok := d.files[image+" "+path]
	if !ok {
		return nil, fmt.Errorf("no %s in %s: %w", path, image, os.ErrNotExist)
	}
	return b, nil
}

// ---- Compose

type fakeCompose struct {
	log *calls

	version    string
	versionErr error
	// fail, when it returns an error for the args of a run, fails it.
	fail func(args []string) error
	// output are lines a run whose args contain the key writes.
	output map[string][]string

	mu   sync.Mutex
	runs [][]string
}

// failOn fails every run whose joined args contain sub.
func failOn(sub string, err error) func([]string) error {
	return func(args []string) error {
		if strings.Contains(strings.Join(args, " "), sub) {
			return err
		}
		return nil
	}
}

func (c *fakeCompose) Version(context.Context) (string, error) {
	c.log.add("compose version")
	return c.version, c.versionErr
}

func (c *fakeCompose) Run(_ context.Context, line func(string), args ...string) error {
	joined := strings.Join(args, " ")
	c.log.add("compose " + joined)
	c.mu.Lock()
	c.runs = append(c.runs, append([]string(nil), args...))
	c.mu.Unlock()
	for k, ls := range c.output {
		if strings.Contains(joined, k) {
			for _, l := range ls {
				line(l)
			}
		}
	}
	if c.fail != nil {
		return c.fail(args)
	}
	return nil
}

// ran lists each run's args joined by spaces.
func (c *fakeCompose) ran() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.runs))
	for _, r := range c.runs {
		out = append(out, strings.Join(r, " "))
	}
	return out
}

// ---- Detector

type fakeDetector struct {
	log *calls
	res *detect.Result
	// seq, when set, is returned one after the other (then the last one).
	seq []*detect.Result
	// fn, when set, answers instead (a stack that follows the run).
	fn  func() *detect.Result
	err error

	mu sync.Mutex
	n  int
}

func (d *fakeDetector) Detect(context.Context) (*detect.Result, error) {
	d.log.add("detect")
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	if d.err != nil {
		return nil, d.err
	}
	if d.fn != nil {
		return d.fn(), nil
	}
	if len(d.seq) > 0 {
		i := min(d.n-1, len(d.seq)-1)
		return d.seq[i], nil
	}
	return d.res, nil
}

// ---- Backups

type fakeBackups struct {
	perVersion bool // Create returns a new set per call, at the source version
	log        *calls

	estimate    int64
	estimateErr error
	freeErr     error
	set         *backup.Set // what Create returns
	createErr   error
	copyErr     error // the copy of Source.CopyTo fails (the set does not)
	verifyErr   error
	sets        []*backup.Set // what List returns
	listErr     error
	// restoreErr fails the named restore method ("config", "images",
	// "database", "volumes", "sqlite").
	restoreErr map[string]error

	mu          sync.Mutex
	created     []backup.Source
	verifiedIn  []string // the DB container each Verify was given
	restoredDB  []backup.DBSource
	sqliteInto  []string
	freeAsked   int64
	restoreDirs []string
}

func (b *fakeBackups) Estimate(_ context.Context, _ backup.Source) (int64, error) {
	b.log.add("backup estimate")
	return b.estimate, b.estimateErr
}

func (b *fakeBackups) CheckFreeSpace(dir string, need int64) error {
	b.log.add("backup free-space " + filepath.Base(dir))
	b.mu.Lock()
	b.freeAsked = need
	b.mu.Unlock()
	return b.freeErr
}

func (b *fakeBackups) Create(_ context.Context, _ string, src backup.Source, progress func(backup.Progress)) (*backup.Set, error) {
	b.log.add("backup create")
	b.mu.Lock()
	b.created = append(b.created, src)
	b.mu.Unlock()
	progress(backup.Progress{Phase: "database", Done: 10, Total: 100})
	progress(backup.Progress{Phase: "database", Done: 100, Total: 100})
	progress(backup.Progress{Phase: "config", Line: "copied .env"})
	if b.createErr != nil {
		return nil, b.createErr
	}
	set := b.set
	if b.perVersion {
		// One set per backup, holding the version it was taken at.
		set = testSet(fmt.Sprintf("s%d-%s", len(b.created), src.Version), src.Version)
	}
	if src.CopyTo != nil {
		b.log.add("backup copies into " + src.CopyTo.Container)
		c := *set
		c.Copy = &backup.Copy{Err: b.copyErr}
		if b.copyErr == nil {
			for _, d := range set.Manifest.Databases {
				c.Copy.Databases = append(c.Copy.Databases, d.Name)
			}
		}
		set = &c
	}
	return set, nil
}

func (b *fakeBackups) Verify(_ context.Context, set *backup.Set, dbContainer string) error {
	b.log.add("backup verify " + set.ID)
	b.mu.Lock()
	b.verifiedIn = append(b.verifiedIn, dbContainer)
	b.mu.Unlock()
	return b.verifyErr
}

func (b *fakeBackups) List(string) ([]*backup.Set, error) {
	b.log.add("backup list")
	if b.listErr != nil {
		return nil, b.listErr
	}
	return b.sets, nil
}

func (b *fakeBackups) RestoreConfig(_ context.Context, _ *backup.Set, projectDir string) error {
	b.log.add("restore config")
	b.mu.Lock()
	b.restoreDirs = append(b.restoreDirs, projectDir)
	b.mu.Unlock()
	return b.restoreErr["config"]
}

func (b *fakeBackups) RestoreImages(context.Context, *backup.Set) error {
	b.log.add("restore images")
	return b.restoreErr["images"]
}

func (b *fakeBackups) RestoreDatabase(_ context.Context, _ *backup.Set, db backup.DBSource, progress func(backup.Progress)) error {
	b.log.add("restore database")
	b.mu.Lock()
	b.restoredDB = append(b.restoredDB, db)
	b.mu.Unlock()
	progress(backup.Progress{Line: "pg_restore: done", Done: 1, Total: 1})
	return b.restoreErr["database"]
}

func (b *fakeBackups) RestoreVolumes(context.Context, *backup.Set, func(backup.Progress)) error {
	b.log.add("restore volumes")
	return b.restoreErr["volumes"]
}

func (b *fakeBackups) RestoreSQLite(_ context.Context, _ *backup.Set, into string, _ func(backup.Progress)) error {
	b.log.add("restore sqlite")
	b.mu.Lock()
	b.sqliteInto = append(b.sqliteInto, into)
	b.mu.Unlock()
	return b.restoreErr["sqlite"]
}

// ---- DB

type fakeDB struct {
	log *calls

	missing   []string
	rightsErr error
	// xids are returned by NextXID one after the other (then the last).
	xids   []int64
	xidErr error

	mu        sync.Mutex
	n         int
	rightsFor []pg.Params
}

func (d *fakeDB) DDLRights(_ context.Context, p pg.Params) ([]string, error) {
	d.log.add("db rights " + p.User)
	d.mu.Lock()
	d.rightsFor = append(d.rightsFor, p)
	d.mu.Unlock()
	return d.missing, d.rightsErr
}

func (d *fakeDB) NextXID(context.Context, pg.Params) (int64, error) {
	d.log.add("db xid")
	if d.xidErr != nil {
		return 0, d.xidErr
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.xids) == 0 {
		return 0, nil
	}
	x := d.xids[min(d.n, len(d.xids)-1)]
	d.n++
	return x, nil
}

// ---- HTTP

type fakeHTTP struct {
	log *calls

	status int
	body   string
	// bodies, when a key is in the URL, replace body.
	bodies map[string]string
	err    error

	mu   sync.Mutex
	urls []string
}

func (h *fakeHTTP) Get(_ context.Context, url string, _ time.Duration) (int, []byte, error) {
	h.log.add("http " + url)
	h.mu.Lock()
	h.urls = append(h.urls, url)
	h.mu.Unlock()
	if h.err != nil {
		return 0, nil, h.err
	}
	for k, b := range h.bodies {
		if strings.Contains(url, k) {
			return h.status, []byte(b), nil
		}
	}
	return h.status, []byte(h.body), nil
}

// ---- sink

// logSink collects what a step writes.
type logSink struct {
	mu       sync.Mutex
	lines    []string
	progress [][2]int64
}

func (s *logSink) Log(line string) {
	s.mu.Lock()
	s.lines = append(s.lines, line)
	s.mu.Unlock()
}

func (s *logSink) Progress(done, total int64) {
	s.mu.Lock()
	s.progress = append(s.progress, [2]int64{done, total})
	s.mu.Unlock()
}

func (s *logSink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// has reports whether a line contains sub.
func (s *logSink) has(sub string) bool { return strings.Contains(s.text(), sub) }

// ---- stacks

// svc is one compose service of a fake stack.
type svc struct {
	name, role, image string
}

// builtin returns a fresh copy of an embedded profile.
func builtin(t *testing.T, name string) *profile.Profile {
	t.Helper()
	for _, p := range profile.Builtin() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no builtin profile %q", name)
	return nil
}

// appStacks are realistic service lists of the embedded profiles; the
// image tag {v} is the version running.
var appStacks = map[string][]svc{
	"upshift-demo": {
		{"db", profile.RoleDB, "postgres:16-alpine"},
		{"api", profile.RoleApp, "upshift-demo/app:{v}"},
		{"worker", profile.RoleWorker, "upshift-demo/app:{v}"},
	},
	"dify": {
		{"db_postgres", profile.RoleDB, "postgres:15-alpine"},
		{"redis", profile.RoleOther, "redis:6-alpine"},
		{"api", profile.RoleApp, "langgenius/dify-api:{v}"},
		{"worker", profile.RoleWorker, "langgenius/dify-api:{v}"},
		{"worker_beat", profile.RoleScheduler, "langgenius/dify-api:{v}"},
		{"web", profile.RoleWeb, "langgenius/dify-web:{v}"},
		{"nginx", profile.RoleOther, "nginx:latest"},
	},
	"mattermost": {
		{"postgres", profile.RoleDB, "postgres:13-alpine"},
		{"mattermost", profile.RoleApp, "mattermost/mattermost-team-edition:{v}"},
	},
	"simplelogin": {
		{"postgres", profile.RoleDB, "postgres:12.1"},
		{"app", profile.RoleApp, "simplelogin/app-ci:{v}"},
		{"email", profile.RoleWorker, "simplelogin/app-ci:{v}"},
		{"job-runner", profile.RoleScheduler, "simplelogin/app-ci:{v}"},
	},
	"nightingale": {
		{"postgres", profile.RoleDB, "postgres:15"},
		{"redis", profile.RoleOther, "redis:6.2"},
		{"nightingale", profile.RoleApp, "flashcatcloud/nightingale:{v}"},
		{"categraf", profile.RoleOther, "flashcatcloud/categraf:latest"},
	},
	"maibot": {
		{"core", profile.RoleApp, "sengokucola/maibot:{v}"},
		{"adapters", profile.RoleWorker, "unclas/maimbot-adapter:latest"},
		{"napcat", profile.RoleOther, "mlikiowa/napcat-docker:latest"},
	},
}

// fixture is an Env wired to fakes, with the fakes at hand.
type fixture struct {
	env     *Env
	calls   *calls
	docker  *fakeDocker
	compose *fakeCompose
	det     *fakeDetector
	backups *fakeBackups
	db      *fakeDB
	http    *fakeHTTP
	sink    *logSink
	svcs    []svc
	// templates are the built-in templates by "file@version" or "file".
	templates map[string][]byte
}

// newFixture builds an Env for the named builtin profile with its stack
// running version, in a temporary project directory.
func newFixture(t *testing.T, app, version string) *fixture {
	t.Helper()
	return newFixtureWith(t, builtin(t, app), appStacks[app], version)
}

func newFixtureWith(t *testing.T, p *profile.Profile, services []svc, version string) *fixture {
	t.Helper()
	dir := t.TempDir()
	log := &calls{}
	f := &fixture{
		calls:   log,
		docker:  &fakeDocker{log: log, server: dockerx.ServerInfo{Version: "27.3.1", APIVersion: "1.47"}, images: map[string]dockerx.Image{}},
		compose: &fakeCompose{log: log, version: "2.29.7"},
		backups: &fakeBackups{log: log, estimate: 42 << 20},
		db:      &fakeDB{log: log},
		http:    &fakeHTTP{log: log, status: 200},
		sink:    &logSink{},
		svcs:    services,
	}
	proj := dockerx.Project{Name: "proj", WorkingDir: dir, Files: []string{filepath.Join(dir, "docker-compose.yml")}}
	res := detectResult(p, proj, services, version)
	f.det = &fakeDetector{log: log, res: res}
	f.env = &Env{
		Docker: f.docker, Compose: f.compose, Detector: f.det, Backups: f.backups, DB: f.db, HTTP: f.http,
		Start: res, Profile: p, Project: proj,
		BackupDir: filepath.Join(dir, "backups"), Upshift: "test",
	}
	f.env.setCurrent(version)
	// Built-in templates (the demo's compose.yaml): the same file in every
	// version unless a test says otherwise.
	f.env.BuiltinTemplate = func(name, file, v string) ([]byte, error) {
		if b, ok := f.templates[file+"@"+v]; ok {
			return b, nil
		}
		if b, ok := f.templates[file]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("no built-in template %s of %s: %w", file, v, os.ErrNotExist)
	}
	for _, tp := range p.Templates {
		if strings.HasPrefix(tp.Source, "builtin:") {
			body := []byte("services:\n  api:\n    image: app:${APP_VERSION}\n")
			f.templates = map[string][]byte{tp.File: body}
			if err := os.WriteFile(filepath.Join(dir, tp.File), body, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return f
}

// detectResult is what detect would say of a healthy stack running version:
// every service running (and healthy), the schema at the head the profile
// expects, the database reachable.
func detectResult(p *profile.Profile, proj dockerx.Project, services []svc, version string) *detect.Result {
	res := &detect.Result{
		Profile:    p,
		Containers: map[string]dockerx.Container{},
		Stack: &detect.Stack{
			Invocation: proj,
			Model:      &types.Project{Name: proj.Name, WorkingDir: proj.WorkingDir, Services: types.Services{}},
			EnvFile:    filepath.Join(proj.WorkingDir, ".env"),
		},
	}
	rep := &res.Report
	rep.Project, rep.Dir, rep.ComposeFiles = proj.Name, proj.WorkingDir, proj.Files
	rep.App, rep.Profile = p.Name, p.Name
	rep.Version, rep.VersionSource = version, "fake"
	rep.Schema = detect.SchemaReport{Tool: p.Schema.Tool, Head: p.ExpectedHead(version)}
	rep.DB = detect.DBReport{Engine: p.DB.Engine, ServerVersion: "16.4", Service: p.DB.Service, SizeBytes: 40 << 20, Reachable: true, Address: "172.18.0.2:5432"}
	tag := strings.TrimPrefix(version, "v")
	if p.Apply.TagTemplate != "" {
		tag = strings.ReplaceAll(p.Apply.TagTemplate, "{{version}}", tag)
	}
	for i, s := range services {
		image := strings.ReplaceAll(s.image, "{v}", tag)
		c := dockerx.Container{
			ID: "c-" + s.name, Name: proj.Name + "-" + s.name + "-1", Service: s.name, Project: proj.Name,
			Image: image, ImageID: "sha256:" + image, State: "running", Health: "healthy",
			Networks: map[string]string{"default": fmt.Sprintf("172.18.0.%d", i+2)},
		}
		res.Containers[s.name] = c
		sc := types.ServiceConfig{Name: s.name}
		sc.Image = image
		res.Stack.Model.Services[s.name] = sc
		rep.Services = append(rep.Services, detect.ServiceReport{
			Name: s.name, Role: s.role, Container: c.Name, Image: image, ImageID: c.ImageID, State: "running", Health: "healthy",
		})
		if s.role == profile.RoleDB && p.DB.Engine == profile.EnginePostgres {
			res.DB = detect.DBTarget{Service: s.name, Container: c.ID, Params: pg.Params{Host: "172.18.0.2", Port: "5432", User: "app", Password: "s3cret-pw", Database: "app"}}
		}
	}
	if p.DB.Engine == profile.EngineSQLite {
		host := filepath.Join(proj.WorkingDir, p.DB.Path)
		res.DB = detect.DBTarget{SQLite: &detect.SQLiteTarget{HostPath: host, Service: "core", Container: "c-core", ContainerPath: "/MaiMBot/data/MaiBot.db"}}
		rep.DB.Address, rep.DB.ServerVersion = host, ""
	}
	return res
}

// atVersion is a copy of the stack's detection after an upgrade to version.
func (f *fixture) atVersion(version string) *detect.Result {
	return detectResult(f.env.Profile, f.env.Project, f.svcs, version)
}

// testSet is a backup set as Create returns it.
func testSet(id, version string) *backup.Set {
	return &backup.Set{ID: id, Dir: "/backups/" + id, Manifest: backup.Manifest{ID: id, Version: version, Finished: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}}
}

func wantErr(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// withImage is sc with another image.
func withImage(sc types.ServiceConfig, image string) types.ServiceConfig {
	sc.Image = image
	return sc
}
