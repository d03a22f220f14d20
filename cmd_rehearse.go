package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

func newRehearseCmd() *cobra.Command {
	var f stackFlags
	var to string
	var yes bool
	cmd := &cobra.Command{
		Use:   "rehearse --to VERSION",
		Short: "Run every migration on the path on a scratch copy of the database (stops and changes nothing)",
		Long: `Rehearses the upgrade to --to without stopping anything: one backup of the
running database, restored into a throw-away PostgreSQL (own volume, internal
network, removed afterwards), then each hop's migration on that copy in turn,
with the app's settings and no network but the scratch one. Per hop it reports
how long the migration took and the schema head it reached; a failure names
the migration's first error line and the release-note action that matches.

Exit codes: 0 every migration passed, 1 one failed (or could not run).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needTo(to); err != nil {
				return err
			}
			ctx := cmd.Context()
			sess, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer sess.Close()
			pl, err := sess.Plan(ctx, to, engine.PlanOptions{})
			if err != nil {
				return err
			}
			if pl.Path.Blocked {
				return &exitError{code: exitFailure, err: fmt.Errorf("the upgrade %s → %s is blocked, so there is nothing to rehearse: %v. Nothing was changed", pl.Path.From, pl.Path.To, pl.Path.Blockers)}
			}
			if len(pl.Path.Hops) == 0 {
				_, _ = fmt.Fprintf(cmd.OutOrStdout(), "the stack already runs %s: nothing to rehearse\n", pl.Path.From)
				return nil
			}
			if err := sess.PlanRehearsal(pl); err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			err = execute(cmd, &f, yes, "upshift rehearse --to "+to, func(o engine.RunOptions) (steps.Result, error) {
				r, err := sess.Rehearse(ctx, pl, o)
				if err != nil {
					return steps.Result{}, err
				}
				if !f.jsonOut {
					for _, h := range r.Hops {
						state := "passed"
						if !h.Passed {
							state = "FAILED: " + h.Error
						}
						_, _ = fmt.Fprintf(cmd.OutOrStdout(), "rehearsal %-10s %8s  head %-14s %s\n", h.Hop, h.Duration.Round(100*time.Millisecond), orDash(h.Head), state)
					}
				}
				return r.Result, nil
			})
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "target version (or latest)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "answer yes to every confirmation (unattended)")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
