// Package wizard adapts the engine to the TUI: it maps the engine's
// session, plan and run to the view-models of package tui, and applies the
// hang-up policy to a run the TUI started. It decides nothing.
package wizard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/steps"
	"github.com/seed-e7a9fb3b/upshift/tui"
)

// New is the wizard's engine on the stack opts names; logFile is --log-file.
func New(opts engine.Options, logFile string) *Engine {
	return &Engine{opts: opts, logFile: logFile}
}

// Engine maps the engine's results to the TUI's view-models. The TUI
// never sees Docker or PostgreSQL; the decisions stay in engine.
type Engine struct {
	opts    engine.Options
	logFile string // --log-file: every event as a JSON line

	mu   sync.Mutex
	sess *engine.Session
	pl   *engine.Planned
	// detached: the terminal went away (SIGHUP) during a run, which then
	// finishes unattended; a cancel that follows the hang-up is ignored.
	detached chan struct{}
	once     sync.Once
}

var _ tui.Engine = (*Engine)(nil)

func (w *Engine) session(ctx context.Context) (*engine.Session, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sess != nil {
		return w.sess, nil
	}
	s, err := engine.Open(ctx, w.opts)
	if err != nil {
		return nil, err
	}
	w.sess = s
	return s, nil
}

// Close ends the session.
func (w *Engine) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sess.Close()
	w.sess = nil
}

func (w *Engine) Detect(ctx context.Context) (tui.Overview, error) {
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

func (w *Engine) Targets(ctx context.Context) ([]tui.Target, error) {
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

func (w *Engine) Plan(ctx context.Context, to string) (tui.PlanView, error) {
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
	return planView(pl, est, s.Checks(ctx, est)), nil
}

// planView maps a plan, its estimate and its checks to the plan screen.
func planView(pl *engine.Planned, est engine.Estimate, checks []engine.Check) tui.PlanView {
	pv := tui.PlanView{
		From: pl.Path.From, To: pl.Path.To, Blocked: pl.Path.Blocked, Blockers: pl.Path.Blockers, Steps: engine.Infos(pl.Plan),
		BackupDir: pl.Env.BackupDir, BackupEstimate: est.BackupBytes, ExpectedDowntime: est.Downtime, Notices: pl.Notices,
	}
	for _, h := range pl.Path.Hops {
		if d := pl.Path.DBHop; d != nil && d.Before == h.Version {
			// The database server's own hop, with what it does as its notes.
			pv.Hops = append(pv.Hops, tui.HopView{Version: d.Title(), Reason: "the database server", NotesMarkdown: "# " + d.Title() + "\n\n" + d.Explain() + "\n"})
		}
		hv := tui.HopView{Version: h.Version, RequiredStop: h.RequiredStop, Reason: h.Reason}
		// Headlines, grouped per note section: the admin acknowledges a
		// group at once; low-confidence ones are shown apart.
		for _, g := range releases.Group(h.Warnings) {
			for _, wr := range g.Warnings {
				hv.Warnings = append(hv.Warnings, tui.WarningView{Kind: string(wr.Kind), Text: unwrap(wr.Text), Headline: wr.Headline, Group: g.Title(), Low: g.Low})
			}
		}
		for _, a := range h.ManualActions {
			hv.Warnings = append(hv.Warnings, tui.WarningView{Kind: string(releases.KindManualAction), Text: a, Group: h.Version + " · upgrade rules of the profile"})
		}
		var md strings.Builder
		for _, n := range h.Notes {
			md.WriteString(n.Body + "\n\n")
		}
		hv.NotesMarkdown = md.String()
		pv.Hops = append(pv.Hops, hv)
	}
	for _, c := range checks {
		pv.Preconditions = append(pv.Preconditions, tui.Precondition{Name: c.Name, OK: c.OK, Detail: c.Detail})
	}
	return pv
}

func (w *Engine) isDetached() bool {
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
func (w *Engine) Run(ctx context.Context, to string, events chan<- steps.Event, decisions <-chan steps.Decision) {
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
	var logf *os.File
	if w.logFile != "" {
		if logf, err = os.OpenFile(w.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			fail(fmt.Errorf("open --log-file: %w", err))
			return
		}
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
	unattended := engine.Unattended(false, nil)
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
