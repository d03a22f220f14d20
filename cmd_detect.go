package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/render"
)

func newDetectCmd() *cobra.Command {
	var f stackFlags
	var offline bool
	cmd := &cobra.Command{
		Use:   "detect",
		Short: "Show what is running: app, version, database, schema head, containers",
		Long: `Reads the compose project (--dir, or -p NAME for a running project), recognises
the app, and reports its version (and where that came from), the database
server, the schema head, the containers and anything that looks wrong
(dirty migrations, image and schema out of step). Changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			profiles, err := engine.Profiles()
			if err != nil {
				return err
			}
			var eng *dockerx.Engine
			if err := f.useContext(); err != nil {
				return err
			}
			if !offline {
				eng, err = dockerx.Connect(ctx)
				if err != nil {
					return err
				}
				defer func() { _ = eng.Close() }()
			}
			det, err := detect.Detect(ctx, eng, detect.Options{StackOptions: f.stackOptions(), Profile: f.profile, Profiles: profiles, Offline: offline})
			if err != nil {
				return err
			}
			if f.jsonOut {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(det.Report); err != nil {
					return wrapWrite(err)
				}
			} else if err := render.Report(cmd.OutOrStdout(), &det.Report, f.plain(cmd.OutOrStdout())); err != nil {
				return err
			}
			if offline {
				return nil
			}
			if err := engine.Incomplete(&det.Report); err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&offline, "offline", false, "read only the compose files: no Docker, no database")
	return cmd
}

func wrapWrite(err error) error {
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
