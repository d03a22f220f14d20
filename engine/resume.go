package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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
}

// Resume prepares the interrupted run st for choice. For retry and continue
// it recomputes the path from the release notes and refuses when the hops
// differ from the journal's (the notes or the profile changed since), so a
// resumed run does exactly what the interrupted one would have, renames
// included.
func (s *Session) Resume(ctx context.Context, st *steps.RunState, choice Choice) (*Resumed, error) {
	env := s.NewEnv()
	env.RestoreAgreements(st.Agreements)
	var set *backup.Set
	if len(st.Backups) > 0 {
		var err error
		set, err = backup.Open(s.BackupDir(), st.Backups[0])
		if err != nil {
			return nil, err
		}
		env.SetRestorePoint(set)
		env.MarkChanged()
	}
	r := &Resumed{Env: env, State: st}
	if choice == Rollback {
		if set == nil {
			r.NoRestorePoint = true
			return r, nil
		}
		r.Plan = upgrade.RestorePlan(env, set, "rollback", false)
		r.Plan.RollsBack = true
		return r, nil
	}
	if st.RollingBack {
		return nil, fmt.Errorf("run %s was rolling back when it stopped, so the stack may be half-restored: going on with the upgrade from there is not safe. Nothing was changed. Finish the rollback with `upshift resume --rollback`", st.Info.ID)
	}
	pl, err := s.planFrom(ctx, st.Info.From, st.Info.To, PlanOptions{})
	if err != nil {
		return nil, fmt.Errorf("recompute the path of run %s: %w", st.Info.ID, err)
	}
	if got := hopVersions(pl.Path); !slices.Equal(got, st.Info.Hops) {
		return nil, fmt.Errorf("the path %s → %s is now %s, but the interrupted run went %s (the release notes or the profile changed since). Nothing was changed. Roll back with `upshift resume --rollback`, then plan again", st.Info.From, st.Info.To, strings.Join(got, " → "), strings.Join(st.Info.Hops, " → "))
	}
	// The plan is rebuilt on this env: restore point and agreements stay.
	r.Hops = hopsOf(pl.Path)
	r.Plan = upgrade.Build(env, st.Info.From, r.Hops)
	r.Start = r.Plan.IndexOf(st.Failed)
	if r.Start < 0 {
		r.Start = 0
	}
	if choice == Continue {
		r.Start++
	}
	return r, nil
}

func hopVersions(p releases.Path) []string {
	out := make([]string, 0, len(p.Hops))
	for _, h := range p.Hops {
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
