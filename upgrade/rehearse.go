package upgrade

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/pg"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- rehearse: the hop's migration on a scratch copy, before any downtime

// scratchCopy is a scratch PostgreSQL holding a restored backup (the real
// one is *backup.ScratchDB). Remove takes it away with whatever runs next
// to it; it ignores ctx cancellation.
type scratchCopy interface {
	Login(ctx context.Context, user, password string) error
	Query(ctx context.Context, database, sql string) (string, error)
	StartApp(ctx context.Context, spec dockerx.AppSpec) (string, error)
	Remove(ctx context.Context) error
}

// rehearser is the part of Backups that restores a set into a scratch copy
// and leaves it running (after the same comparison as the restore proof).
type rehearser interface {
	ScratchCopy(ctx context.Context, set *backup.Set, image string, aliases []string, progress func(backup.Progress)) (*backup.RestoreProof, scratchCopy, error)
	// LiveScratch copies the running database (src) straight into a
	// scratch server, each database restored while it is dumped; the dumps
	// land under root, which the caller removes.
	LiveScratch(ctx context.Context, root string, src backup.Source, image string, aliases []string, progress func(backup.Progress)) (scratchCopy, error)
	// MoveScratch copies the databases of from into a new scratch server
	// of image (from stays; the caller removes it).
	MoveScratch(ctx context.Context, root string, src backup.Source, from scratchCopy, image string, aliases []string, progress func(backup.Progress)) (scratchCopy, error)
	// PhysicalScratch makes a scratch server of the set's unsealed base
	// backup and the WAL the running server db wrote since, recovered to
	// the end of it (the base backup's image).
	PhysicalScratch(ctx context.Context, set *backup.Set, db backup.DBSource, aliases []string, progress func(backup.Progress)) (scratchCopy, error)
}

// Rehearsal is the outcome of one hop's rehearsal.
type Rehearsal struct {
	Hop      string        `json:"hop"`
	Duration time.Duration `json:"duration_ns"` // the migration itself (and the app's start, entrypoint mode)
	Head     string        `json:"head,omitempty"`
	Error    string        `json:"error,omitempty"` // the migration's first error line
	Passed   bool          `json:"passed"`
}

// rehearsalState is what the rehearsals of a run share: the scratch copy
// handed from the restore proof (or from the previous hop's rehearsal of
// `upshift rehearse`) to the next rehearsal, and the outcomes.
type rehearsalState struct {
	mu      sync.Mutex
	scratch scratchCopy
	hop     string // the hop whose input the scratch copy holds
	done    []Rehearsal
	// server: the path's PostgreSQL major hop (nil: none); firstOld: its
	// first app hop runs before it (the copy starts in the old image).
	server   *PostgresMajor
	firstOld bool
}

// SetRehearsal turns the rehearsal of each hop's migration on (the default
// for PostgreSQL stacks) or off (--no-rehearsal).
func SetRehearsal(env *Env, on bool) { env.NoRehearsal = !on }

// Rehearsals are the outcomes of the run's rehearsals, in order.
func (e *Env) Rehearsals() []Rehearsal {
	e.rehearsal.mu.Lock()
	defer e.rehearsal.mu.Unlock()
	return append([]Rehearsal(nil), e.rehearsal.done...)
}

// StopStartTime is the part of a hop's downtime that is not its migration:
// stopping the writers, starting and verifying them (the plan's guess).
const StopStartTime = 10 * time.Second

// WillRehearse says whether the run rehearses each hop's migration.
func (e *Env) WillRehearse() bool { return e != nil && e.Profile != nil && e.rehearses() }

// RehearsalSkipReason says why the run does not rehearse ("" when it does).
func (e *Env) RehearsalSkipReason() string {
	if e == nil || e.Profile == nil {
		return ""
	}
	if !e.migrates() {
		return "the profile runs no migration"
	}
	return (&rehearseStep{env: e}).skipReason()
}

// RehearsalTime is the measured migration time of every rehearsed hop (0
// when none ran).
func (e *Env) RehearsalTime() time.Duration {
	var d time.Duration
	for _, r := range e.Rehearsals() {
		d += r.Duration
	}
	return d
}

func (e *Env) record(r Rehearsal) {
	e.rehearsal.mu.Lock()
	e.rehearsal.done = append(e.rehearsal.done, r)
	e.rehearsal.mu.Unlock()
}

// migrates says whether the profile runs a migration upshift can rehearse.
func (e *Env) migrates() bool {
	m := e.Profile.Migration.Mode
	return m == profile.MigrateOneOff || m == profile.MigrateEntrypoint
}

// rehearses says whether hops are rehearsed in this run: a PostgreSQL
// stack whose backup is taken while it runs, with a migration, not turned
// off, and a Backups that can make scratch copies.
func (e *Env) rehearses() bool {
	_, ok := e.Backups.(rehearser)
	return ok && !e.NoRehearsal && !e.BackupAfterStop && !e.sqlite() && e.migrates()
}

// rehearseStep restores the hop's fresh backup into a scratch PostgreSQL
// (or takes the one the restore proof left running), runs the target's
// migration against it with nothing but the scratch network, and compares
// the schema head reached with the one the profile expects. Nothing of the
// live stack is stopped or changed; a failure stops the run before the
// downtime.
type rehearseStep struct {
	env  *Env
	hop  string
	from string
	// chained: the input is the scratch copy the previous hop's rehearsal
	// left (upshift rehearse), not this hop's backup; keep: leave the copy
	// for the next hop's rehearsal.
	chained, keep bool
	renames       []envfile.Rename
	// oldServer: the hop runs before the path moves PostgreSQL to a new
	// major (rehearsed on the old server's image); move: the copy the
	// previous hop left is in the old server's image and is moved into the
	// new one first.
	oldServer, move bool
	// group lists it with the rehearsals before the first downtime.
	group string
}

func (s *rehearseStep) Info() steps.StepInfo {
	in := steps.StepInfo{
		ID: id(s.hop, "rehearse"), Hop: s.hop, Group: s.group, Name: "Rehearse the " + s.hop + " migration on a scratch copy",
		ReadOnly: true,
		Touches:  []string{"starts and removes a throw-away PostgreSQL and app container on their own internal network (labelled io.upshift.scratch)"},
	}
	src := "this hop's fresh backup"
	if s.chained {
		src = "the scratch copy the " + s.from + " rehearsal left"
	}
	in.Explain = "Restores " + src + " into a throw-away PostgreSQL and runs the " + s.hop + " migration on it, with the app's settings but no network except the scratch one (no mail, webhooks or outside calls), nothing of the real stack mounted. It measures how long the migration takes and checks the schema head it reaches. If it fails, the upgrade stops here: nothing was stopped or changed."
	if why := s.skipReason(); why != "" {
		in.Explain = "Skipped: " + why
	}
	return in
}

func (s *rehearseStep) skipReason() string {
	e := s.env
	switch {
	case e.sqlite():
		return "a SQLite app's backup is taken after the stop, and a rehearsal needs one taken while the app runs (and a scratch PostgreSQL); the migration is not rehearsed"
	case e.NoRehearsal:
		return "the migration is not rehearsed (--no-rehearsal); the plan's downtime is a guess"
	case e.BackupAfterStop:
		return "a rehearsal needs a backup taken while the app runs; with --backup-after-stop the backup comes after the stop, so the migration is not rehearsed"
	}
	if _, ok := e.Backups.(rehearser); !ok {
		return "no scratch PostgreSQL can be made here"
	}
	return ""
}

// Skip implements steps.Skipper.
func (s *rehearseStep) Skip(context.Context) (bool, string) {
	why := s.skipReason()
	return why != "", why
}

func (s *rehearseStep) Run(ctx context.Context, sink steps.Sink) (err error) {
	e := s.env
	sc, err := s.scratch(ctx, sink)
	if err != nil {
		return err
	}
	if sc == nil {
		return nil // no scratch server can run here: said in the log
	}
	defer func() {
		if err != nil || !s.keep || ctx.Err() != nil {
			_ = sc.Remove(ctx)
			return
		}
		e.keepScratch(sc, s.hop)
	}()
	p := e.Start.DB.Params
	if err := sc.Login(ctx, p.User, p.Password); err != nil {
		return err
	}
	spec, err := e.rehearsalSpec(s.hop, s.renames)
	if err != nil {
		return err
	}
	if len(spec.ReadOnly) > 0 {
		ro := make([]string, 0, len(spec.ReadOnly))
		for _, b := range spec.ReadOnly {
			ro = append(ro, b.Target)
		}
		sink.Log("• " + e.migrationService() + "'s config mounts (" + strings.Join(ro, ", ") + ") are the real ones, read-only: nothing of the real stack can change")
	}
	if len(spec.Tmpfs) > 0 {
		sink.Log("• " + e.migrationService() + "'s data volumes (" + strings.Join(spec.Tmpfs, ", ") + ") are empty in-memory directories here, nothing of the real stack is mounted: a migration that needs their files fails or differs in the rehearsal")
	}
	timeout := e.migrationTimeout()
	mctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := time.Now()
	firstErr, err := s.migrate(mctx, sc, spec, sink)
	took := time.Since(t0)
	var nr errNotRehearsable
	if errors.As(err, &nr) {
		sink.Log("⚠ the " + s.hop + " migration is not rehearsed: " + nr.why + "; the hop goes on as without a rehearsal")
		return nil
	}
	r := Rehearsal{Hop: s.hop, Duration: took}
	var d *steps.Doubt
	if errors.As(err, &d) && ctx.Err() == nil {
		// The runner asks whether to go on despite it.
		r.Error = d.Line
		e.record(r)
		return d
	}
	if err == nil {
		r.Head, err = s.head(ctx, sc, sink)
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("the rehearsal of %s was interrupted (its scratch copy was removed); nothing was changed: %w", s.hop, ctx.Err())
		}
		if mctx.Err() != nil && firstErr == "" {
			err = fmt.Errorf("it did not finish within %s (migration.timeout): %w", timeout, err)
		}
		r.Error = firstErr
		if r.Error == "" {
			r.Error = err.Error()
		}
		e.record(r)
		msg := fmt.Sprintf("the %s migration failed in its rehearsal on a scratch copy of the database after %s, so nothing was changed (the app was never stopped)", s.hop, took.Round(100*time.Millisecond))
		if firstErr != "" && !strings.Contains(err.Error(), firstErr) {
			return fmt.Errorf("%s: %w; the migration's first error line: %s", msg, err, firstErr)
		}
		return fmt.Errorf("%s: %w", msg, err)
	}
	r.Passed = true
	e.record(r)
	head := ""
	if r.Head != "" {
		head = ", schema head " + r.Head
		if want := e.Profile.ExpectedHead(s.hop); want != "" {
			head += " (as " + s.hop + " expects)"
		}
	}
	sink.Log(fmt.Sprintf("✓ the %s migration passed its rehearsal in %s%s", s.hop, took.Round(100*time.Millisecond), head))
	if !s.keep && !s.chained {
		sink.Log(fmt.Sprintf("downtime of this hop: about %s (the measured migration plus about %s to stop and start)", (took + StopStartTime).Round(time.Second), StopStartTime))
	}
	return nil
}

// scratch is the scratch copy to rehearse on: the one left running (by the
// restore proof of this hop's backup, or by the previous hop's rehearsal),
// else a new restore of the hop's backup.
func (s *rehearseStep) scratch(ctx context.Context, sink steps.Sink) (scratchCopy, error) {
	e := s.env
	sc := e.takeScratch("")
	if sc == nil && s.chained {
		sink.Log("⚠ the " + s.hop + " migration is not rehearsed: the " + s.from + " rehearsal left no scratch copy to go on from")
		return nil, nil
	}
	if sc != nil {
		if s.chained && s.move {
			return s.moveCopy(ctx, sc, sink)
		}
		if s.chained {
			sink.Log("rehearsing on the scratch copy the " + s.from + " rehearsal left (the hops chain on one copy)")
		} else {
			sink.Log("rehearsing on the scratch copy the restore proof left running (no second restore)")
		}
		return sc, nil
	}
	set := e.newestPoint()
	if set == nil || (len(set.Manifest.Databases) == 0 && set.Manifest.Physical == nil) {
		return nil, errors.New("no backup of this hop to rehearse on (nothing was changed). Fix: run with --no-rehearsal, or let the backup run before the stop")
	}
	image := ""
	for _, img := range set.Manifest.Images {
		if img.Service == e.Start.DB.Service {
			image = img.ID
		}
	}
	if len(set.Manifest.Databases) == 0 {
		// The restore point is a base backup, complete only with the WAL of
		// the stop: the rehearsal goes on a copy of it and of the WAL so
		// far, or (another server, or that copy failed) on a logical copy
		// of the running database, thrown away afterwards (the restore point
		// stays as it is: a rollback loses nothing committed before the stop).
		return s.baseBackupScratch(ctx, set, image, sink)
	}
	image = e.rehearsalImage(image, sink)
	sink.Log("restoring " + set.ID + " into a scratch PostgreSQL for the rehearsal")
	_, sc, err := e.Backups.(rehearser).ScratchCopy(ctx, set, image, []string{e.Start.DB.Service}, func(p backup.Progress) {
		if p.Total > 0 {
			sink.Progress(p.Done, p.Total)
		}
	})
	return s.scratchOrSkip(ctx, sc, err, sink)
}

// scratchOrSkip turns a failure to make the scratch copy into the step's
// outcome: no scratch server possible says nothing about the migration.
func (s *rehearseStep) scratchOrSkip(ctx context.Context, sc scratchCopy, err error, sink steps.Sink) (scratchCopy, error) {
	if errors.Is(err, backup.ErrNoScratch) && ctx.Err() == nil {
		// Says nothing about the migration: go on as without a rehearsal.
		sink.Log("⚠ the migration is not rehearsed, no scratch PostgreSQL could run: " + err.Error() + " (the plan's downtime stays a guess; --no-rehearsal skips this attempt)")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("no scratch copy to rehearse on, so nothing was changed: %w. Fix the cause, or skip the rehearsal with --no-rehearsal", err)
	}
	return sc, nil
}

// migrate runs the migration on sc and returns its first error line.
func (s *rehearseStep) migrate(ctx context.Context, sc scratchCopy, spec dockerx.AppSpec, sink steps.Sink) (string, error) {
	e := s.env
	m := e.Profile.Migration
	if m.Mode == profile.MigrateEntrypoint {
		return s.entrypoint(ctx, sc, spec, sink)
	}
	cmds := append([][]string{m.Command}, m.After...)
	for i, cmd := range cmds {
		if i > 0 {
			sink.Log("• " + strings.Join(cmd, " "))
		}
		run := spec
		run.Cmd = cmd
		first, err := s.oneOff(ctx, sc, run, sink)
		if err != nil {
			if i > 0 {
				err = fmt.Errorf("%s failed after the migration: %w", strings.Join(cmd, " "), err)
			}
			return first, err
		}
	}
	return "", nil
}

// errLine tells the migration's own error lines (the profile's error_log
// when it has one).
func (e *Env) errLine() *regexp.Regexp {
	if re, err := regexp.Compile(e.Profile.Migration.ErrorLog); err == nil && e.Profile.Migration.ErrorLog != "" {
		return re
	}
	return errorish
}

// oneOff runs one command of a one-off migration to its end.
func (s *rehearseStep) oneOff(ctx context.Context, sc scratchCopy, spec dockerx.AppSpec, sink steps.Sink) (string, error) {
	e := s.env
	bad := e.errLine()
	var mu sync.Mutex
	first := ""
	id, err := sc.StartApp(ctx, spec)
	if err != nil {
		return "", err
	}
	logs := make(chan struct{})
	go func() {
		defer close(logs)
		_ = e.Docker.Logs(ctx, id, true, time.Time{}, func(l string) {
			sink.Log(l)
			mu.Lock()
			if first == "" && bad.MatchString(l) {
				first = l
			}
			mu.Unlock()
		})
	}()
	code, err := e.Docker.Wait(ctx, id)
	select { // the rest of its log
	case <-logs:
	case <-time.After(2 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		return first, err
	}
	if code != 0 {
		return first, fmt.Errorf("the migration exited with %d", code)
	}
	return first, nil
}

// entrypoint starts the target app on the scratch copy and watches its log
// as the migration step does, until its success or error line or the
// timeout.
func (s *rehearseStep) entrypoint(ctx context.Context, sc scratchCopy, spec dockerx.AppSpec, sink steps.Sink) (string, error) {
	e := s.env
	m := e.Profile.Migration
	bad := e.errLine()
	if m.SuccessLog == "" {
		return "", errNotRehearsable{"the profile gives no success_log, so a rehearsal cannot tell when the migration is done (add migration.success_log to the profile to rehearse it)"}
	}
	ok, err := regexp.Compile(m.SuccessLog)
	if err != nil {
		return "", fmt.Errorf("the profile's success_log %q is not a usable regexp", m.SuccessLog)
	}
	known, err := e.knownErrors(s.hop)
	if err != nil {
		return "", err
	}
	settle, _ := time.ParseDuration(m.Settle)
	id, err := sc.StartApp(ctx, spec)
	if err != nil {
		return "", err
	}
	w := &logWatch{ok: ok, bad: bad, known: known, last: time.Now(), sink: sink, note: e.note, svc: e.migrationService(), settle: settle}
	err = e.followLog(ctx, id, time.Time{}, w)
	w.mu.Lock()
	first := w.firstErr
	w.mu.Unlock()
	var d *steps.Doubt
	if errors.As(err, &d) {
		// The real run would ask whether to keep it, after the stop: ask
		// now, before the downtime (unattended: --accept-migration-errors).
		return first, &steps.Doubt{Line: d.Line, Rehearsal: true}
	}
	return first, err
}

// head reads the schema head the rehearsal reached and compares it with
// the profile's for the hop.
func (s *rehearseStep) head(ctx context.Context, sc scratchCopy, sink steps.Sink) (string, error) {
	e := s.env
	tool := e.Profile.Schema.Tool
	sql, ok := pg.HeadSQL(tool)
	if !ok {
		sink.Log("the schema head of a " + tool + " app is not read on the scratch copy; the real run's verify checks it")
		return "", nil
	}
	out, err := sc.Query(ctx, e.Start.DB.Params.Database, sql)
	if err != nil {
		// The migration passed; only reading its head failed (the app's own
		// database name or role differs from the DB service's): the real
		// run's verify checks the head.
		sink.Log("⚠ the migration passed, but its schema head could not be read on the scratch copy (" + firstLine(err.Error()) + "); the real run's verify checks it")
		return "", nil
	}
	head := strings.Join(strings.Fields(out), ",")
	want := e.Profile.ExpectedHead(s.hop)
	if want != "" && head != want {
		got := head
		if got == "" {
			got = "none"
		}
		return head, fmt.Errorf("the migration ended without an error, but the schema head on the scratch copy is %s where %s expects %s", got, s.hop, want)
	}
	return head, nil
}

// errNotRehearsable: this migration cannot be rehearsed (nothing tells
// when it is done); the hop goes on unrehearsed, said so.
type errNotRehearsable struct{ why string }

func (e errNotRehearsable) Error() string { return e.why }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
