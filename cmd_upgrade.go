package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/render"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

func newPlanCmd() *cobra.Command {
	var f stackFlags
	var to string
	var full, noRehearsal bool
	var mode engine.PlanMode
	cmd := &cobra.Command{
		Use:   "plan --to VERSION",
		Short: "Show the upgrade path: versions, required stops, breaking changes, steps (changes nothing)",
		Long: `Plans the upgrade to --to and changes nothing. Without a Docker engine (or
with --offline) the plan is made from the compose files alone; with --from V
and --profile NAME it needs no compose project at all. When no release notes
can be read, the plan follows the profile's rules and says so on each hop.`,
		Args:    cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error { return needTo(to) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			sess, err := engine.OpenForPlan(ctx, f.options(), mode)
			if err != nil {
				return err
			}
			defer sess.Close()
			pl, err := sess.PlanTarget(ctx, to, engine.PlanOptions{})
			if err != nil {
				return err
			}
			sess.SetRehearsal(pl, !noRehearsal)
			est := sess.PlanEstimate(ctx, pl)
			if f.jsonOut {
				// JSON readers see "blocked": true; the exit code stays 0.
				return render.PlanJSON(cmd.OutOrStdout(), pl, est)
			}
			render.Plan(cmd.OutOrStdout(), pl, est, full)
			if pl.Path.Blocked {
				return &exitError{code: exitFailure, err: fmt.Errorf("the upgrade to %s is blocked: %s", pl.Path.To, strings.Join(pl.Path.Blockers, "; "))}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "target version (or latest)")
	cmd.Flags().BoolVar(&full, "full", false, "print every release-note warning whole, not only its first line")
	cmd.Flags().BoolVar(&mode.Offline, "offline", false, "plan from the files alone: no Docker engine, no database (automatic when no engine answers)")
	cmd.Flags().StringVar(&mode.From, "from", "", "plan from this version instead of the detected one (with --profile NAME, no compose project is needed)")
	cmd.Flags().BoolVar(&noRehearsal, "no-rehearsal", false, "plan without the rehearsal of each migration on a scratch copy")
	return cmd
}

type upgradeFlags struct {
	to              string
	yes             bool
	dryRun          bool
	backupAfterStop bool
	restoreProof    string
	noRehearsal     bool
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
			if err := needTo(u.to); err != nil {
				return err
			}
			return runUpgrade(cmd, &f, &u)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&u.to, "to", "", "target version (or latest)")
	cmd.Flags().BoolVarP(&u.yes, "yes", "y", false, "answer yes to every confirmation (unattended)")
	cmd.Flags().StringVar(&f.envTemplates, "env-templates", "", "DIR of <version>.env.example files to merge .env with, instead of the profile's source (offline)")
	cmd.Flags().StringVar(&f.templates, "templates", "", "DIR of <version>/<file> compose and config templates to merge with, instead of the profile's sources (offline)")
	cmd.Flags().BoolVar(&f.acceptTerms, "accept-terms", false, "with --yes: agree to documents the new version changed (e.g. MaiBot's EULA); read them first")
	cmd.Flags().BoolVar(&u.dryRun, "dry-run", false, "print every step with the containers, commands and files it would touch; change nothing")
	cmd.Flags().BoolVar(&u.backupAfterStop, "backup-after-stop", false, "take each backup after stopping the writers (no write can be lost by a rollback; longer downtime)")
	cmd.Flags().StringVar(&u.restoreProof, "restore-proof", "auto", "prove each backup by restoring it into a throw-away PostgreSQL before the downtime: auto (databases up to 1 GiB), always, never")
	cmd.Flags().BoolVar(&u.noRehearsal, "no-rehearsal", false, "do not rehearse each migration on a scratch copy of its backup before the downtime (on by default for PostgreSQL stacks)")
	return cmd
}

func runUpgrade(cmd *cobra.Command, f *stackFlags, u *upgradeFlags) error {
	ctx := cmd.Context()
	sess, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer sess.Close()
	pl, err := sess.Plan(ctx, u.to, engine.PlanOptions{BackupAfterStop: u.backupAfterStop})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	for _, n := range pl.Notices {
		_, _ = fmt.Fprintln(cmd.ErrOrStderr(), "note: "+n)
	}
	if pl.Path.Blocked {
		return &exitError{code: exitFailure, err: fmt.Errorf("the upgrade %s → %s is blocked: %s. Nothing was changed", pl.Path.From, pl.Path.To, strings.Join(pl.Path.Blockers, "; "))}
	}
	if len(pl.Path.Hops) == 0 {
		v := sess.Det.Report.Version
		if f.jsonOut {
			return render.ResultJSON(out, steps.Result{Outcome: steps.OutcomeSuccess, From: v, To: v, Reached: v, Unchanged: true, Message: "the stack already runs " + v + ": nothing to do"})
		}
		_, _ = fmt.Fprintf(out, "the stack already runs %s: nothing to do\n", v)
		return nil
	}
	sess.SetRehearsal(pl, !u.noRehearsal)
	if u.dryRun {
		return render.DryRun(out, pl)
	}
	if err := sess.SetRestoreProof(pl, u.restoreProof); err != nil {
		return usageError{err}
	}
	return execute(cmd, f, u.yes, "upshift upgrade --to "+u.to, func(o engine.RunOptions) (steps.Result, error) {
		return sess.Upgrade(ctx, pl, o)
	})
}

// execute runs one engine operation with the right consumer (JSON, plain),
// decider (--yes, the terminal, nobody) and log file, and maps the outcome
// to an exit code.
func execute(cmd *cobra.Command, f *stackFlags, yes bool, what string, run func(engine.RunOptions) (steps.Result, error)) error {
	out := cmd.OutOrStdout()
	logf, err := f.logTo()
	if err != nil {
		return err
	}
	o := engine.RunOptions{What: what}
	if logf != nil {
		defer func() { _ = logf.Close() }()
		o.LogFile = logf
	}
	var printer interface{ Emit(steps.Event) }
	if f.jsonOut {
		printer = render.NewJSON(out)
	} else {
		printer = render.NewPlain(out)
	}
	o.Emit = printer.Emit
	if os.Getenv("SSH_CONNECTION") != "" && os.Getenv("TMUX") == "" && os.Getenv("STY") == "" && !f.jsonOut {
		_, _ = fmt.Fprintln(cmd.ErrOrStderr(), "note: you are on SSH outside tmux/screen. If the connection drops, upshift carries on and journals every step; `upshift resume` picks up from there.")
	}
	var acceptErrors *regexp.Regexp
	if f.acceptErrors != "" {
		re, err := regexp.Compile(f.acceptErrors)
		if err != nil {
			return usageError{fmt.Errorf("--accept-migration-errors: %w", err)}
		}
		acceptErrors = re
	}
	switch {
	case yes:
		o.Decide = engine.Unattended(f.acceptTerms, acceptErrors)
	case render.IsTerminal(os.Stdin):
		o.Decide = render.Prompt(cmd.InOrStdin(), cmd.ErrOrStderr())
	}
	res, err := run(o)
	if err != nil {
		return err
	}
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
		if res.Unchanged || res.Partial || res.Backup == "" {
			return &exitError{code: exitFailure, err: errors.New(res.Message)}
		}
		return &exitError{code: exitStuck, err: errors.New(res.Error + ". " + res.Message)}
	}
}

func needTo(to string) error {
	if to == "" {
		return usageError{errors.New("--to VERSION is required (or --to latest)")}
	}
	return nil
}
