package upgrade

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

var _ PGServers = (*fakePG)(nil)

// fakePG is the PostgreSQL major hop's port: servers answer with the major
// of the image they run (the copy's container "pg-new", and the database
// service after `compose up db` switched it).
type fakePG struct {
	log *calls

	mu       sync.Mutex
	volumes  map[string]map[string]string
	dirs     map[string]backup.DirState
	switched bool // the database service runs the new image
	// newMajor is what the new image runs; compareErr fails CompareServer
	// on the server named ("pg-new" or "db").
	newMajor   int
	compareErr map[string]error
	removed    []string
}

func (p *fakePG) RootDir(context.Context) (string, error) { return os.TempDir(), nil }

func (p *fakePG) VolumeLabels(_ context.Context, name string) (map[string]string, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.volumes[name]
	return l, ok, nil
}

func (p *fakePG) CreateVolume(_ context.Context, name string, labels map[string]string) error {
	p.log.add("pg create volume " + name + " project=" + labels[dockerx.LabelComposeProject] + " key=" + labels[dockerx.LabelComposeVolume])
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.volumes == nil {
		p.volumes = map[string]map[string]string{}
	}
	p.volumes[name] = labels
	return nil
}

func (p *fakePG) RemoveVolume(_ context.Context, name string) error {
	p.log.add("pg remove volume " + name)
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.volumes, name)
	p.removed = append(p.removed, name)
	return nil
}

func (p *fakePG) DataDirState(_ context.Context, _, dir string) (backup.DirState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.dirs[dir]; ok {
		return st, nil
	}
	return backup.DirAbsent, nil
}

func (p *fakePG) FreshDataDir(_ context.Context, image, dir, _, _ string) error {
	p.log.add("pg fresh dir " + dir + " by " + image)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dirs[dir] == backup.DirForeign {
		return errors.New(dir + " is someone's")
	}
	if p.dirs == nil {
		p.dirs = map[string]backup.DirState{}
	}
	p.dirs[dir] = backup.DirOurs
	return nil
}

func (p *fakePG) RemoveDataDir(_ context.Context, _, dir string) error {
	p.log.add("pg remove dir " + dir)
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.dirs, dir)
	p.removed = append(p.removed, dir)
	return nil
}

func (p *fakePG) StartServer(_ context.Context, spec dockerx.ScratchSpec) (string, func(context.Context) error, error) {
	on := spec.Volume
	if spec.BindDir != "" {
		on = "dir " + spec.BindDir
	}
	p.log.add("pg start " + spec.Image + " on " + on + " at " + spec.DataDir + " env " + strings.Join(spec.Env, ","))
	return "pg-new", func(context.Context) error { p.log.add("pg remove server"); return nil }, nil
}

func (p *fakePG) WaitServer(context.Context, backup.DBSource, time.Duration) error {
	p.log.add("pg wait")
	return nil
}

func (p *fakePG) ListDatabases(_ context.Context, db backup.DBSource) ([]backup.ServerDatabase, error) {
	p.log.add("pg list " + db.Container)
	if db.Container == "pg-new" {
		return []backup.ServerDatabase{{Name: "app", Owner: "app"}, {Name: "postgres", Owner: "app", Empty: true}}, nil
	}
	return []backup.ServerDatabase{{Name: "app", Owner: "app"}, {Name: "extra", Owner: "app"}, {Name: "postgres", Owner: "app", Empty: true}, {Name: "spare", Owner: "bob", Empty: true}}, nil
}

func (p *fakePG) CreateDatabase(_ context.Context, db backup.DBSource, name, owner string) error {
	p.log.add("pg create database " + name + " owner " + owner + " in " + db.Container)
	return nil
}

func (p *fakePG) CopyGlobals(_ context.Context, from, to backup.DBSource, _ func(string)) error {
	p.log.add("pg globals " + from.Container + " → " + to.Container)
	return nil
}

func (p *fakePG) server(db backup.DBSource) string {
	if db.Container == "pg-new" {
		return "pg-new"
	}
	return "db"
}

func (p *fakePG) CompareServer(_ context.Context, set *backup.Set, db backup.DBSource) (int, error) {
	p.log.add("pg compare " + p.server(db) + " with " + set.ID)
	return 3, p.compareErr[p.server(db)]
}

func (p *fakePG) CompareServerCounts(_ context.Context, set *backup.Set, db backup.DBSource) (int, error) {
	p.log.add("pg count " + p.server(db) + " with " + set.ID)
	return 3, p.compareErr[p.server(db)]
}

func (p *fakePG) ServerVersionNum(_ context.Context, db backup.DBSource) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if db.Container == "pg-new" || p.switched {
		return p.newMajor*10000 + 2, nil
	}
	return 150008, nil
}

const pgTestCompose = `services:
  db:
    image: ${POSTGRES_IMAGE:-postgres:15-alpine}
    volumes:
      - db-data:/var/lib/postgresql/data
  api:
    image: upshift-demo/app:${APP_VERSION}
  worker:
    image: upshift-demo/app:${APP_VERSION}
volumes:
  db-data:
`

// pgHop is the demo on PostgreSQL 15 with its data in proj_db-data, the
// image from .env, and a fake of the hop's port that follows `compose up db`.
func pgHop(t *testing.T) (*fixture, *fakePG) {
	t.Helper()
	noRetry(t)
	f := newFixture(t, "upshift-demo", "1.0.0")
	writeFile(t, f.env.Project.Files[0], pgTestCompose)
	writeFile(t, f.env.EnvPath(), "APP_VERSION=1.0.0\nPOSTGRES_IMAGE=postgres:15-alpine\n")
	f.backups.set = testSet("pg1", "1.0.0")
	f.backups.set.Manifest.Images = []backup.ServiceImage{{Service: "db", Ref: "postgres:15-alpine", ID: "sha256:postgres:16-alpine"}}
	f.backups.set.Manifest.Databases = []backup.DatabaseEntry{{Name: "app"}, {Name: "extra"}}
	pg := &fakePG{log: f.calls, newMajor: 17}
	f.env.PG = pg
	f.compose.fail = func(args []string) error {
		if j := strings.Join(args, " "); strings.HasPrefix(j, "up ") && strings.HasSuffix(j, " db") {
			pg.mu.Lock()
			pg.switched = envValue(t, f.env.EnvPath(), "POSTGRES_IMAGE") == "postgres:17-alpine"
			pg.mu.Unlock()
		}
		return nil
	}
	f.det.fn = func() *detect.Result {
		d := f.atVersion(f.env.Current())
		d.Report.DB.ServerVersion = "15.8"
		pg.mu.Lock()
		if pg.switched {
			d.Report.DB.ServerVersion = "17.2"
		}
		pg.mu.Unlock()
		c := d.Containers["db"]
		c.Env = []string{"PATH=/usr/bin", "POSTGRES_USER=app", "POSTGRES_PASSWORD=s3cret-pw", "POSTGRES_DB=app"}
		c.Mounts = []dockerx.Mount{{Type: "volume", Name: "proj_db-data", Destination: "/var/lib/postgresql/data"}}
		d.Containers["db"] = c
		a := d.Containers["api"]
		a.Mounts = []dockerx.Mount{{Type: "volume", Name: "proj_uploads", Destination: "/data/uploads"}}
		d.Containers["api"] = a
		return d
	}
	return f, pg
}

func runPlan(t *testing.T, f *fixture, p *steps.Plan) (steps.Result, []string) {
	t.Helper()
	var started []string
	r := &steps.Runner{
		Emit: func(ev steps.Event) {
			if ev.Kind == steps.EventStepStarted {
				started = append(started, ev.Step)
			}
			if ev.Line != "" {
				f.sink.Log(ev.Line)
			}
		},
		Decide: func(_ context.Context, ev steps.Event) (steps.Decision, error) {
			return steps.Decision{Step: ev.Step, Approve: true}, nil
		},
		Redact: f.env.Redactor(),
	}
	return r.Run(context.Background(), p, 0), started
}

var pgMajor17 = PostgresMajor{FromMajor: 15, ToMajor: 17, Image: "postgres:17-alpine"}

// The hop's steps, in order, before the app hop it serves.
func TestPGHopPlanOrder(t *testing.T) {
	f, _ := pgHop(t)
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.0.0", Postgres: &pgMajor17}, {Version: "1.1.0"}})
	var ids []string
	for _, st := range p.Steps {
		ids = append(ids, st.Info().ID)
	}
	want := append(hopIDs("postgresql-17", "preflight", "images", "review", "prepare", "stop", "backup", "copy", "config", "start", "verify"),
		hopIDs("1.1.0", "preflight", "backup", "images", "rehearse", "config", "stop", "migrate", "start", "verify")...)
	want = append(want, "cleanup")
	if !equalStrings(ids, want) {
		t.Fatalf("steps\n got %v\nwant %v", ids, want)
	}
	if in := p.Steps[2].Info(); !in.Confirm || !strings.Contains(in.Explain, "rollback is switching back") {
		t.Errorf("review step %+v", in)
	}
}

// The whole hop: the copy goes into a new labelled volume, the switch
// writes .env and compose, the database is checked after it, the app
// starts again at the same version.
func TestPGHopRuns(t *testing.T) {
	f, pg := pgHop(t)
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.0.0", Postgres: &pgMajor17}})
	res, _ := runPlan(t, f, p)
	if res.Outcome != steps.OutcomeSuccess || res.Reached != "1.0.0" {
		t.Fatalf("result %+v\n%s", res, f.sink.text())
	}
	// The new server starts before the stop; the roles go first, then
	// every dump is restored into it as it is written (no second restore).
	want := []string{
		"pg create volume proj_db-data-pg17 project=proj key=db-data-pg17",
		"pg start postgres:17-alpine on proj_db-data-pg17 at /var/lib/postgresql/data env POSTGRES_DB=app,POSTGRES_PASSWORD=s3cret-pw,POSTGRES_USER=app",
		"compose stop --timeout 20 api worker",
		"pg list c-db",
		"pg globals c-db → pg-new",
		"backup create",
		"backup copies into pg-new",
		"pg list c-db",
		"pg create database spare owner bob in pg-new",
		"pg compare pg-new with pg1",
		"pg remove server",
		"compose up --detach --wait --wait-timeout 180 db",
		"pg count db with pg1",
		"compose up --detach --wait --wait-timeout 180 --remove-orphans",
	}
	var got []string
	for _, c := range f.calls.list() {
		if slices.Contains(want, c) {
			got = append(got, c)
		}
	}
	if !equalStrings(got, want) {
		t.Errorf("calls\n got %v\nwant %v\nall %v", got, want, f.calls.list())
	}
	if slices.Contains(f.calls.list(), "restore database") {
		t.Errorf("the dumps were restored a second time: %v", f.calls.list())
	}
	if src := f.backups.created[0].DB; src == nil || !equalStrings(src.Extra, []string{"extra"}) {
		t.Errorf("the hop's backup does not hold every database with data: %+v", src)
	}
	if v := envValue(t, f.env.EnvPath(), "POSTGRES_IMAGE"); v != "postgres:17-alpine" {
		t.Errorf("POSTGRES_IMAGE=%s", v)
	}
	b, _ := os.ReadFile(f.env.Project.Files[0])
	if !strings.Contains(string(b), "- db-data-pg17:/var/lib/postgresql/data") || !strings.Contains(string(b), "\n  db-data:\n  db-data-pg17:\n") {
		t.Errorf("compose after:\n%s", b)
	}
	if len(pg.removed) != 0 {
		t.Errorf("volumes removed: %v", pg.removed)
	}
	if !f.env.isPGSwitched("pg1") {
		t.Error("the hop's restore point is not marked as switched from")
	}
}

// A copy that does not compare equal changes nothing: the new volume is
// removed, the files are as they were, the app is started again.
func TestPGHopCopyFails(t *testing.T) {
	f, pg := pgHop(t)
	pg.compareErr = map[string]error{"pg-new": errFake}
	env0, _ := os.ReadFile(f.env.EnvPath())
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.0.0", Postgres: &pgMajor17}})
	res, started := runPlan(t, f, p)
	if res.Outcome != steps.OutcomeFailed || res.FailedStep != "postgresql-17/copy" {
		t.Fatalf("result %+v", res)
	}
	wantErr(t, errorOf(res), "does not hold what the old server held", "Nothing was changed", "runs again on PostgreSQL 15")
	if last := started[len(started)-1]; last != "postgresql-17/copy" {
		t.Errorf("a step after the failed copy ran: %v", started)
	}
	if !equalStrings(pg.removed, []string{"proj_db-data-pg17"}) {
		t.Errorf("removed volumes %v", pg.removed)
	}
	if env1, _ := os.ReadFile(f.env.EnvPath()); string(env1) != string(env0) {
		t.Errorf(".env changed:\n%s", env1)
	}
	if ran := f.compose.ran(); ran[len(ran)-1] != "start api worker" {
		t.Errorf("the app was not started again: %v", ran)
	}
}

// A restore that fails while the dump streams into it does not fail the
// backup: the copy step restores from the set's files instead (the roles
// were copied already), then compares.
func TestPGHopCopyWhileDumpingFails(t *testing.T) {
	f, _ := pgHop(t)
	f.backups.copyErr = errFake
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.0.0", Postgres: &pgMajor17}})
	res, _ := runPlan(t, f, p)
	if res.Outcome != steps.OutcomeSuccess {
		t.Fatalf("result %+v\n%s", res, f.sink.text())
	}
	calls := f.calls.list()
	if n := countOf(calls, "pg globals c-db → pg-new"); n != 1 {
		t.Errorf("roles copied %d times: %v", n, calls)
	}
	if i, j := slices.Index(calls, "restore database"), slices.Index(calls, "pg compare pg-new with pg1"); i < 0 || j < i {
		t.Errorf("no restore from the set before the compare: %v", calls)
	}
	if !f.sink.has("the copy step restores from the backup instead") {
		t.Errorf("log:\n%s", f.sink.text())
	}
}

// A run that stops between the new server's start and the copy leaves
// neither the server nor its volume once it ends.
func TestPGHopStopFailsDropsPreparedServer(t *testing.T) {
	f, pg := pgHop(t)
	f.compose.fail = failOn("stop --timeout", errFake)
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.0.0", Postgres: &pgMajor17}})
	res, _ := runPlan(t, f, p)
	if res.Outcome == steps.OutcomeSuccess {
		t.Fatalf("result %+v", res)
	}
	f.env.DropScratch(t.Context()) // what the engine does when a run ends
	if !slices.Contains(f.calls.list(), "pg remove server") || !equalStrings(pg.removed, []string{"proj_db-data-pg17"}) {
		t.Errorf("the prepared server is left: removed volumes %v, calls %v", pg.removed, f.calls.list())
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// A failure after the switch rolls back by switching back: the restored
// files start the old server, whose tables are compared with the restore
// point, and nothing is restored into it.
func TestPGHopSwitchFailsRollsBack(t *testing.T) {
	f, pg := pgHop(t)
	// The copy's server says 17; the database service, once switched, 16
	// (say, a tag that moved between the two starts).
	f.compose.fail = func(args []string) error {
		j := strings.Join(args, " ")
		pg.mu.Lock()
		defer pg.mu.Unlock()
		if strings.HasPrefix(j, "up ") && strings.HasSuffix(j, " db") {
			pg.switched = envValue(t, f.env.EnvPath(), "POSTGRES_IMAGE") == "postgres:17-alpine"
			if pg.switched {
				pg.newMajor = 16
			}
		}
		return nil
	}
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.0.0", Postgres: &pgMajor17}})
	res, started := runPlan(t, f, p)
	if res.Outcome != steps.OutcomeRolledBack || res.FailedStep != "postgresql-17/config" || res.Reached != "1.0.0" {
		t.Fatalf("result %+v\n%s", res, f.sink.text())
	}
	wantErr(t, errorOf(res), "runs PostgreSQL 16 after the switch, not 17")
	if !strings.Contains(strings.Join(started, " "), "rollback/restore") {
		t.Fatalf("no rollback: %v", started)
	}
	configRestored := false
	for _, c := range f.calls.list() {
		switch {
		case c == "restore config":
			configRestored = true
		case c == "restore database" && configRestored:
			t.Errorf("the rollback restored a dump into the old server: %v", f.calls.list())
		}
	}
	if !configRestored || !f.sink.has("switched back to the old database volume, untouched: 3 tables equal to backup pg1") {
		t.Errorf("log:\n%s", f.sink.text())
	}
}

func errorOf(res steps.Result) error {
	if res.Error == "" {
		return nil
	}
	return &resultError{res.Error}
}

type resultError struct{ s string }

func (e *resultError) Error() string { return e.s }

// The layout refuses a data directory the hop cannot move, before anything.
func TestPGLayoutRefuses(t *testing.T) {
	f, _ := pgHop(t)
	det := f.det.fn()
	c := det.Containers["db"]
	c.Mounts = []dockerx.Mount{{Type: "tmpfs", Destination: "/var/lib/postgresql/data"}}
	det.Containers["db"] = c
	_, err := f.env.pgLayoutOf(det)
	wantErr(t, err, "tmpfs mount", "Nothing was changed")
	// A directory of the host is a place for the new major's next to it.
	dir := filepath.Join(f.env.Dir(), "pg")
	c.Mounts = []dockerx.Mount{{Type: "bind", Source: dir, Destination: "/var/lib/postgresql/data"}}
	det.Containers["db"] = c
	if l, err := f.env.pgLayoutOf(det); err != nil || l.bindDir != dir || l.volume != "" {
		t.Fatalf("layout %+v, %v", l, err)
	}
	c.Mounts = nil
	det.Containers["db"] = c
	_, err = f.env.pgLayoutOf(det)
	wantErr(t, err, "in no volume")
}

// TestDropUnswitchedPG: what a killed run prepared for PostgreSQL 17 and
// never switched to goes (its volume, labelled upshift's for this project;
// or its directory, marked upshift's); a volume of that name that is not
// upshift's stays, and nothing goes once the files name the new place.
func TestDropUnswitchedPG(t *testing.T) {
	f, pg := pgHop(t)
	var logs []string
	log := func(l string) { logs = append(logs, l) }
	project := f.env.Project.Name
	ours := map[string]string{dockerx.LabelPGMajor: "17", dockerx.LabelComposeProject: project}
	pg.volumes = map[string]map[string]string{"proj_db-data-pg17": ours}
	f.env.DropUnswitchedPG(context.Background(), []int{17}, log)
	if _, ok := pg.volumes["proj_db-data-pg17"]; ok || len(logs) != 1 || !strings.Contains(logs[0], "never switched to it") {
		t.Fatalf("our unswitched volume: volumes %v, log %q", pg.volumes, logs)
	}

	pg.volumes = map[string]map[string]string{"proj_db-data-pg17": {dockerx.LabelComposeProject: project}}
	f.env.DropUnswitchedPG(context.Background(), []int{17}, log)
	if _, ok := pg.volumes["proj_db-data-pg17"]; !ok {
		t.Fatal("a volume upshift did not make for the hop was removed")
	}

	pg.volumes = map[string]map[string]string{"proj_db-data-pg17": ours}
	writeFile(t, f.env.EnvPath(), "APP_VERSION=1.0.0\nPOSTGRES_IMAGE=postgres:17-alpine\nDATA=db-data-pg17\n")
	f.env.DropUnswitchedPG(context.Background(), []int{17}, log)
	if _, ok := pg.volumes["proj_db-data-pg17"]; !ok {
		t.Fatal("a volume the files name was removed")
	}

	// A directory of the host.
	writeFile(t, f.env.EnvPath(), "APP_VERSION=1.0.0\nPOSTGRES_IMAGE=postgres:15-alpine\n")
	det := f.det.fn
	f.det.fn = func() *detect.Result {
		d := det()
		c := d.Containers["db"]
		c.Mounts = []dockerx.Mount{{Type: "bind", Source: "/srv/app/volumes/db/data", Destination: "/var/lib/postgresql/data"}}
		d.Containers["db"] = c
		return d
	}
	pg.dirs = map[string]backup.DirState{"/srv/app/volumes/db/data-pg17": backup.DirOurs}
	f.env.DropUnswitchedPG(context.Background(), []int{17}, log)
	if _, ok := pg.dirs["/srv/app/volumes/db/data-pg17"]; ok {
		t.Fatalf("our unswitched directory stays: %v", pg.dirs)
	}
	pg.dirs = map[string]backup.DirState{"/srv/app/volumes/db/data-pg17": backup.DirForeign}
	f.env.DropUnswitchedPG(context.Background(), []int{17}, log)
	if _, ok := pg.dirs["/srv/app/volumes/db/data-pg17"]; !ok {
		t.Fatal("someone's directory was removed")
	}
}

// TestSameHostDir: the compose files' path of a bind-mounted data
// directory must be the directory the container runs on, when both are here.
func TestSameHostDir(t *testing.T) {
	f, _ := pgHop(t)
	dir := f.env.Dir()
	data := filepath.Join(dir, "volumes", "db", "data")
	other := filepath.Join(dir, "other")
	for _, d := range []string{data, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.env.sameHostDir("./volumes/db/data", data); err != nil {
		t.Fatal(err)
	}
	if err := f.env.sameHostDir(data, data); err != nil {
		t.Fatal(err)
	}
	wantErr(t, f.env.sameHostDir("./other", data), "the files changed since it started", "Nothing was changed")
	// Not on this machine (another engine's host): not judged.
	if err := f.env.sameHostDir("./volumes/db/data", "/nonexistent/elsewhere/data"); err != nil {
		t.Fatal(err)
	}
}
