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

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/releases"
	semver "github.com/seed-e7a9fb3b/upshift/releases/version"
	"github.com/seed-e7a9fb3b/upshift/steps"
	"github.com/seed-e7a9fb3b/upshift/tui"
)

// wizardEngine adapts the real engine (detect, releases, steps) to the
// TUI's small interface. The TUI never sees Docker or PostgreSQL.
type wizardEngine struct {
	f *stackFlags

	mu   sync.Mutex
	sess *session
	pl   *planned
}

var _ tui.Engine = (*wizardEngine)(nil)

func (w *wizardEngine) session(ctx context.Context) (*session, error) {
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
	if w.sess != nil {
		w.sess.Close()
		w.sess = nil
	}
}

func (w *wizardEngine) Detect(ctx context.Context) (tui.Overview, error) {
	s, err := w.session(ctx)
	if err != nil {
		return tui.Overview{}, err
	}
	r := s.det.Report
	ov := tui.Overview{
		Project: r.Project, Dir: r.Dir, App: r.App, Profile: r.Profile, Version: r.Version, VersionSource: r.VersionSource,
		DBEngine: r.DB.Engine, DBVersion: r.DB.ServerVersion, DBSize: human(r.DB.SizeBytes),
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
	notes, err := w.f.notesFor(ctx, s.det)
	if err != nil {
		return nil, err
	}
	cur, err := semver.Parse(s.det.Report.Version)
	if err != nil {
		return nil, fmt.Errorf("the running version %q is not a version upshift can plan from", s.det.Report.Version)
	}
	var newer []semver.Version
	for _, n := range notes {
		v, err := semver.Parse(n.Version)
		if err == nil && cur.Less(v) && !v.IsPrerelease() {
			newer = append(newer, v)
		}
	}
	sortVersions(newer)
	db := releases.DBFacts{Engine: s.det.Report.DB.Engine, ServerVersion: s.det.Report.DB.ServerVersion}
	var latestPath releases.Path
	if len(newer) > 0 {
		latestPath, _ = releases.PlanPath(s.det.Profile, notes, s.det.Report.Version, newer[len(newer)-1].String(), db)
	}
	stops := map[string]bool{}
	for _, h := range latestPath.Hops {
		if h.RequiredStop {
			stops[h.Version] = true
		}
	}
	out := []tui.Target{{Version: s.det.Report.Version, Current: true}}
	latestOK := ""
	for _, v := range newer {
		t := tui.Target{Version: v.String(), RequiredStop: stops[v.String()]}
		if p, err := releases.PlanPath(s.det.Profile, notes, s.det.Report.Version, v.String(), db); err != nil {
			t.Blocked = err.Error()
		} else if p.Blocked {
			t.Blocked = strings.Join(p.Blockers, "; ")
		} else {
			latestOK = t.Version
		}
		out = append(out, t)
	}
	for i := range out {
		out[i].Latest = out[i].Version == latestOK
	}
	return out, nil
}

func sortVersions(vs []semver.Version) {
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && vs[j].Less(vs[j-1]); j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}

func (w *wizardEngine) Plan(ctx context.Context, to string) (tui.PlanView, error) {
	s, err := w.session(ctx)
	if err != nil {
		return tui.PlanView{}, err
	}
	pl, err := w.f.planTo(ctx, s, to)
	if err != nil {
		return tui.PlanView{}, err
	}
	w.mu.Lock()
	w.pl = pl
	w.mu.Unlock()
	pv := tui.PlanView{From: pl.path.From, To: pl.path.To, Blocked: pl.path.Blocked, Blockers: pl.path.Blockers, Steps: stepInfos(pl.plan), BackupDir: pl.env.BackupDir}
	for _, h := range pl.path.Hops {
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
	r := s.det.Report
	pv.Preconditions = append(pv.Preconditions,
		tui.Precondition{Name: "Docker engine reachable", OK: true, Detail: "connected"},
		tui.Precondition{Name: "database reachable", OK: r.DB.Reachable, Detail: firstNonEmpty(r.DB.Error, r.DB.Engine+" "+r.DB.ServerVersion)},
		tui.Precondition{Name: "no dirty migration", OK: !r.Schema.Dirty, Detail: r.Schema.Tool + " " + r.Schema.Head},
	)
	if v, err := dockerx.ComposeVersion(ctx); err != nil {
		pv.Preconditions = append(pv.Preconditions, tui.Precondition{Name: "docker compose v2", OK: false, Detail: err.Error()})
	} else {
		pv.Preconditions = append(pv.Preconditions, tui.Precondition{Name: "docker compose v2", OK: true, Detail: v})
	}
	pv.BackupEstimate = r.DB.SizeBytes
	if err := backup.CheckFreeSpace(pl.env.BackupDir, pv.BackupEstimate); err != nil {
		pv.Preconditions = append(pv.Preconditions, tui.Precondition{Name: "free space for the backup", OK: false, Detail: err.Error()})
	} else {
		pv.Preconditions = append(pv.Preconditions, tui.Precondition{Name: "free space for the backup", OK: true, Detail: "about " + human(pv.BackupEstimate) + " needed"})
	}
	// Downtime per hop: stop, migration and start; a rough figure from the
	// database size (the migration rewrites at most the whole database).
	per := 10*time.Second + time.Duration(r.DB.SizeBytes/(50<<20))*time.Second
	pv.ExpectedDowntime = per * time.Duration(len(pl.path.Hops))
	return pv, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (w *wizardEngine) Run(ctx context.Context, to string, events chan<- steps.Event, decisions <-chan steps.Decision) {
	defer close(events)
	send := func(ev steps.Event) {
		select {
		case events <- ev:
		case <-ctx.Done():
		}
	}
	fail := func(err error) {
		send(steps.Event{Kind: steps.EventDone, Time: time.Now(), Result: &steps.Result{Outcome: steps.OutcomeFailed, To: to, Error: err.Error(), Message: err.Error() + ". Nothing was changed."}})
	}
	w.mu.Lock()
	pl := w.pl
	w.mu.Unlock()
	if pl == nil || pl.path.To != to {
		s, err := w.session(ctx)
		if err != nil {
			fail(err)
			return
		}
		if pl, err = w.f.planTo(ctx, s, to); err != nil {
			fail(err)
			return
		}
	}
	lock, err := steps.AcquireLock(pl.env.BackupDir, "upshift wizard on "+pl.env.Project.Name)
	if err != nil {
		fail(err)
		return
	}
	defer lock.Release()
	hv := make([]string, 0, len(pl.path.Hops))
	for _, h := range pl.path.Hops {
		hv = append(hv, h.Version)
	}
	jour, err := steps.NewJournal(pl.env.BackupDir, steps.RunInfo{
		ID: time.Now().UTC().Format("20060102-150405") + "-" + pl.plan.To, Project: pl.env.Project.Name, Dir: pl.env.Dir(),
		Profile: pl.env.Profile.Name, From: pl.plan.From, To: pl.plan.To, Hops: hv, Started: time.Now().UTC(),
		PID: os.Getpid(), Upshift: version, BackupDir: pl.env.BackupDir,
	})
	if err != nil {
		fail(err)
		return
	}
	defer func() { _ = jour.Close() }()
	pl.env.Journal = jour
	logf, err := w.f.logTo()
	if err != nil {
		fail(err)
		return
	}
	defer func() { _ = logf.Close() }()
	logPrinter := newJSONPrinter(logf)
	runner := &steps.Runner{
		Emit:    func(ev steps.Event) { logPrinter.Emit(ev); send(ev) },
		Redact:  pl.env.Redactor(),
		Journal: jour,
		Decide: func(ctx context.Context, ev steps.Event) (steps.Decision, error) {
			for {
				select {
				case d := <-decisions:
					if d.Step == ev.Step || d.Step == "" {
						return d, nil
					}
				case <-ctx.Done():
					return steps.Decision{Step: ev.Step}, ctx.Err()
				}
			}
		},
	}
	runner.Run(ctx, pl.plan, 0)
	// The detection is stale after a run.
	w.mu.Lock()
	w.pl = nil
	if w.sess != nil {
		w.sess.Close()
		w.sess = nil
	}
	w.mu.Unlock()
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
