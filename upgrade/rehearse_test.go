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

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// fakeScratch is a scratch copy: what was asked of it, and the schema head
// its Query answers.
type fakeScratch struct {
	log     *calls
	head    string
	started func() // called when the app container starts

	mu      sync.Mutex
	logins  []string
	apps    []dockerx.AppSpec
	removed int
}

func (s *fakeScratch) Login(_ context.Context, user, password string) error {
	s.log.add("scratch login " + user)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logins = append(s.logins, user+":"+password)
	return nil
}

func (s *fakeScratch) Query(_ context.Context, database, sql string) (string, error) {
	s.log.add("scratch query " + database)
	return s.head, nil
}

func (s *fakeScratch) StartApp(_ context.Context, spec dockerx.AppSpec) (string, error) {
	s.log.add("scratch app " + spec.Image + " " + strings.Join(spec.Cmd, " "))
	s.mu.Lock()
	s.apps = append(s.apps, spec)
	s.mu.Unlock()
	if s.started != nil {
		s.started()
	}
	return "scratch-app", nil
}

func (s *fakeScratch) Remove(context.Context) error {
	s.log.add("scratch remove")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removed++
	return nil
}

// rehearsingBackups are fakeBackups that can prove a set by a restore and
// leave the scratch copy running.
type rehearsingBackups struct {
	*fakeBackups
	sc     *fakeScratch
	copies int
	images []string // the server image of each scratch copy
	// physErr fails PhysicalScratch (no copy of the base backup).
	physErr error
}

func (b *rehearsingBackups) VerifyRestore(context.Context, *backup.Set, string, func(backup.Progress)) (*backup.RestoreProof, error) {
	b.log.add("backup prove")
	return &backup.RestoreProof{Passed: true}, nil
}

func (b *rehearsingBackups) ScratchCopy(_ context.Context, set *backup.Set, image string, aliases []string, _ func(backup.Progress)) (*backup.RestoreProof, scratchCopy, error) {
	b.log.add("backup scratch copy " + set.ID + " as " + strings.Join(aliases, ","))
	b.copies++
	b.images = append(b.images, image)
	return &backup.RestoreProof{Passed: true}, b.sc, nil
}

func (b *rehearsingBackups) LiveScratch(_ context.Context, root string, src backup.Source, _ string, aliases []string, _ func(backup.Progress)) (scratchCopy, error) {
	b.log.add("backup live scratch of " + src.DB.Database + " under " + filepath.Base(root) + " as " + strings.Join(aliases, ","))
	b.copies++
	return b.sc, nil
}

func (b *rehearsingBackups) MoveScratch(_ context.Context, root string, src backup.Source, _ scratchCopy, image string, aliases []string, _ func(backup.Progress)) (scratchCopy, error) {
	b.log.add("backup move scratch of " + src.Version + " into " + image + " under " + filepath.Base(root) + " as " + strings.Join(aliases, ","))
	b.copies++
	b.images = append(b.images, image)
	return b.sc, nil
}

func (b *rehearsingBackups) PhysicalScratch(_ context.Context, set *backup.Set, db backup.DBSource, aliases []string, _ func(backup.Progress)) (scratchCopy, error) {
	b.log.add("backup physical scratch of " + set.ID + " from " + db.Database + " as " + strings.Join(aliases, ","))
	if b.physErr != nil {
		return nil, b.physErr
	}
	b.copies++
	return b.sc, nil
}

// rehearsalHop is the demo's 1.0.0 → 1.1.0 hop with backups that rehearse,
// and the api's compose settings the rehearsal copies.
func rehearsalHop(t *testing.T) (*fixture, *rehearsingBackups) {
	t.Helper()
	f := demoHop(t)
	f.backups.set.Manifest.Databases = []backup.DatabaseEntry{{Name: "app"}}
	rb := &rehearsingBackups{fakeBackups: f.backups, sc: &fakeScratch{log: f.calls, head: "8e4b6d21c5a7"}}
	f.env.Backups = rb
	url := "postgres://app:s3cret-pw@db:5432/app"
	api := f.env.Start.Stack.Model.Services["api"]
	api.Environment = types.MappingWithEquals{"DATABASE_URL": &url}
	api.Volumes = []types.ServiceVolumeConfig{{Type: "volume", Source: "uploads", Target: "/data/uploads"}}
	f.env.Start.Stack.Model.Services["api"] = api
	return f, rb
}

// A passing rehearsal runs on the scratch copy the restore proof left (one
// restore), with the target image, the app's environment and no volume of
// the stack, before anything stops; the copy is removed afterwards.
func TestRehearsalPasses(t *testing.T) {
	f, rb := rehearsalHop(t)
	f.docker.logs = map[string][]string{"scratch-app": {"INFO Running upgrade 3f1c2a9b7d10 -> 8e4b6d21c5a7"}}
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}})
	res, _ := runHop(t, f, p)
	if res.Outcome != steps.OutcomeSuccess {
		t.Fatalf("result %+v", res)
	}
	if rb.copies != 1 || rb.sc.removed != 1 {
		t.Errorf("scratch copies %d, removed %d: want one restore (the proof's), removed once", rb.copies, rb.sc.removed)
	}
	calls := f.calls.list()
	iApp := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "scratch app ") })
	iStop := slices.IndexFunc(calls, func(c string) bool { return strings.Contains(c, "stop --timeout") })
	if iApp < 0 || iStop < 0 || iApp > iStop {
		t.Fatalf("the rehearsal must run before the stop: %v", calls)
	}
	app := rb.sc.apps[0]
	if app.Image != "upshift-demo/app:1.1.0" || !slices.Equal(app.Cmd, []string{"migrate"}) {
		t.Errorf("app container %+v", app)
	}
	if !slices.Contains(app.Env, "DATABASE_URL=postgres://app:s3cret-pw@db:5432/app") || !slices.Equal(app.Tmpfs, []string{"/data/uploads"}) {
		t.Errorf("env %v, tmpfs %v", app.Env, app.Tmpfs)
	}
	if !slices.Equal(rb.sc.logins, []string{"app:s3cret-pw"}) {
		t.Errorf("logins %v", rb.sc.logins)
	}
	rs := f.env.Rehearsals()
	if len(rs) != 1 || !rs[0].Passed || rs[0].Head != "8e4b6d21c5a7" || rs[0].Hop != "1.1.0" {
		t.Errorf("rehearsals %+v", rs)
	}
}

// A hop whose restore point is a base backup (complete only at the stop)
// rehearses on a copy of it and of the WAL so far, recovered in a scratch
// server, before the stop; when that copy fails, on a copy of the running
// database restored while it is dumped, saying why.
func TestRehearsalOnPhysicalRestorePoint(t *testing.T) {
	for _, fails := range []bool{false, true} {
		f, rb := rehearsalHop(t)
		f.backups.set.Manifest.Databases = nil
		f.backups.set.Manifest.Physical = &backup.PhysicalEntry{Slot: "upshift_s1"}
		if fails {
			rb.physErr = errors.New("no scratch copy of the base backup: the replication slot upshift_s1 is gone")
		}
		f.docker.logs = map[string][]string{"scratch-app": {"INFO Running upgrade 3f1c2a9b7d10 -> 8e4b6d21c5a7"}}
		p := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}})
		res, evs := runHop(t, f, p)
		var log strings.Builder
		for _, ev := range evs {
			if ev.Kind == steps.EventLog {
				log.WriteString(ev.Line + "\n")
			}
		}
		if res.Outcome != steps.OutcomeSuccess {
			t.Fatalf("fails %v: result %+v\n%s", fails, res, log.String())
		}
		calls := f.calls.list()
		iPhys := slices.Index(calls, "backup physical scratch of "+f.backups.set.ID+" from app as db")
		iLive := slices.Index(calls, "backup live scratch of app under .rehearsal-copy as db")
		iStop := slices.IndexFunc(calls, func(c string) bool { return strings.Contains(c, "stop --timeout") })
		if iPhys < 0 || iStop < iPhys || rb.copies != 1 || rb.sc.removed != 1 {
			t.Fatalf("fails %v: want one copy before the stop, removed once (copies %d, removed %d): %v", fails, rb.copies, rb.sc.removed, calls)
		}
		if fails != (iLive > iPhys && iLive < iStop) {
			t.Errorf("fails %v: the live copy at %d (physical at %d): %v", fails, iLive, iPhys, calls)
		}
		if slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "backup scratch copy") }) {
			t.Errorf("the base backup was restored into a scratch server: %v", calls)
		}
		if l := log.String(); !strings.Contains(l, "a copy of it and of the WAL written so far") ||
			fails != strings.Contains(l, "⚠ the rehearsal cannot run on a copy of the base backup (no scratch copy of the base backup: the replication slot upshift_s1 is gone): the running database is copied instead") {
			t.Errorf("fails %v: log:\n%s", fails, l)
		}
		if _, err := os.Stat(filepath.Join(f.env.BackupDir, ".rehearsal-copy")); !os.IsNotExist(err) {
			t.Errorf("the throw-away dumps are left: %v", err)
		}
	}
}

// A sealed base backup, or a rehearsal in another server (the path moves
// PostgreSQL), copies the running database: the base backup cannot serve.
func TestRehearsalOnPhysicalRestorePointCopiesTheLiveDBWhenItCannotServe(t *testing.T) {
	for _, why := range []string{"sealed", "another server"} {
		f, rb := rehearsalHop(t)
		f.backups.set.Manifest.Databases = nil
		f.backups.set.Manifest.Physical = &backup.PhysicalEntry{Slot: "upshift_s1"}
		if why == "sealed" {
			f.backups.set.Manifest.Physical.WALFile, f.backups.set.Manifest.Physical.StopLSN = "pgdata-wal.tar.zst", "0/3000100"
		} else {
			f.env.rehearsal.server = &PostgresMajor{FromMajor: 15, ToMajor: 17, Image: "postgres:17-alpine"}
		}
		f.env.AddRestorePoint(f.backups.set)
		st := &rehearseStep{env: f.env, hop: "1.1.0", from: "1.0.0"}
		sc, err := st.scratch(context.Background(), f.sink)
		if err != nil || sc == nil {
			t.Fatalf("%s: %v %v", why, sc, err)
		}
		calls := f.calls.list()
		if slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "backup physical scratch") }) ||
			!slices.Contains(calls, "backup live scratch of app under .rehearsal-copy as db") || rb.copies != 1 {
			t.Errorf("%s: %v", why, calls)
		}
		if why == "another server" && !f.sink.has("another PostgreSQL than the base backup's") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	}
}

// On a path of two hops both migrations are rehearsed, chained on one
// copy, before the first downtime: the second one failing stops the run
// with nothing stopped or changed, not after the first hop's downtime.
func TestRehearsalAheadStopsBeforeTheFirstDowntime(t *testing.T) {
	f, rb := rehearsalHop(t)
	f.docker.logs = map[string][]string{"scratch-app": {"INFO Running upgrade 3f1c2a9b7d10 -> 8e4b6d21c5a7"}}
	starts := 0
	rb.sc.started = func() {
		if starts++; starts == 2 {
			f.docker.waitCode = 1
			f.docker.logs = map[string][]string{"scratch-app": {`ERROR migration failed: could not create unique index "notes_body_key" (SQLSTATE 23505)`}}
		}
	}
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}, {Version: "2.0.0"}})
	res, _ := runHop(t, f, p)
	if res.Outcome != steps.OutcomeFailed || res.FailedStep != "2.0.0/rehearse" || !res.Unchanged {
		t.Fatalf("result %+v\n%s", res, f.sink.text())
	}
	calls := f.calls.list()
	if slices.ContainsFunc(calls, func(c string) bool { return strings.Contains(c, "stop --timeout") }) {
		t.Errorf("something was stopped: %v", calls)
	}
	if rb.copies != 1 || rb.sc.removed != 1 || starts != 2 {
		t.Errorf("copies %d, removed %d, app starts %d: want one copy for both rehearsals, removed once", rb.copies, rb.sc.removed, starts)
	}
	if apps := rb.sc.apps; len(apps) != 2 || apps[0].Image != "upshift-demo/app:1.1.0" || apps[1].Image != "upshift-demo/app:2.0.0" {
		t.Errorf("rehearsed images %+v", apps)
	}
}

// A failing rehearsal fails its step with the migration's first error line
// and the release note's action, and nothing is stopped or rolled back.
func TestRehearsalFailsBeforeAnyChange(t *testing.T) {
	f, rb := rehearsalHop(t)
	f.docker.waitCode = 1
	f.docker.logs = map[string][]string{"scratch-app": {
		"INFO Running upgrade 3f1c2a9b7d10 -> 8e4b6d21c5a7",
		`ERROR migration failed: CREATE UNIQUE INDEX notes_body_key ON notes (body): ERROR: could not create unique index "notes_body_key" (SQLSTATE 23505)`,
		"upshift: exiting",
	}}
	p := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}})
	p.Hint = func(info steps.StepInfo, failure string) string {
		if info.Hop == "1.1.0" && strings.Contains(failure, "could not create unique index") {
			return "DELETE FROM notes a USING notes b WHERE a.id > b.id AND a.body = b.body;"
		}
		return ""
	}
	res, evs := runHop(t, f, p)
	if res.Outcome != steps.OutcomeFailed || res.FailedStep != "1.1.0/rehearse" || !res.Unchanged || res.Reached != "1.0.0" {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(res.Message, "nothing was changed") || !strings.Contains(res.Message, `could not create unique index "notes_body_key"`) {
		t.Errorf("message %q", res.Message)
	}
	if !strings.Contains(res.Next, "DELETE FROM notes a USING notes b") {
		t.Errorf("next %q: the release note's action", res.Next)
	}
	for _, ev := range evs {
		if ev.Kind == steps.EventRollingBack || (ev.Kind == steps.EventStepStarted && strings.HasPrefix(ev.Step, "rollback/")) {
			t.Fatalf("nothing changed, yet a rollback: %+v", ev)
		}
	}
	for _, c := range f.calls.list() {
		if strings.Contains(c, "stop --timeout") || strings.Contains(c, " migrate") && !strings.HasPrefix(c, "scratch") {
			t.Errorf("the live stack was touched: %s", c)
		}
	}
	if rb.sc.removed != 1 {
		t.Errorf("scratch copy removed %d times, want 1", rb.sc.removed)
	}
	if rs := f.env.Rehearsals(); len(rs) != 1 || rs[0].Passed || !strings.Contains(rs[0].Error, "could not create unique index") {
		t.Errorf("rehearsals %+v", rs)
	}
}

// A rehearsal cancelled half-way removes its scratch copy and keeps none.
func TestRehearsalCancelledCleansUp(t *testing.T) {
	f, rb := rehearsalHop(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rb.sc.started = cancel // Ctrl-C while the migration runs
	f.docker.waitErr = context.Canceled
	f.env.AddRestorePoint(f.backups.set)
	st := &rehearseStep{env: f.env, hop: "1.1.0", from: "1.0.0", keep: true}
	err := st.Run(ctx, f.sink)
	if err == nil || !strings.Contains(err.Error(), "interrupted") || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if rb.sc.removed != 1 || f.env.takeScratch("") != nil {
		t.Errorf("removed %d; a copy was kept after the cancel", rb.sc.removed)
	}
}

// A copy kept by the proof for a rehearsal that never runs (a step between
// failed) goes when the run ends.
func TestDropScratchRemovesAKeptCopy(t *testing.T) {
	f, rb := rehearsalHop(t)
	f.env.keepScratch(rb.sc, "1.1.0")
	f.env.DropScratch(context.Background())
	if rb.sc.removed != 1 || f.env.takeScratch("") != nil {
		t.Errorf("removed %d", rb.sc.removed)
	}
}

// The rehearsal skips itself, saying why, when the backup comes after the
// stop or the admin turned it off.
func TestRehearsalSkips(t *testing.T) {
	f, _ := rehearsalHop(t)
	st := &rehearseStep{env: f.env, hop: "1.1.0"}
	if skip, _ := st.Skip(context.Background()); skip {
		t.Fatal("skipped by default")
	}
	f.env.BackupAfterStop = true
	if skip, why := st.Skip(context.Background()); !skip || !strings.Contains(why, "taken while the app runs") {
		t.Errorf("backup after stop: %v %q", skip, why)
	}
	f.env.BackupAfterStop, f.env.NoRehearsal = false, true
	if skip, why := st.Skip(context.Background()); !skip || !strings.Contains(why, "--no-rehearsal") {
		t.Errorf("--no-rehearsal: %v %q", skip, why)
	}
}

// Entrypoint mode: the target app starts on the scratch copy with its own
// command, and its log's success line ends the rehearsal.
func TestRehearsalEntrypointWatchesTheLog(t *testing.T) {
	f, rb := rehearsalHop(t)
	f.env.Profile.Migration.Mode = "entrypoint"
	f.env.Profile.Migration.SuccessLog = `Database is at head`
	f.env.Profile.Migration.ErrorLog = `ERROR`
	api := f.env.Start.Stack.Model.Services["api"]
	api.Command = types.ShellCommand{"serve"}
	f.env.Start.Stack.Model.Services["api"] = api
	f.docker.logs = map[string][]string{"scratch-app": {"INFO Running upgrade", "INFO Database is at head 8e4b6d21c5a7 (1.1.0)"}}
	f.env.AddRestorePoint(f.backups.set)
	st := &rehearseStep{env: f.env, hop: "1.1.0", from: "1.0.0"}
	if err := st.Run(context.Background(), f.sink); err != nil {
		t.Fatal(err)
	}
	if app := rb.sc.apps[0]; !slices.Equal(app.Cmd, []string{"serve"}) || app.Image != "upshift-demo/app:1.1.0" {
		t.Errorf("app %+v", app)
	}
	if !f.sink.has("passed its rehearsal") || rb.sc.removed != 1 {
		t.Errorf("removed %d, log:\n%s", rb.sc.removed, f.sink.text())
	}

	// Its error line fails it, named.
	f.docker.logs["scratch-app"] = []string{"INFO Running upgrade", `ERROR relation "x" does not exist`}
	err := st.Run(context.Background(), f.sink)
	if err == nil || !strings.Contains(err.Error(), `relation "x" does not exist`) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err %v", err)
	}
}

// Entrypoint mode, an error line and then the success line (n9e's way):
// the real run would ask after the stop whether to keep it, so the
// rehearsal asks before it; no (unattended without
// --accept-migration-errors) stops the upgrade with nothing changed.
func TestRehearsalEntrypointDoubtIsAskedBeforeTheStop(t *testing.T) {
	for _, goOn := range []bool{false, true} {
		f, _ := rehearsalHop(t)
		f.env.Profile.Migration.Mode = "entrypoint"
		f.env.Profile.Migration.SuccessLog = `listening on`
		f.env.Profile.Migration.ErrorLog = `ERROR migrate`
		f.docker.logs = map[string][]string{"scratch-app": {`ERROR migrate failed to migrate table:&{target} could not create unique index`, "http server listening on :17000"}}
		f.env.AddRestorePoint(f.backups.set)
		st := &rehearseStep{env: f.env, hop: "9.0.0", from: "8.4.1"}
		var asked steps.Event
		r := &steps.Runner{Decide: func(_ context.Context, ev steps.Event) (steps.Decision, error) {
			asked = ev
			return steps.Decision{Step: ev.Step, Approve: goOn}, nil
		}}
		res := r.Run(context.Background(), &steps.Plan{From: "8.4.1", To: "9.0.0", Steps: []steps.Step{st}}, 0)
		if !asked.Doubt || !strings.Contains(asked.Line, "could not create unique index") || !strings.Contains(asked.Prompt, "rehearsal") || !strings.Contains(asked.Prompt, "nothing changed") {
			t.Fatalf("asked %+v", asked)
		}
		if goOn {
			if res.Outcome != steps.OutcomeSuccess {
				t.Fatalf("go on: result %+v", res)
			}
			continue
		}
		if res.Outcome != steps.OutcomeFailed || !res.Unchanged || res.FailedStep != "9.0.0/rehearse" ||
			!strings.Contains(res.Error, "could not create unique index") || !strings.Contains(res.Error, "before the downtime") || strings.Contains(res.Error, "rolled back") {
			t.Fatalf("stop: result %+v", res)
		}
		if rs := f.env.Rehearsals(); len(rs) != 1 || rs[0].Passed || !strings.Contains(rs[0].Error, "unique index") {
			t.Errorf("rehearsals %+v", rs)
		}
	}
}

// `upshift rehearse` through two hops: one backup and one restore (the
// proof's), both migrations on that copy in turn, nothing of the stack
// stopped, the copy removed once at the end.
func TestRehearsePlanChainsTheHops(t *testing.T) {
	f, rb := rehearsalHop(t)
	f.docker.logs = map[string][]string{"scratch-app": {"INFO migrated"}}
	heads := []string{"8e4b6d21c5a7", "c92d7f0e4b31"}
	n := 0
	rb.sc.started = func() {
		rb.sc.mu.Lock()
		rb.sc.head = heads[n]
		n++
		rb.sc.mu.Unlock()
	}
	p, err := RehearsePlan(f.env, "1.0.0", []Hop{{Version: "1.1.0"}, {Version: "2.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1.1.0/preflight", "1.1.0/backup", "1.1.0/images", "1.1.0/rehearse", "2.0.0/images", "2.0.0/rehearse"}
	if got := stepIDs(p.Steps); !equalStrings(got, want) {
		t.Fatalf("steps %v", got)
	}
	res, _ := runHop(t, f, p)
	if res.Outcome != steps.OutcomeSuccess || res.Reached != "1.0.0" || !strings.Contains(res.Message, "2.0.0 in ") || !strings.Contains(res.Message, "head c92d7f0e4b31") {
		t.Fatalf("result %+v", res)
	}
	if rb.copies != 1 || rb.sc.removed != 1 || len(rb.sc.apps) != 2 {
		t.Errorf("copies %d, removed %d, apps %d", rb.copies, rb.sc.removed, len(rb.sc.apps))
	}
	for _, c := range f.calls.list() {
		if strings.Contains(c, "stop --timeout") || strings.Contains(c, "compose run") || strings.Contains(c, " up ") {
			t.Errorf("the stack was touched: %s", c)
		}
	}
}

// `upshift rehearse` on a path with a PostgreSQL major hop: the hop has no
// migration (no steps of its own, no step ID twice); the hop before it is
// rehearsed on a copy in the old server's image, which is then moved into
// the new server's image for the hop after it.
func TestRehearsePlanAcrossPostgresHop(t *testing.T) {
	f, rb := rehearsalHop(t)
	f.docker.logs = map[string][]string{"scratch-app": {"INFO migrated"}}
	heads := []string{"8e4b6d21c5a7", "e1b8c4d6a9f3"}
	n := 0
	rb.sc.started = func() {
		rb.sc.mu.Lock()
		rb.sc.head = heads[n]
		n++
		rb.sc.mu.Unlock()
	}
	pgHop := Hop{Version: "1.1.0", Postgres: &PostgresMajor{FromMajor: 15, ToMajor: 17, Image: "postgres:17-alpine"}}
	p, err := RehearsePlan(f.env, "1.0.0", []Hop{{Version: "1.1.0"}, pgHop, {Version: "3.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1.1.0/preflight", "1.1.0/backup", "1.1.0/images", "1.1.0/rehearse", "3.0.0/images", "3.0.0/rehearse"}
	if got := stepIDs(p.Steps); !equalStrings(got, want) {
		t.Fatalf("steps %v", got)
	}
	res, evs := runHop(t, f, p)
	if res.Outcome != steps.OutcomeSuccess || res.Reached != "1.0.0" || strings.Contains(res.Message, "could not be rehearsed") {
		t.Fatalf("result %+v", res)
	}
	var log strings.Builder
	for _, ev := range evs {
		if ev.Kind == steps.EventLog {
			log.WriteString(ev.Step + ": " + ev.Line + "\n")
		}
	}
	// The first copy in the live image (the proof's, or the one the rehearsal made), the second the move into 17.
	if len(rb.images) != 2 || rb.images[0] == "postgres:17-alpine" || rb.images[1] != "postgres:17-alpine" || len(rb.sc.apps) != 2 {
		t.Fatalf("scratch copies in %v, apps %d", rb.images, len(rb.sc.apps))
	}
	if l := log.String(); !strings.Contains(l, "3.0.0/rehearse: • the path moves the database server (PostgreSQL 15 → 17) before 3.0.0: the copy is made in PostgreSQL 17 (postgres:17-alpine) from the one the 1.1.0 rehearsal left") ||
		strings.Contains(l, "1.1.0/rehearse: • the path moves") {
		t.Errorf("log:\n%s", l)
	}

	// The server's hop alone has nothing to rehearse.
	if _, err := RehearsePlan(f.env, "1.1.0", []Hop{pgHop}); err == nil || !strings.Contains(err.Error(), "only the database server moves") {
		t.Fatalf("err %v", err)
	}
}
