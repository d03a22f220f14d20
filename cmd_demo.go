package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

func newDemoCmd() *cobra.Command {
	var pgImage string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "A disposable demo stack to practise upgrades on (opens the wizard on it)",
		Long: `Without a subcommand: writes the demo stack (a notes app on PostgreSQL, 1.0.0)
into a temporary directory, starts it, and opens the wizard on it, so you can
rehearse a whole upgrade safely. The subcommands manage a demo stack by hand.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return newDemoWizardRun(cmd, pgImage) },
	}
	cmd.Flags().StringVar(&pgImage, "postgres-image", "", "PostgreSQL image (default $"+demo.PostgresImageEnv+" or "+demo.DefaultPostgresImage+")")
	cmd.AddCommand(newDemoUpCmd(), newDemoDownCmd(), newDemoStatusCmd(), newDemoBuildCmd())
	return cmd
}

func newDemoUpCmd() *cobra.Command {
	var opts demo.StackOptions
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Write and start the demo stack (compose project) in --dir",
		Long: `Writes a real compose project (compose.yaml, .env, release notes) into --dir,
builds the demo app image for --version from this binary, and starts the stack
with docker compose, waiting until it is healthy.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Dir == "" {
				return usageError{fmt.Errorf("--dir is required (an empty directory for the demo stack)")}
			}
			ctx := cmd.Context()
			eng, err := dockerx.Connect(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = eng.Close() }()
			out := cmd.ErrOrStderr()
			p, err := demo.Up(ctx, eng, opts, func(s string) { _, _ = fmt.Fprintln(out, "  "+s) })
			if err != nil {
				return err
			}
			port := demo.EnvValue(p.WorkingDir, "API_PORT")
			_, err = fmt.Fprintf(cmd.OutOrStdout(), `demo stack %q is up in %s (app %s)
  api:      http://127.0.0.1:%s/version
  upgrade:  %[5]s --dir %[2]s
  remove:   %[5]s demo down --dir %[2]s
`, p.Name, p.WorkingDir, demo.EnvValue(p.WorkingDir, "APP_VERSION"), port, self())
			return wrapWrite(err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", "", "directory to write the demo compose project into")
	f.StringVar(&opts.Version, "version", demo.Versions[0], "demo app version to start")
	f.StringVar(&opts.PostgresImage, "postgres-image", "", "PostgreSQL image (default $"+demo.PostgresImageEnv+" or "+demo.DefaultPostgresImage+")")
	f.StringVar(&opts.Project, "project", "", "compose project name (default: the directory name)")
	f.IntVar(&opts.Port, "port", 0, "host port for the api (default 8080, or a free port)")
	return cmd
}

func newDemoDownCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove the demo stack's containers, network and volumes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{fmt.Errorf("--dir is required")}
			}
			out := cmd.ErrOrStderr()
			return demo.Down(cmd.Context(), dir, func(s string) { _, _ = fmt.Fprintln(out, "  "+s) })
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the demo stack")
	return cmd
}

func newDemoStatusCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the demo stack's containers and the version the api answers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{fmt.Errorf("--dir is required")}
			}
			return demo.Status(cmd.Context(), cmd.OutOrStdout(), dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the demo stack")
	return cmd
}

func newDemoAppCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "demo-app serve|worker|migrate|healthcheck",
		Short:  "The demo app itself (runs inside the demo images)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := demo.RunApp(cmd.Context(), args[0]); err != nil {
				fmt.Fprintln(os.Stderr, "ERROR "+err.Error())
				return &exitError{code: exitFailure, err: err}
			}
			return nil
		},
	}
}

func newDemoBuildCmd() *cobra.Command {
	var versions []string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the demo app images (upshift-demo/app:<version>) from this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			eng, err := dockerx.Connect(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = eng.Close() }()
			if len(versions) == 0 {
				versions = demo.Versions
			}
			for _, v := range versions {
				if err := demo.BuildImage(ctx, eng, v, nil); err != nil {
					return err
				}
				_, _ = fmt.Fprintln(cmd.OutOrStdout(), "built "+demo.ImageRef(v))
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&versions, "version", nil, "versions to build (default: all)")
	return cmd
}

func newDemoWizardRun(cmd *cobra.Command, pgImage string) error {
	errOut := cmd.ErrOrStderr()
	dir, err := demo.UpTemp(cmd.Context(), pgImage, func(s string) { _, _ = fmt.Fprintln(errOut, s) })
	if err != nil {
		return err
	}
	werr := runWizard(cmd, &stackFlags{dir: dir})
	_, _ = fmt.Fprintf(errOut, "\nThe demo stack keeps running in %[1]s.\n  look:    %[2]s detect --dir %[1]s\n  remove:  %[2]s demo down --dir %[1]s\n", dir, self())
	return werr
}
