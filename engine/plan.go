package engine

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	semver "github.com/seed-e7a9fb3b/upshift/releases/version"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/steps"
	"github.com/seed-e7a9fb3b/upshift/upgrade"
)

// Planned is a path through the release notes and the plan that walks it.
type Planned struct {
	Path releases.Path
	Env  *upgrade.Env
	Plan *steps.Plan
	Hops []upgrade.Hop // what each hop installs and renames
	// Notices are what the release-notes source said (stale, incomplete).
	Notices []string
	// RestorePoint says what each hop's restore point will be and what a
	// rollback to it loses ("" when not known: no database reached).
	RestorePoint string
}

// PlanOptions tune a plan.
type PlanOptions struct {
	BackupAfterStop bool
}

// Plan computes the path from the running version to `to` and the steps
// of every hop. It changes nothing.
func (s *Session) Plan(ctx context.Context, to string, o PlanOptions) (*Planned, error) {
	rep := s.Det.Report
	if strings.HasPrefix(rep.Version, "unknown") {
		return nil, fmt.Errorf("the running version is %s, so no upgrade path can be computed. Nothing was changed. Fix: start the stack so its version endpoint answers, pin the image to a version tag, or pass --from VERSION", rep.Version)
	}
	pl, err := s.planFrom(ctx, rep.Version, to, o)
	if err != nil || s.Eng == nil || !rep.DB.Reachable {
		return pl, err
	}
	if !steps.Locked(s.BackupDir()) {
		// No upshift runs on the stack: its replication slots are a killed run's.
		pl.Env.DropStaleSlots(ctx, false, func(l string) { pl.Notices = append(pl.Notices, l) })
	}
	pl.RestorePoint = pl.Env.PhysicalNote(ctx)
	return pl, nil
}

func (s *Session) planFrom(ctx context.Context, from, to string, o PlanOptions) (*Planned, error) {
	if err := s.plannable(); err != nil {
		return nil, err
	}
	notes, notices, synthetic, err := s.planNotes(ctx, from, to) // offline.go
	if err != nil {
		return nil, err
	}
	rep := s.Det.Report
	var path releases.Path
	if semver.Same(from, to) {
		// Already there: nothing to do, which is not an error (a fleet run
		// twice reports "ok").
		path = releases.Path{From: from, To: to}
	} else if path, err = releases.PlanPath(s.Det.Profile, notes, from, to, releases.DBFacts{Engine: rep.DB.Engine, ServerVersion: rep.DB.ServerVersion}); err != nil {
		return nil, err
	}
	if synthetic {
		markNoNotes(&path)
	}
	inAppForm(s.Det.Profile, notes, &path)
	notices = append(append([]string(nil), notices...), s.planDBHop(ctx, &path)...) // pgmajor.go
	env := s.NewEnv()
	env.BackupAfterStop = o.BackupAfterStop
	hops := hopsOf(path)
	plan := upgrade.Build(env, from, hops)
	plan.Hint = hintFor(path)
	notices = append(append([]string(nil), notices...), env.Assumptions()...)
	return &Planned{Path: path, Env: env, Plan: plan, Hops: hops, Notices: notices}, nil
}

// hopsOf is the only place the .env renames of a hop are derived: the path
// already folds the profile's renames and the notes' into each hop.
func hopsOf(p releases.Path) []upgrade.Hop {
	out := make([]upgrade.Hop, 0, len(p.Hops))
	for _, h := range p.Hops {
		uh := upgrade.Hop{Version: h.Version}
		for _, r := range h.Renames {
			uh.Renames = append(uh.Renames, envfile.Rename{From: r.From, To: r.To})
		}
		out = append(out, uh)
	}
	return withDBHop(p, out)
}

// Infos lists the steps of a plan for people.
func Infos(p *steps.Plan) []steps.StepInfo {
	out := make([]steps.StepInfo, 0, len(p.Steps))
	for _, st := range p.Steps {
		out = append(out, st.Info())
	}
	return out
}

// Estimate is what a plan will need and cost, computed once for the plan
// screen, `plan` and the preflight step alike.
type Estimate struct {
	BackupBytes int64         // size of the restore point
	BackupErr   error         // the backup cannot be sized (why)
	FreeErr     error         // not enough free space (why)
	Downtime    time.Duration // rough: stop, migration and start per hop
	// Rehearsal says whether each migration is rehearsed first (and its
	// time measured); Measured, when the rehearsals ran, is the downtime
	// with their measured migration times.
	Rehearsal bool
	Measured  time.Duration
	// NotEstimated: planned offline, nothing could be sized.
	NotEstimated bool
}

// Estimate sizes the restore point as the preflight step does, checks the
// free space, and guesses the downtime.
func (p *Planned) Estimate(ctx context.Context) Estimate {
	var e Estimate
	e.BackupBytes, e.BackupErr = p.Env.BackupEstimate(ctx)
	if e.BackupErr == nil {
		e.FreeErr = p.Env.Backups.CheckFreeSpace(p.Env.BackupDir, e.BackupBytes)
	}
	// The migration rewrites at most the whole database.
	db := p.Env.Start.Report.DB.SizeBytes
	per := 10*time.Second + time.Duration(db/(50<<20))*time.Second
	if p.Env.BackupAfterStop {
		per += time.Duration(e.BackupBytes/(100<<20)) * time.Second
	}
	e.Downtime = per * time.Duration(len(p.Path.Hops))
	e.Rehearsal = p.Env.WillRehearse()
	if p.Path.DBHop != nil {
		// Dump, restore and compare every database with the app stopped.
		e.Downtime += per + time.Duration(db/(20<<20))*time.Second
	}
	if rs := p.Env.Rehearsals(); len(rs) > 0 {
		e.Measured = p.Env.RehearsalTime() + upgrade.StopStartTime*time.Duration(len(p.Path.Hops))
	}
	return e
}

// Problems are the estimate's findings that would stop the preflight.
func (e Estimate) Problems() []string {
	var out []string
	if e.BackupErr != nil {
		out = append(out, "the backup cannot be sized: "+e.BackupErr.Error())
	}
	if e.FreeErr != nil {
		out = append(out, e.FreeErr.Error())
	}
	return out
}

// Check is one precondition of a plan, as the plan screen lists it.
type Check struct {
	Name   string
	OK     bool
	Detail string
}

// Checks are the plan's preconditions: the same facts preflight will check
// (engine, compose, database, schema, the one backup estimate).
func (s *Session) Checks(ctx context.Context, est Estimate) []Check {
	r := s.Det.Report
	dbDetail := r.DB.Error
	if dbDetail == "" {
		dbDetail = r.DB.Engine + " " + r.DB.ServerVersion
	}
	out := []Check{
		{Name: "Docker engine reachable", OK: true, Detail: "connected"},
		{Name: "database reachable", OK: r.DB.Reachable, Detail: dbDetail},
		{Name: "no dirty migration", OK: !r.Schema.Dirty, Detail: r.Schema.Tool + " " + r.Schema.Head},
	}
	if v, err := dockerx.ComposeVersion(ctx); err != nil {
		out = append(out, Check{Name: "docker compose v2", Detail: err.Error()})
	} else {
		out = append(out, Check{Name: "docker compose v2", OK: true, Detail: v})
	}
	switch {
	case est.BackupErr != nil:
		out = append(out, Check{Name: "free space for the backup", Detail: "cannot size the backup: " + est.BackupErr.Error()})
	case est.FreeErr != nil:
		out = append(out, Check{Name: "free space for the backup", Detail: est.FreeErr.Error()})
	default:
		out = append(out, Check{Name: "free space for the backup", OK: true, Detail: "about " + human.Bytes(est.BackupBytes) + " needed"})
	}
	return out
}

// hintFor points a failure at what the path's release notes ask of the
// admin for that hop: the breaking change or manual action that shares the
// most telling words with the failure (at least two), first line only.
func hintFor(path releases.Path) func(steps.StepInfo, string) string {
	return func(info steps.StepInfo, failure string) string {
		want := words(failure)
		best, score := "", 1
		for _, h := range path.Hops {
			if h.Version != info.Hop {
				continue
			}
			var texts []string
			for _, w := range h.Warnings {
				if w.Kind == releases.KindBreaking || w.Kind == releases.KindManualAction {
					texts = append(texts, w.Text)
				}
			}
			texts = append(texts, h.ManualActions...)
			for _, t := range texts {
				n := 0
				for w := range words(t) {
					if want[w] {
						n++
					}
				}
				if n > score {
					best, score = t, n
				}
			}
		}
		best = strings.Join(strings.Fields(best), " ")
		if len(best) > 400 {
			best = best[:400] + "…"
		}
		return best
	}
}

// words are the lower-cased words of five letters or more in s.
func words(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && r != '_' }) {
		if len([]rune(w)) >= 5 {
			out[strings.TrimSuffix(w, "s")] = true
		}
	}
	return out
}
