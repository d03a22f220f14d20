package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/seed-e7a9fb3b/upshift/steps"
	"github.com/seed-e7a9fb3b/upshift/upgrade"
)

// Decider answers a confirmation.
type Decider func(ctx context.Context, ev steps.Event) (steps.Decision, error)

// Unattended is --yes: every confirmation is approved except an agreement
// to a changed document (a EULA), which needs acceptTerms as well, and a
// migration error the app survived, which is rolled back unless
// acceptErrors (--accept-migration-errors) matches its line.
func Unattended(acceptTerms bool, acceptErrors *regexp.Regexp) Decider {
	return func(_ context.Context, ev steps.Event) (steps.Decision, error) {
		switch {
		case ev.Consent && !acceptTerms:
			return steps.Decision{Step: ev.Step}, errors.New("the new version changed a document you must agree to (shown above) and --yes does not agree for you: read it, then re-run with --yes --accept-terms, or without --yes to answer yourself")
		case ev.Doubt:
			// Roll back unless the admin said beforehand this error is fine.
			return steps.Decision{Step: ev.Step, Approve: acceptErrors != nil && acceptErrors.MatchString(ev.Line)}, nil
		}
		return steps.Decision{Step: ev.Step, Approve: true}, nil
	}
}

// RunOptions say how a run is watched and answered.
type RunOptions struct {
	// Emit receives every event, already redacted (the printer, the TUI).
	Emit func(steps.Event)
	// Decide answers confirmations; nil means nobody can answer (no TTY):
	// a confirmation ends the run (before any change) or rolls it back.
	Decide Decider
	// LogFile, when set, receives every event as a JSON line (--log-file).
	LogFile io.Writer
	// What names the run in the lock ("upshift upgrade --to 2.0.0").
	What string
	// OnHangup is called when the terminal goes away (SIGHUP). The run
	// carries on whatever it returns: a hang-up never ends a run.
	OnHangup func()
	// kind, set and dbHop are journaled so a resume knows what it resumes.
	kind, set string
	dbHop     *steps.DBHop
}

// Run executes plan from step start under the stack's lock, journaled
// (a new journal, or resume's when resuming), with the hang-up policy:
// SIGHUP is journaled and never ends the run, and a write to a closed
// pipe fails instead of killing upshift.
func (s *Session) Run(ctx context.Context, env *upgrade.Env, plan *steps.Plan, start int, resume *steps.RunState, hops []string, o RunOptions) (steps.Result, error) {
	lock, err := steps.AcquireLock(env.BackupDir, fmt.Sprintf("%s on %s", o.What, env.Project.Name))
	if err != nil {
		return steps.Result{}, err
	}
	defer lock.Release()
	// A scratch copy kept for a rehearsal that never ran (a step between
	// failed) goes with the run.
	defer env.DropScratch(ctx)
	var jour *steps.Journal
	if resume != nil {
		jour, err = steps.OpenJournal(resume.Path)
	} else {
		now := time.Now().UTC()
		jour, err = steps.NewJournal(env.BackupDir, steps.RunInfo{
			ID: now.Format("20060102-150405.000") + "-" + plan.To, Project: env.Project.Name, Dir: env.Dir(),
			Profile: env.Profile.Name, From: plan.From, To: plan.To, Hops: hops, Started: now,
			PID: os.Getpid(), Upshift: s.opts.Upshift, BackupDir: env.BackupDir,
			Kind: cmp.Or(o.kind, steps.KindUpgrade), Set: o.set,
			PostgresImage: s.opts.PostgresImage, PostgresMajor: s.opts.PostgresMajor, DBHop: o.dbHop,
			RollbackTo: string(env.RollbackTo), BackupAfterStop: env.BackupAfterStop, NoRehearsal: env.NoRehearsal,
			Templates: s.opts.Templates, EnvTemplates: s.opts.EnvTemplates,
		})
	}
	if err != nil {
		return steps.Result{}, err
	}
	defer func() { _ = jour.Close() }()
	env.Journal = jour
	// Every event in full, log lines included, next to the journal (which
	// keeps no log lines): a failure points at it.
	logPath := strings.TrimSuffix(jour.Path, ".jsonl") + ".log"
	runLog, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return steps.Result{}, fmt.Errorf("open the run's log %s: %w", logPath, err)
	}
	defer func() { _ = runLog.Close() }()

	stop := hangupPolicy(jour, o.OnHangup)
	defer stop()

	var logMu sync.Mutex
	encs := []*json.Encoder{json.NewEncoder(runLog)}
	if o.LogFile != nil {
		encs = append(encs, json.NewEncoder(o.LogFile))
	}
	runner := &steps.Runner{
		LogPath: logPath,
		Emit: func(ev steps.Event) {
			logMu.Lock()
			for _, enc := range encs {
				_ = enc.Encode(ev)
			}
			logMu.Unlock()
			if o.Emit != nil {
				o.Emit(ev)
			}
		},
		Decide:  o.Decide,
		Redact:  env.Redactor(),
		Journal: jour,
	}
	res := runner.Run(ctx, plan, start)
	// The base backups unpacked next to the data directory are a data
	// directory's worth of disk each: they go with the run.
	env.Unstage(context.WithoutCancel(ctx), res)
	return res, nil
}

// hangupPolicy journals SIGHUP and lets the run go on; SIGPIPE is caught
// so that a write to a vanished SSH pipe returns an error instead of
// killing the process mid-migration.
func hangupPolicy(jour *steps.Journal, onHangup func()) (stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGPIPE)
	done := make(chan struct{})
	go func() {
		defer close(done)
		hung := false
		for sig := range sigs {
			if sig != syscall.SIGHUP || hung {
				continue
			}
			hung = true
			jour.Note("SIGHUP: the terminal went away; the run carries on (see upshift history / resume)")
			if onHangup != nil {
				onHangup()
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(sigs)
		<-done
	}
}
