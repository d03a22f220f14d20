package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/render"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

func newHistoryCmd() *cobra.Command {
	var f stackFlags
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List past upgrade runs of this project (from their journals)",
		Args:  cobra.NoArgs,
		RunE: f.withSession(func(ctx context.Context, sess *engine.Session, cmd *cobra.Command, _ []string) error {
			runs, err := sess.History()
			if err != nil {
				return err
			}
			return render.History(cmd.OutOrStdout(), runs, f.jsonOut)
		}),
	}
	f.register(cmd)
	return cmd
}

func newResumeCmd() *cobra.Command {
	var f stackFlags
	var yes, retry, cont, rollback bool
	cmd := &cobra.Command{
		Use:   "resume",
		Short: "Pick up an upgrade that was interrupted (killed, SSH dropped): retry, continue or roll back",
		Long: `Reads the journal of the last run that did not finish and offers to retry the
interrupted step (and go on), continue after it, or roll back to the run's
restore point. With --yes and no choice, it rolls back (the safe choice).

` + exitCodesHelp,
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			n := 0
			for _, b := range []bool{retry, cont, rollback} {
				if b {
					n++
				}
			}
			if n > 1 {
				return usageError{errors.New("choose one of --retry, --continue, --rollback")}
			}
			return nil
		},
		RunE: f.withSession(func(ctx context.Context, sess *engine.Session, cmd *cobra.Command, _ []string) error {
			st, err := sess.Unfinished()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if f.jsonOut {
				w = cmd.ErrOrStderr() // stdout carries only the JSON lines (docs/events.md)
			}
			if st == nil {
				_, _ = fmt.Fprintln(w, "nothing to resume: no run was interrupted (upshift history lists the runs)")
				return nil
			}
			_, _ = fmt.Fprintf(w, "run %s: %s → %s, stopped at %q", st.Info.ID, st.Info.From, st.Info.To, st.Failed)
			if len(st.Backups) > 0 {
				_, _ = fmt.Fprintf(w, ", restore point %s\n", st.Backups[0])
			} else {
				_, _ = fmt.Fprintln(w, ", no restore point yet (nothing was changed before it)")
			}
			var choice engine.Choice
			switch {
			case retry:
				choice = engine.Retry
			case cont:
				choice = engine.Continue
			case rollback, yes:
				choice = engine.Rollback
			case render.IsTerminal(os.Stdin):
				choice = askChoice(cmd)
			default:
				return usageError{errors.New("no TTY to ask on: pass --retry, --continue or --rollback (or --yes for rollback)")}
			}
			r, err := sess.Resume(ctx, st, choice)
			if err != nil {
				return err
			}
			for _, n := range r.Notices {
				_, _ = fmt.Fprintln(w, n)
			}
			if r.NoRestorePoint || r.NothingToUndo != "" {
				switch {
				case r.NoRestorePoint:
					_, _ = fmt.Fprintln(w, "no restore point: the run stopped before it changed anything. Nothing to roll back.")
				default:
					_, _ = fmt.Fprintf(w, "the run stopped right after %s was verified: the stack runs %s, the last good version. Nothing to roll back (--rollback-to start goes back to %s).\n", r.NothingToUndo, r.NothingToUndo, st.Info.From)
				}
				seen := len(r.Notices)
				res, err := sess.Settle(st, r)
				for _, n := range r.Notices[seen:] {
					_, _ = fmt.Fprintln(w, n)
				}
				if err == nil && f.jsonOut {
					err = render.ResultJSON(cmd.OutOrStdout(), res)
				}
				return err
			}
			if choice != engine.Rollback {
				_, _ = fmt.Fprintf(w, "%s from step %d of %d\n", choice, r.Start+1, len(r.Plan.Steps))
			}
			return execute(cmd, &f, yes || choice == engine.Rollback, "upshift resume", func(o engine.RunOptions) (steps.Result, error) {
				return sess.Continue(ctx, r, o)
			})
		}),
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "answer yes to every confirmation; without a choice, roll back")
	cmd.Flags().StringVar(&f.envTemplates, "env-templates", "", "DIR of <version>.env.example files to merge .env with, instead of the profile's source (offline)")
	cmd.Flags().StringVar(&f.templates, "templates", "", "DIR of <version>/<file> compose and config templates to merge with, instead of the profile's sources (offline)")
	cmd.Flags().BoolVar(&f.acceptTerms, "accept-terms", false, "with --yes: agree to documents the new version changed (e.g. MaiBot's EULA); read them first")
	cmd.Flags().BoolVar(&retry, "retry", false, "run the interrupted step again, then go on")
	cmd.Flags().BoolVar(&cont, "continue", false, "go on after the interrupted migration or .env step (you finished it by hand); any other interrupted step runs again")
	cmd.Flags().BoolVar(&rollback, "rollback", false, "restore the run's restore point")
	return cmd
}

func askChoice(cmd *cobra.Command) engine.Choice {
	_, _ = fmt.Fprint(cmd.ErrOrStderr(), "retry, continue or rollback? [rollback] ")
	var s string
	_, _ = fmt.Fscanln(cmd.InOrStdin(), &s)
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "retry", "r":
		return engine.Retry
	case "continue", "c":
		return engine.Continue
	default:
		return engine.Rollback
	}
}

func newRollbackCmd() *cobra.Command {
	var f stackFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Restore the restore point of the last upgrade run (database, config, volumes and images together)",
		Args:  cobra.NoArgs,
		RunE: f.withSession(func(ctx context.Context, sess *engine.Session, cmd *cobra.Command, _ []string) error {
			r, set, err := sess.RestorePointOfLastRun()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if f.jsonOut {
				w = cmd.ErrOrStderr() // stdout carries only the JSON lines
			}
			_, _ = fmt.Fprintf(w, "rolling back run %s to backup %s (%s)\n", r.Info.ID, set.ID, set.Manifest.Version)
			return execute(cmd, &f, yes, "upshift rollback", func(o engine.RunOptions) (steps.Result, error) {
				return sess.Restore(ctx, set, o)
			})
		}),
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "answer yes to every confirmation")
	return cmd
}
