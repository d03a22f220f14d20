package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/steps"
	"github.com/seed-e7a9fb3b/upshift/tui"
)

// wizardEngine maps the engine's results to the TUI's view-models. The TUI
// never sees Docker or PostgreSQL; the decisions stay in engine.
type wizardEngine struct {
	f *stackFlags

	mu   sync.Mutex
	sess *engine.Session
	pl   *engine.Planned
	// detached: the terminal went away (SIGHUP) during a run, which then
	// finishes unattended; a cancel that follows the hang-up is ignored.
	detached chan struct{}
	once     sync.Once
}

var _ tui.Engine = (*wizardEngine)(nil)

func (w *wizardEngine) session(ctx context.Context) (*engine.Session, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sess != nil {
		return w.sess, nil
	}
	s, err := w.f.open(ctx)
	if err != nil {
		return nil, err
	}
	w.sess = s
	return s, nil
}

func (w *wizardEngine) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sess.Close()
	w.sess = nil
}

func (w *wizardEngine) Detect(ctx context.Context) (tui.Overview, error) {
	s, err := w.session(ctx)
	if err != nil {
		return tui.Overview{}, err
	}
	r := s.Det.Report
	ov := tui.Overview{
		Project: r.Project, Dir: r.Dir, App: r.App, Profile: r.Profile, Version: r.Version, VersionSource: r.VersionSource,
		DBEngine: r.DB.Engine, DBVersion: r.DB.ServerVersion, DBSize: human.Bytes(r.DB.SizeBytes),
		SchemaTool: r.Schema.Tool, SchemaHead: r.Schema.Head, SchemaDirty: r.Schema.Dirty,
		Warnings: r.Warnings,
	}
	for _, sv := range r.Services {
		ov.Services = append(ov.Services, tui.ServiceRow{Name: sv.Name, Role: sv.Role, Image: sv.Image, State: sv.State, Health: sv.Health, Restarts: sv.RestartCount})
	}
	return ov, nil
}

func (w *wizardEngine) Targets(ctx context.Context) ([]tui.Target, error) {
	s, err := w.session(ctx)
	if err != nil {
		return nil, err
	}
	ts, err := s.Targets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]tui.Target, 0, len(ts))
	for _, t := range ts {
		out = append(out, tui.Target{Version: t.Version, Current: t.Current, Latest: t.Latest, RequiredStop: t.RequiredStop, Blocked: t.Blocked})
	}
	return out, nil
}

func (w *wizardEngine) Plan(ctx context.Context, to string) (tui.PlanView, error) {
	s, err := w.session(ctx)
	if err != nil {
		return tui.PlanView{}, err
	}
	pl, err := s.Plan(ctx, to, engine.PlanOptions{})
	if err != nil {
		return tui.PlanView{}, err
	}
	w.mu.Lock()
	w.pl = pl
	w.mu.Unlock()
	est := pl.Estimate(ctx)
	pv := tui.PlanView{
		From: pl.Path.From, To: pl.Path.To, Blocked: pl.Path.Blocked, Blockers: pl.Path.Blockers, Steps: engine.Infos(pl.Plan),
		BackupDir: pl.Env.BackupDir, BackupEstimate: est.BackupBytes, ExpectedDowntime: est.Downtime, Notices: pl.Notices,
	}
	for _, h := range pl.Path.Hops {
		hv := tui.HopView{Version: h.Version, RequiredStop: h.RequiredStop, Reason: h.Reason}
		for _, wr := range h.Warnings {
			hv.Warnings = append(hv.Warnings, tui.WarningView{Kind: string(wr.Kind), Text: unwrap(wr.Text)})
		}
		for _, a := range h.ManualActions {
			hv.Warnings = append(hv.Warnings, tui.WarningView{Kind: string(releases.KindManualAction), Text: a})
		}
		var md strings.Builder
		for _, n := range h.Notes {
			md.WriteString(n.Body + "\n\n")
		}
		hv.NotesMarkdown = md.String()
		pv.Hops = append(pv.Hops, hv)
	}
	for _, c := range s.Checks(ctx, est) {
		pv.Preconditions = append(pv.Preconditions, tui.Precondition{Name: c.Name, OK: c.OK, Detail: c.Detail})
	}
	return pv, nil
}

func (w *wizardEngine) isDetached() bool {
	select {
	case <-w.detached:
		return true
	default:
		return false
	}
}

// Run executes the planned upgrade for the TUI. The hang-up policy: when
// the terminal goes away the run detaches from the TUI and finishes
// unattended (confirmations yes, optional steps and consents no), its
// events still journaled and logged; `upshift history` tells the outcome.
func (w *wizardEngine) Run(ctx context.Context, to string, events chan<- steps.Event, decisions <-chan steps.Decision) {
	defer close(events)
	w.once.Do(func() { w.detached = make(chan struct{}) })
	send := func(ev steps.Event) {
		if w.isDetached() {
			return
		}
		select {
		case events <- ev:
		case <-ctx.Done():
		case <-w.detached:
		}
	}
	fail := func(err error) {
		send(steps.Event{Kind: steps.EventDone, Time: time.Now(), Result: &steps.Result{Outcome: steps.OutcomeFailed, To: to, Error: err.Error(), Message: err.Error() + ". Nothing was changed."}})
	}
	s, err := w.session(ctx)
	if err != nil {
		fail(err)
		return
	}
	w.mu.Lock()
	pl := w.pl
	w.mu.Unlock()
	if pl == nil || pl.Path.To != to {
		if pl, err = s.Plan(ctx, to, engine.PlanOptions{}); err != nil {
			fail(err)
			return
		}
	}
	logf, err := w.f.logTo()
	if err != nil {
		fail(err)
		return
	}
	if logf != nil {
		defer func() { _ = logf.Close() }()
	}
	// The run's own context: the TUI's cancel reaches it, unless the
	// terminal went away (then the TUI ends, and its cancel must not).
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
		case <-rctx.Done():
			return
		}
		// A hang-up and the TUI's end come together: give the signal a
		// moment to arrive before treating the end as a cancel.
		select {
		case <-w.detached:
		case <-time.After(2 * time.Second):
			if !w.isDetached() {
				cancel()
			}
		}
	}()
	unattended := engine.Unattended(false)
	o := engine.RunOptions{
		What: "upshift wizard",
		Emit: send,
		Decide: func(dctx context.Context, ev steps.Event) (steps.Decision, error) {
			for {
				if w.isDetached() {
					return detachedDecision(dctx, ev, unattended)
				}
				select {
				case d := <-decisions:
					if d.Step == ev.Step || d.Step == "" {
						return d, nil
					}
				case <-w.detached:
				case <-dctx.Done():
					return steps.Decision{Step: ev.Step}, dctx.Err()
				}
			}
		},
		OnHangup: func() {
			close(w.detached)
		},
	}
	if logf != nil {
		o.LogFile = logf
	}
	_, err = s.Upgrade(rctx, pl, o)
	if err != nil {
		fail(err)
	}
	// The detection is stale after a run.
	w.mu.Lock()
	w.pl = nil
	w.sess.Close()
	w.sess = nil
	w.mu.Unlock()
}

// detachedDecision answers for an admin whose terminal went away: the run
// goes on (yes), an optional step is skipped, a consent is refused.
func detachedDecision(ctx context.Context, ev steps.Event, unattended engine.Decider) (steps.Decision, error) {
	if ev.Consent {
		return steps.Decision{Step: ev.Step}, errors.New("the terminal went away before the changed documents were agreed to")
	}
	if ev.Optional {
		return steps.Decision{Step: ev.Step}, nil
	}
	return unattended(ctx, ev)
}

func runWizard(cmd *cobra.Command, f *stackFlags) error {
	if !isTerminal(os.Stdin) || !isTerminal(os.Stdout) {
		return usageError{errors.New("the wizard needs a terminal. Without one, use `upshift detect`, `upshift plan --to V` and `upshift upgrade --to V --yes`")}
	}
	eng := &wizardEngine{f: f}
	defer eng.close()
	res, err := tui.Run(cmd.Context(), eng, tui.Options{NoColor: f.noColor || os.Getenv("NO_COLOR") != ""}, os.Stdin, os.Stdout)
	if err != nil {
		return err
	}
	if res.Outcome == "" {
		return nil
	}
	return outcomeErr(res)
}

func newDemoWizardRun(cmd *cobra.Command, pgImage string) error {
	ctx := cmd.Context()
	dir, err := os.MkdirTemp("", "upshift-demo-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	dir, _ = filepath.Abs(dir)
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = eng.Close() }()
	errOut := cmd.ErrOrStderr()
	_, _ = fmt.Fprintf(errOut, "starting the demo stack in %s (1.0.0)…\n", dir)
	if _, err := demo.Up(ctx, eng, demo.StackOptions{Dir: dir, Version: "1.0.0", PostgresImage: pgImage, Project: demo.ProjectName("upshift-demo-" + filepath.Base(dir)[len("upshift-demo-"):])}, func(string) {}); err != nil {
		return err
	}
	f := &stackFlags{dir: dir}
	werr := runWizard(cmd, f)
	_, _ = fmt.Fprintf(errOut, "\nThe demo stack keeps running in %s.\n  look:    upshift detect --dir %s\n  remove:  upshift demo down --dir %s\n", dir, dir, dir)
	return werr
}

// unwrap joins the hard-wrapped lines of a release-note paragraph so the
// TUI can wrap it to the terminal; code blocks keep their lines.
func unwrap(text string) string {
	if strings.Contains(text, "```") {
		return text
	}
	paras := strings.Split(strings.TrimSpace(text), "\n\n")
	for i, p := range paras {
		paras[i] = strings.Join(strings.Fields(p), " ")
	}
	return strings.Join(paras, "\n\n")
}
