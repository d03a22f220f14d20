package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/render"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

func newProfilesCmd() *cobra.Command {
	var asJSON bool
	var dir string
	cmd := &cobra.Command{
		Use:   "profiles",
		Short: "List the app profiles upshift knows (built-in and your own)",
		Long: `List the app profiles: the built-in ones and the YAML files in
~/.config/upshift/profiles (or --profile-dir). A file with the name of a
built-in profile replaces it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				d, err := profile.DefaultUserDir()
				if err != nil {
					return err
				}
				dir = d
			}
			all, loadErr := profile.LoadAll(dir)
			if err := render.Profiles(cmd.OutOrStdout(), all, asJSON); err != nil {
				return err
			}
			if loadErr != nil {
				return fmt.Errorf("some profile files are broken:\n%w", loadErr)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().Bool("no-color", false, "no colours (the listing has none; accepted like everywhere else)")
	cmd.Flags().StringVar(&dir, "profile-dir", "", "directory of your own profiles (default ~/.config/upshift/profiles)")
	return cmd
}

func newProfileCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Work with one app profile",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New("profile needs a subcommand: upshift profile check FILE | show NAME | init | schema")}
		},
	}
	cmd.AddCommand(newProfileShowCmd(), newProfileInitCmd(), newProfileSchemaCmd())
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a profile file; errors are printed as file:line: message",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("profile check takes one FILE, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profile.Load(args[0])
			if err != nil {
				var ve *profile.ValidationError
				if errors.As(err, &ve) {
					return fmt.Errorf("%d problem(s) in the profile; fix them and run the check again:\n%w", len(ve.Problems), err)
				}
				return err
			}
			if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s: profile %q is valid\n", args[0], p.Name); err != nil {
				return fmt.Errorf("write result: %w", err)
			}
			return nil
		},
	})
	return cmd
}

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %v", args)}
	}
	return nil
}
