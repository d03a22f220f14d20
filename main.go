// Command upshift upgrades self-hosted docker-compose apps backed by
// PostgreSQL without losing data. main wires the CLI and owns exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/backup"
)

// Exit codes (documented in --help and README.md).
const (
	exitOK         = 0
	exitFailure    = 1
	exitUsage      = 2
	exitRolledBack = 3 // the upgrade failed and the stack is back as it was
	exitStuck      = 4 // the upgrade failed and could not be rolled back
	exitInProgress = 5 // upshift status: a run is in progress
	exitTimeout    = 124
	exitAborted    = 130
)

const exitCodesHelp = `Exit codes:
  0    success
  1    failure (nothing was changed unless the message says so)
  2    bad command line
  3    upgrade failed and was rolled back: the stack runs the old version
  4    upgrade failed and could not be rolled back: read the message
  5    (upshift status) a run is in progress
  124  timed out
  130  aborted by the user (Ctrl+C)`

// exitError carries a specific exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	backup.UpshiftVersion = version
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	os.Exit(exitCode(ctx, err))
}

func exitCode(ctx context.Context, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "upshift: "+err.Error())
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.DeadlineExceeded):
		return exitTimeout
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return exitAborted
	case isUsageError(err):
		return exitUsage
	default:
		return exitFailure
	}
}

type usageError struct{ error }

func isUsageError(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "upshift",
		Short: "Upgrade self-hosted docker-compose apps without losing data",
		Long: `upshift upgrades self-hosted docker-compose apps backed by PostgreSQL
(Dify, Mattermost, SimpleLogin, Nightingale, MaiBot, or any compose stack):
it detects what runs, plans the path through required versions, backs up,
migrates, verifies and rolls back when something fails.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	var f stackFlags
	f.register(root)
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, _ []string) error { return runWizard(cmd, &f) }
	root.AddCommand(newVersionCmd(), newDemoCmd(), newDemoAppCmd(), newNotesCmd(),
		newDetectCmd(), newPlanCmd(), newUpgradeCmd(), newRehearseCmd(), newResumeCmd(), newRollbackCmd(), newHistoryCmd(), newStatusCmd(),
		newBackupCmd(), newBackupsCmd(), newRestoreCmd(), newMergeEnvCmd(), newProfilesCmd(), newProfileCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the upshift version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "upshift "+version)
			return wrapWrite(err)
		},
	}
}
