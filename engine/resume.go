package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/steps"
	"github.com/seed-e7a9fb3b/upshift/upgrade"
)

// Choice is what resume does with an interrupted run.
type Choice string

// The choices of resume.
const (
	Retry    Choice = "retry"    // run the interrupted step again, then go on
	Continue Choice = "continue" // go on after the interrupted step
	Rollback Choice = "rollback" // restore the run's restore point
)

// History lists the journaled runs of the stack, newest first.
func (s *Session) History() ([]*steps.RunState, error) {
	return steps.History(s.BackupDir())
}

// Unfinished is the newest run when it did not end cleanly (nil when the
// newest run finished: an older unfinished one was superseded).
func (s *Session) Unfinished() (*steps.RunState, error) {
	runs, err := s.History()
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, nil
	}
	if r := runs[0]; r.Interrupted || r.Result.Outcome == steps.OutcomeFailed {
		return r, nil
	}
	return nil, nil
}

// Resumed is an interrupted run made ready to go on.
type Resumed struct {
	Env   *upgrade.Env
	Plan  *steps.Plan
	Start int // index of the first step to run
	Hops  []upgrade.Hop
	State *steps.RunState
	// NoRestorePoint: a rollback was asked for, but the run stopped before
	// it changed anything; there is nothing to do.
	NoRestorePoint bool
	// Notices are what resume did on its own (stale replication slots dropped).
	Notices []string
	// NothingToUndo: a rollback to the last good version was asked for,
	// and the run stopped right after verifying this version: it runs.
	NothingToUndo string
}

// Resume prepares the interrupted run st for choice. For retry and continue
// it recomputes the path from the release notes and refuses when the hops
// differ from the journal's (the notes or the profile changed since), so a
// resumed run does exactly what the interrupted one would have, renames
// included.
func (s *Session) Resume(ctx context.Context, st *steps.RunState, choice Choice) (*Resumed, error) {
	// What the run was told (where to roll back to, the offline template
	// directories), unless this resume says otherwise.
	s.opts.RollbackTo = cmp.Or(s.opts.RollbackTo, st.Info.RollbackTo)
	s.opts.Templates = cmp.Or(s.opts.Templates, st.Info.Templates)
	s.opts.EnvTemplates = cmp.Or(s.opts.EnvTemplates, st.Info.EnvTemplates)
	env := s.NewEnv()
	env.BackupAfterStop, env.NoRehearsal = st.Info.BackupAfterStop, st.Info.NoRehearsal
	env.RestoreAgreements(st.Agreements)
	if env.CleanupScratch != nil && s.Eng != nil {
		// The killed run may have left a scratch server (its owner is gone).
		_ = env.CleanupScratch(ctx)
	}
	var points []*backup.Set
	for _, id := range st.Backups {
		set, err := backup.Open(s.BackupDir(), id)
		if err != nil {
			return nil, fmt.Errorf("the restore point %s of run %s: %w. Nothing was changed", id, st.Info.ID, err)
		}
		points = append(points, set)
	}
	lastGood, changed := whereItStopped(st)
	if n := len(st.Backups); n > 0 {
		env.ResumeLateWrites(st.XIDs[st.Backups[n-1]])
	}
	r := &Resumed{Env: env, State: st}
	if s.Eng != nil && s.Det != nil && s.Det.Report.DB.Reachable {
		// A killed run's replication slot keeps WAL until the disk is full.
		// A retry keeps the one its newest restore point still needs.
		slotEnv := s.NewEnv()
		for _, p := range points {
			slotEnv.AddRestorePoint(p)
		}
		slotEnv.DropStaleSlots(ctx, choice != Rollback && st.Info.Kind == steps.KindUpgrade && !st.RollingBack, func(l string) { r.Notices = append(r.Notices, l) })
	}
	switch st.Info.Kind {
	case steps.KindRestore:
		// Whatever the choice, an interrupted restore is finished: run it
		// again from the start (each of its steps can run twice).
		if len(points) == 0 && st.Info.Set == "" {
			return nil, fmt.Errorf("run %s restored a backup set the journal does not name. Run `upshift restore ID` again", st.Info.ID)
		}
		set, err := backup.Open(s.BackupDir(), st.Info.Set)
		if err != nil {
			return nil, fmt.Errorf("the set of the interrupted restore: %w", err)
		}
		r.Plan = upgrade.RestorePlan(env, set, "restore", false)
		return r, nil
	case steps.KindRehearse:
		// A rehearsal changes nothing of the stack; its scratch server
		// went with the cleanup above.
		r.NoRestorePoint = true
		return r, nil
	case steps.KindBackup:
		if stopped(st) {
			r.Plan = upgrade.StartPlan(env, st.Info.From)
			r.Plan.RollsBack = true
			return r, nil
		}
		r.NoRestorePoint = true
		return r, nil
	}
	if choice == Rollback {
		for _, p := range points {
			env.AddRestorePoint(p)
		}
		env.ResumeAt(lastGood, changed || st.RollingBack)
		set := env.RestorePoint()
		switch {
		case set == nil && stopped(st):
			// Killed after the stop, before its backup (--backup-after-stop):
			// nothing else changed; the old version is started again.
			r.Plan = upgrade.StartPlan(env, lastGood)
			r.Plan.RollsBack = true
			return r, nil
		case set == nil:
			r.NoRestorePoint = true
			return r, nil
		case !changed && !st.RollingBack && env.RollbackTo != upgrade.RollbackStart:
			// Killed right after a verified hop: that version is the
			// last good one, and it runs.
			r.NothingToUndo = lastGood
			return r, nil
		}
		r.Plan = upgrade.RestorePlan(env, set, "rollback", false)
		r.Plan.RollsBack = true
		return r, nil
	}
	if st.RollingBack {
		return nil, fmt.Errorf("run %s was rolling back when it stopped, so the stack may be half-restored: going on with the upgrade from there is not safe. Nothing was changed. Finish the rollback with `upshift resume --rollback`", st.Info.ID)
	}
	// The run's PostgreSQL image, unless this resume names another.
	s.opts.PostgresImage = cmp.Or(s.opts.PostgresImage, st.Info.PostgresImage)
	if s.opts.PostgresMajor == 0 {
		s.opts.PostgresMajor = st.Info.PostgresMajor
	}
	pl, err := s.planFrom(ctx, st.Info.From, st.Info.To, PlanOptions{BackupAfterStop: st.Info.BackupAfterStop})
	if err != nil {
		return nil, fmt.Errorf("recompute the path of run %s: %w", st.Info.ID, err)
	}
	if h := st.Info.DBHop; h != nil && pl.Path.DBHop == nil && !slices.Equal(hopVersions(pl.Path), st.Info.Hops) {
		// The run's PostgreSQL hop is done (the server runs the new major,
		// so the path has none now) or cannot be planned without what the
		// run was told: it is the journal's.
		pl.Path.DBHop = &releases.DBHop{Before: h.Before, Engine: h.Engine, From: h.From, FromMajor: h.FromMajor, ToMajor: h.ToMajor, Image: h.Image}
	}
	if got := hopVersions(pl.Path); !slices.Equal(got, st.Info.Hops) {
		return nil, fmt.Errorf("the path %s → %s is now %s, but the interrupted run went %s (the release notes or the profile changed since). Nothing was changed. Roll back with `upshift resume --rollback`, then plan again", st.Info.From, st.Info.To, strings.Join(got, " → "), strings.Join(st.Info.Hops, " → "))
	}
	// The plan is rebuilt on this env: restore points and agreements stay.
	r.Hops = hopsOf(pl.Path)
	r.Plan = upgrade.Build(env, st.Info.From, r.Hops)
	r.Plan.Hint = hintFor(pl.Path)
	for _, p := range points {
		env.AddRestorePoint(p)
	}
	env.ResumeAt(lastGood, changed)
	r.Start = resumeIndex(r.Plan, st, choice)
	return r, nil
}

func hopVersions(p releases.Path) []string {
	out := make([]string, 0, len(p.Hops)+1)
	for _, h := range p.Hops {
		if d := p.DBHop; d != nil && d.Before == h.Version {
			// The PostgreSQL hop, by its step prefix (the journal keeps the
			// run's --postgres-image for the resume's path).
			out = append(out, upgrade.PostgresMajor{FromMajor: d.FromMajor, ToMajor: d.ToMajor}.HopID())
		}
		out = append(out, h.Version)
	}
	return out
}

// RestorePointOfLastRun is the restore point of the newest run that has
// one (`upshift rollback`).
func (s *Session) RestorePointOfLastRun() (*steps.RunState, *backup.Set, error) {
	runs, err := steps.History(s.BackupDir())
	if err != nil {
		return nil, nil, err
	}
	for _, r := range runs {
		if len(r.Backups) == 0 {
			continue
		}
		set, err := backup.Open(s.BackupDir(), r.Backups[0])
		if err != nil {
			return nil, nil, err
		}
		return r, set, nil
	}
	return nil, nil, errors.New("no upgrade run with a restore point in " + s.BackupDir() + ". Nothing was changed")
}

// whereItStopped reads a journal for the last version verified on the way
// (the run's start when none) and whether anything may have changed since.
func whereItStopped(st *steps.RunState) (lastGood string, changed bool) {
	lastGood = st.Info.From
	for _, id := range st.Started {
		hop, step, _ := strings.Cut(id, "/")
		switch {
		case step == "verify" && st.Finished[id] == steps.StatusOK && upgrade.IsPostgresHop(hop):
			changed = false // the server moved; the app version did not
		case step == "verify" && st.Finished[id] == steps.StatusOK && slices.Contains(st.Info.Hops, hop):
			lastGood, changed = hop, false
		case hop == "rollback" || hop == "restore":
			changed = true
		case step == "config" || step == "stop" || step == "migrate" || step == "start" || step == "restore":
			changed = true
		}
	}
	return lastGood, changed
}

// resumeIndex is the first step a resumed run runs: the interrupted one
// again (retry) or the one after it (continue); a run killed between two
// steps goes on after the last finished one, whatever the choice.
func resumeIndex(p *steps.Plan, st *steps.RunState, choice Choice) int {
	if i := p.IndexOf(st.Failed); st.Failed != "" && i >= 0 {
		// Continue skips only what an admin may have finished by hand (the
		// migration, the .env); every other step is run again, since
		// skipping it would leave the hop without its restore point, the
		// app stopped, or a version unverified.
		_, step, _ := strings.Cut(st.Failed, "/")
		if choice == Continue && (step == "migrate" || step == "config") {
			return i + 1
		}
		return i
	}
	last := -1
	for _, id := range st.Started {
		if st.Finished[id] != "" {
			if i := p.IndexOf(id); i > last {
				last = i
			}
		}
	}
	return last + 1
}

// Settle ends an interrupted run that a resume found nothing to do for, so
// that history stops calling it interrupted: its journal gets a final
// result saying where the stack is.
func (s *Session) Settle(st *steps.RunState, r *Resumed) (steps.Result, error) {
	res := steps.Result{Outcome: steps.OutcomeFailed, From: st.Info.From, To: st.Info.To, FailedStep: st.Failed}
	switch {
	case r.NothingToUndo != "":
		res.Reached, res.Partial = r.NothingToUndo, true
		res.Message = fmt.Sprintf("Interrupted right after %s was verified; resumed with a rollback to the last good version, which is %s itself: nothing was undone.", r.NothingToUndo, r.NothingToUndo)
	default:
		res.Reached, res.Unchanged = st.Info.From, true
		res.Message = "Interrupted before anything was changed; nothing to roll back. The stack still runs " + st.Info.From + "."
		res.Next = fmt.Sprintf("To upgrade, start again: upshift upgrade --to %s.", st.Info.To)
	}
	jour, err := steps.OpenJournal(st.Path)
	if err != nil {
		return res, err
	}
	if r.Env != nil {
		// A base backup the killed run unpacked next to the data directory.
		r.Env.Unstage(context.Background(), res)
		// A PostgreSQL hop's new volume or directory, never switched to.
		r.Env.DropUnswitchedPG(context.Background(), preparedMajors(st), func(l string) { r.Notices = append(r.Notices, l) })
	}
	jour.Note("resume: nothing to roll back")
	jour.Event(steps.Event{Kind: steps.EventDone, Time: time.Now(), Result: &res})
	if err := errors.Join(jour.Err(), jour.Close()); err != nil {
		return res, fmt.Errorf("close the journal of run %s: %w", st.Info.ID, err)
	}
	return res, nil
}

// preparedMajors are the majors of the PostgreSQL hops whose new server
// the run began to prepare.
func preparedMajors(st *steps.RunState) []int {
	var out []int
	for _, id := range st.Started {
		hop, step, _ := strings.Cut(id, "/")
		if n, ok := upgrade.PostgresHopMajor(hop); ok && step == "prepare" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// stopped reports whether the writers were stopped by the run and not
// started again (a stop step started after the last start that finished).
func stopped(st *steps.RunState) bool {
	down := false
	for _, id := range st.Started {
		hop, step, ok := strings.Cut(id, "/")
		if !ok {
			step = hop // the steps of `upshift backup` have no hop
		}
		switch {
		case step == "stop":
			down = true
		case step == "start" && st.Finished[id] == steps.StatusOK:
			down = false
		}
	}
	return down
}
