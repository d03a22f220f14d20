package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// planned is a path and the engine plan that walks it.
type planned struct {
	path releases.Path
	env  *steps.Env
	plan *steps.Plan
}

func (f *stackFlags) planTo(ctx context.Context, sess *session, to string) (*planned, error) {
	return f.planWith(ctx, sess, to, false)
}

func (f *stackFlags) planWith(ctx context.Context, sess *session, to string, backupAfterStop bool) (*planned, error) {
	det := sess.det
	rep := det.Report
	if strings.HasPrefix(rep.Version, "unknown") {
		return nil, fmt.Errorf("the running version is %s, so no upgrade path can be computed. Nothing was changed. Fix: start the stack so its version endpoint answers, or pin the image to a version tag", rep.Version)
	}
	notes, err := f.notesFor(ctx, det)
	if err != nil {
		return nil, err
	}
	path, err := releases.PlanPath(det.Profile, notes, rep.Version, to, releases.DBFacts{Engine: rep.DB.Engine, ServerVersion: rep.DB.ServerVersion})
	if err != nil {
		return nil, err
	}
	env := f.newEnv(sess)
	env.BackupAfterStop = backupAfterStop
	hops := make([]steps.Hop, 0, len(path.Hops))
	for _, h := range path.Hops {
		sh := steps.Hop{Version: h.Version}
		for _, r := range h.Renames {
			sh.Renames = append(sh.Renames, envfile.Rename{From: r.From, To: r.To})
		}
		for _, r := range det.Profile.Renames {
			if r.Version == h.Version || inHop(path, h.Version, r.Version) {
				sh.Renames = appendRename(sh.Renames, envfile.Rename{From: r.From, To: r.To})
			}
		}
		hops = append(hops, sh)
	}
	return &planned{path: path, env: env, plan: steps.BuildPlan(env, rep.Version, hops)}, nil
}

// inHop reports whether version v is folded into the hop that ends at hopEnd.
func inHop(p releases.Path, hopEnd, v string) bool {
	for _, h := range p.Hops {
		if h.Version != hopEnd {
			continue
		}
		for _, n := range h.Notes {
			if n.Version == v {
				return true
			}
		}
	}
	return false
}

func appendRename(rs []envfile.Rename, r envfile.Rename) []envfile.Rename {
	for _, x := range rs {
		if x == r {
			return rs
		}
	}
	return append(rs, r)
}

func newPlanCmd() *cobra.Command {
	var f stackFlags
	var to string
	cmd := &cobra.Command{
		Use:   "plan --to VERSION",
		Short: "Show the upgrade path: versions, required stops, breaking changes, steps (changes nothing)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return usageError{errors.New("--to VERSION is required (or --to latest)")}
			}
			ctx := cmd.Context()
			sess, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer sess.Close()
			pl, err := f.planTo(ctx, sess, to)
			if err != nil {
				return err
			}
			if f.jsonOut {
				out := struct {
					releases.Path
					Steps []steps.StepInfo `json:"steps"`
				}{Path: pl.path, Steps: stepInfos(pl.plan)}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return wrapWrite(enc.Encode(out))
			}
			printPlan(cmd.OutOrStdout(), pl)
			if pl.path.Blocked {
				return &exitError{code: exitFailure, err: fmt.Errorf("the upgrade to %s is blocked: %s", pl.path.To, strings.Join(pl.path.Blockers, "; "))}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "target version (or latest)")
	return cmd
}

func stepInfos(p *steps.Plan) []steps.StepInfo {
	out := make([]steps.StepInfo, 0, len(p.Steps))
	for _, s := range p.Steps {
		out = append(out, s.Info())
	}
	return out
}

func printPlan(w io.Writer, pl *planned) {
	p := pl.path
	_, _ = fmt.Fprintf(w, "upgrade %s → %s\n", p.From, p.To)
	if p.Blocked {
		_, _ = fmt.Fprintln(w, "BLOCKED:")
		for _, b := range p.Blockers {
			_, _ = fmt.Fprintln(w, "  ✗ "+b)
		}
	}
	for i, h := range p.Hops {
		stop := ""
		if h.RequiredStop {
			stop = "  (required stop"
			if h.Reason != "" {
				stop += ": " + h.Reason
			}
			stop += ")"
		}
		_, _ = fmt.Fprintf(w, "\nhop %d: %s%s\n", i+1, h.Version, stop)
		ws := append([]releases.Warning(nil), h.Warnings...)
		// breaking changes first
		for _, kind := range []releases.Kind{releases.KindBreaking, releases.KindManualAction, releases.KindRequirement, releases.KindDeprecation} {
			for _, wr := range ws {
				if wr.Kind == kind {
					_, _ = fmt.Fprintf(w, "  ! %-13s %s (%s)\n", wr.Kind, firstLineOf(wr.Text), wr.Version)
				}
			}
		}
		for _, a := range h.ManualActions {
			_, _ = fmt.Fprintf(w, "  ! %-13s %s\n", "manual_action", a)
		}
	}
	_, _ = fmt.Fprintln(w, "\nsteps:")
	for i, s := range stepInfos(pl.plan) {
		mark := " "
		if s.Confirm {
			mark = "?"
		}
		_, _ = fmt.Fprintf(w, "  %2d.%s %s\n", i+1, mark, s.Name)
	}
	_, _ = fmt.Fprintf(w, "\nbackups go to %s. Nothing was changed; run `upshift upgrade --to %s` to do it.\n", pl.env.BackupDir, p.To)
}

func firstLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

type upgradeFlags struct {
	to              string
	yes             bool
	dryRun          bool
	backupAfterStop bool
}

func newUpgradeCmd() *cobra.Command {
	var f stackFlags
	var u upgradeFlags
	cmd := &cobra.Command{
		Use:   "upgrade --to VERSION",
		Short: "Upgrade the stack through every required stop, with backup and automatic rollback",
		Long: `Upgrades the stack to --to, hop by hop through the required stops. Each hop:
preflight, backup (verified), images (before any downtime), .env merge (shown
before it is written), stop the writers, migrate, start, verify. If anything
fails after the first backup, upshift restores it by itself: database, config,
volumes and images together.

Without a TTY, or with --yes, it runs unattended; --json prints one JSON event
per line and ends with {"result": "success"|"rolled_back"|"failed", ...}.

` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if u.to == "" {
				return usageError{errors.New("--to VERSION is required (or --to latest)")}
			}
			return runUpgrade(cmd, &f, &u)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&u.to, "to", "", "target version (or latest)")
	cmd.Flags().BoolVarP(&u.yes, "yes", "y", false, "answer yes to every confirmation (unattended)")
	cmd.Flags().StringVar(&f.envTemplates, "env-templates", "", "DIR of <version>.env.example files to merge .env with, instead of the profile's source (offline)")
	cmd.Flags().BoolVar(&f.acceptTerms, "accept-terms", false, "with --yes: agree to documents the new version changed (e.g. MaiBot's EULA); read them first")
	cmd.Flags().BoolVar(&u.dryRun, "dry-run", false, "print every step with the containers, commands and files it would touch; change nothing")
	cmd.Flags().BoolVar(&u.backupAfterStop, "backup-after-stop", false, "take each backup after stopping the writers (no write can be lost by a rollback; longer downtime)")
	return cmd
}

func runUpgrade(cmd *cobra.Command, f *stackFlags, u *upgradeFlags) error {
	ctx := cmd.Context()
	sess, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer sess.Close()
	pl, err := f.planWith(ctx, sess, u.to, u.backupAfterStop)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if pl.path.Blocked {
		return &exitError{code: exitFailure, err: fmt.Errorf("the upgrade %s → %s is blocked: %s. Nothing was changed", pl.path.From, pl.path.To, strings.Join(pl.path.Blockers, "; "))}
	}
	if len(pl.path.Hops) == 0 {
		_, _ = fmt.Fprintf(out, "the stack already runs %s: nothing to do\n", sess.det.Report.Version)
		return nil
	}
	if u.dryRun {
		return printDryRun(out, pl)
	}
	return execute(ctx, cmd, f, pl.env, pl.plan, 0, u.yes, nil, pl.path.Hops)
}

func printDryRun(w io.Writer, pl *planned) error {
	_, _ = fmt.Fprintf(w, "dry run: %s → %s (nothing will be changed)\n", pl.path.From, pl.path.To)
	_, _ = fmt.Fprintf(w, "project %s, compose files %s\n", pl.env.Project.Name, strings.Join(pl.env.Project.Files, ", "))
	for i, s := range stepInfos(pl.plan) {
		confirm := ""
		if s.Confirm {
			confirm = " [asks for confirmation]"
		}
		_, _ = fmt.Fprintf(w, "%2d. %s%s\n", i+1, s.Name, confirm)
		for _, t := range s.Touches {
			_, _ = fmt.Fprintf(w, "      touches: %s\n", t)
		}
	}
	_, _ = fmt.Fprintln(w, "on failure after the first backup: stop the app, restore the backup (database, config, volumes, images), start, verify")
	return nil
}

// execute runs a plan with the right consumer (JSON, plain), the journal,
// the lock and signal handling, and maps the outcome to an exit code.
func execute(ctx context.Context, cmd *cobra.Command, f *stackFlags, env *steps.Env, plan *steps.Plan, start int, yes bool, resume *steps.RunState, hops []releases.Hop) error {
	out := cmd.OutOrStdout()
	lock, err := steps.AcquireLock(env.BackupDir, fmt.Sprintf("upshift %s on %s", strings.Join(os.Args[1:], " "), env.Project.Name))
	if err != nil {
		return err
	}
	defer lock.Release()

	var jour *steps.Journal
	if resume != nil {
		jour, err = steps.OpenJournal(resume.Path)
	} else {
		hv := make([]string, 0, len(hops))
		for _, h := range hops {
			hv = append(hv, h.Version)
		}
		jour, err = steps.NewJournal(env.BackupDir, steps.RunInfo{
			ID: time.Now().UTC().Format("20060102-150405") + "-" + plan.To, Project: env.Project.Name, Dir: env.Dir(),
			Profile: env.Profile.Name, From: plan.From, To: plan.To, Hops: hv, Started: time.Now().UTC(),
			PID: os.Getpid(), Upshift: version, BackupDir: env.BackupDir,
		})
	}
	if err != nil {
		return err
	}
	defer func() { _ = jour.Close() }()
	env.Journal = jour

	logf, err := f.logTo()
	if err != nil {
		return err
	}
	defer func() { _ = logf.Close() }()
	var printer interface{ Emit(steps.Event) }
	if f.jsonOut {
		printer = newJSONPrinter(out)
	} else {
		printer = newPlainPrinter(out)
	}
	logPrinter := newJSONPrinter(logf)

	if os.Getenv("SSH_CONNECTION") != "" && os.Getenv("TMUX") == "" && os.Getenv("STY") == "" && !f.jsonOut {
		_, _ = fmt.Fprintln(cmd.ErrOrStderr(), "note: you are on SSH outside tmux/screen. If the connection drops, upshift carries on and journals every step; `upshift resume` picks up from there.")
	}
	// A dropped SSH session sends SIGHUP: the step carries on.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			jour.Note("SIGHUP: the terminal went away; carrying on")
		}
	}()

	decide := promptDecider(cmd.InOrStdin(), cmd.ErrOrStderr())
	switch {
	case yes:
		decide = yesDecider(f.acceptTerms)
	case !isTerminal(os.Stdin):
		decide = nil
	}
	runner := &steps.Runner{
		Emit:    func(ev steps.Event) { printer.Emit(ev); logPrinter.Emit(ev) },
		Decide:  decide,
		Redact:  env.Redactor(),
		Journal: jour,
	}
	res := runner.Run(ctx, plan, start)
	return outcomeErr(res)
}

func outcomeErr(res steps.Result) error {
	switch res.Outcome {
	case steps.OutcomeSuccess:
		return nil
	case steps.OutcomeRolledBack:
		return &exitError{code: exitRolledBack, err: fmt.Errorf("upgrade failed and was rolled back: the stack runs %s again (backup %s)", res.Reached, res.Backup)}
	case steps.OutcomeAborted:
		return &exitError{code: exitAborted, err: errors.New("aborted: " + res.Error)}
	default:
		if res.Unchanged || res.Backup == "" {
			return &exitError{code: exitFailure, err: errors.New(res.Message)}
		}
		return &exitError{code: exitStuck, err: errors.New(res.Error + ". " + res.Message)}
	}
}
