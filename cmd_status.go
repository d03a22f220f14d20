package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/render"
)

const statusExitHelp = `Exit codes (for monitoring: Nagios, a cron check, an Ansible task):
  0    ok: no run in progress, and the last run succeeded (or there was none)
  1    the last run failed, was rolled back, was aborted, or was interrupted
       (killed mid-way: upshift resume); also any error reading the stack
  2    bad command line
  5    a run is in progress (it holds the project's lock)`

func newStatusCmd() *cobra.Command {
	var f stackFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Is an upgrade running (which step, since when), how did the last one end, what version runs",
		Long: `Reads the project's lock, the newest run journal and what runs now. Takes no
lock and changes nothing, so it answers while an upgrade is going on.

` + statusExitHelp,
		Args: cobra.NoArgs,
		RunE: f.withSession(func(_ context.Context, sess *engine.Session, cmd *cobra.Command, _ []string) error {
			st, err := sess.Status()
			if err != nil {
				return err
			}
			if err := render.Status(cmd.OutOrStdout(), st, f.jsonOut, time.Now()); err != nil {
				return err
			}
			return statusErr(st)
		}),
	}
	f.register(cmd)
	return cmd
}

// statusErr maps a status to its exit code (statusExitHelp).
func statusErr(st *engine.Status) error {
	switch st.State {
	case engine.StatusInProgress:
		return &exitError{code: exitInProgress, err: errors.New("a run is in progress: " + st.InProgress.Holder)}
	case engine.StatusLastFailed:
		return &exitError{code: exitFailure, err: errors.New("the last run ended " + st.LastRun.Outcome)}
	case engine.StatusInterrupted:
		return &exitError{code: exitFailure, err: errors.New("the last run was interrupted: upshift resume")}
	default:
		return nil
	}
}
