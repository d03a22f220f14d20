package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/render"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

func newBackupCmd() *cobra.Command {
	var f stackFlags
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Make a verified backup set (database, config, volumes, images) now",
		Args:  cobra.NoArgs,
		RunE: f.withSession(func(ctx context.Context, sess *engine.Session, cmd *cobra.Command, _ []string) error {
			return execute(cmd, &f, true, "upshift backup", func(o engine.RunOptions) (steps.Result, error) {
				return sess.Backup(ctx, o)
			})
		}),
	}
	f.register(cmd)
	cmd.AddCommand(newBackupVerifyCmd())
	return cmd
}

func newBackupVerifyCmd() *cobra.Command {
	var f stackFlags
	var restore bool
	cmd := &cobra.Command{
		Use:   "verify ID",
		Short: "Check a backup set: checksums, completeness, pg_restore --list (--restore: restore it into a scratch PostgreSQL and compare every table)",
		Args:  cobra.ExactArgs(1),
		RunE: f.withSession(func(ctx context.Context, sess *engine.Session, cmd *cobra.Command, args []string) error {
			set, err := sess.OpenBackup(args[0])
			if err != nil {
				return err
			}
			if restore {
				_, _ = fmt.Fprintf(cmd.ErrOrStderr(), "restoring %s into a scratch PostgreSQL (the live stack is not touched)…\n", set.ID)
				proof, err := sess.VerifyBackupRestore(ctx, set, nil)
				if f.jsonOut && proof != nil {
					// Failed proofs too: the exit code says which it was.
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					if werr := enc.Encode(struct {
						ID           string               `json:"id"`
						RestoreProof *backup.RestoreProof `json:"restore_proof"`
					}{set.ID, proof}); werr != nil && err == nil {
						err = wrapWrite(werr)
					}
					return err
				}
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "backup %s: %s\n", set.ID, proof.Summary())
				return wrapWrite(err)
			}
			if err := sess.VerifyBackup(ctx, set); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "backup %s is intact (%d files, checksums match, the dump lists cleanly)\n", set.ID, len(set.Manifest.Files))
			return wrapWrite(err)
		}),
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&restore, "restore", false, "restore the dumps into a throw-away PostgreSQL (same image, own volume, no network) and compare every table's row count and checksum with the dump's; the live stack is not touched")
	return cmd
}

func newBackupsCmd() *cobra.Command {
	var f stackFlags
	var prune int
	cmd := &cobra.Command{
		Use:   "backups",
		Short: "List backup sets (newest first); --prune N keeps the newest N (never the newest verified one)",
		Args:  cobra.NoArgs,
		RunE: f.withSession(func(ctx context.Context, sess *engine.Session, cmd *cobra.Command, _ []string) error {
			root := sess.BackupDir()
			w := cmd.OutOrStdout()
			if prune > 0 {
				removed, err := backup.Prune(root, prune)
				if err != nil {
					return err
				}
				for _, r := range removed {
					_, _ = fmt.Fprintln(w, "removed "+r)
				}
			}
			sets, err := backup.List(root)
			if err != nil {
				return err
			}
			return render.Backups(w, root, sets, f.jsonOut)
		}),
	}
	f.register(cmd)
	cmd.Flags().IntVar(&prune, "prune", 0, "keep only the newest N sets (the newest verified set is always kept)")
	return cmd
}

func newRestoreCmd() *cobra.Command {
	var f stackFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "restore ID",
		Short: "Put a backup set back: database, config, volumes and images together, then start and verify",
		Long: `Stops the writers, recreates the database from the set's dump (other
sessions are terminated first), restores the compose files, .env and volumes,
re-tags the recorded images, starts the stack and checks its health. A set
that fails verification is refused before anything is touched.

` + exitCodesHelp,
		Args: cobra.ExactArgs(1),
		RunE: f.withSession(func(ctx context.Context, sess *engine.Session, cmd *cobra.Command, args []string) error {
			set, err := sess.OpenBackup(args[0])
			if err != nil {
				return err
			}
			if !yes && !render.IsTerminal(os.Stdin) {
				return usageError{errors.New("restore needs a confirmation: pass --yes when there is no TTY")}
			}
			return execute(cmd, &f, yes, "upshift restore", func(o engine.RunOptions) (steps.Result, error) {
				return sess.Restore(ctx, set, o)
			})
		}),
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}
