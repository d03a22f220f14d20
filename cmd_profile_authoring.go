package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

func newProfileShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Print a profile as YAML: a built-in one (or your file that replaces it), to start your own from",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("profile show takes one NAME (see `upshift profiles`), got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			all, _ := engine.Profiles()
			i := slices.IndexFunc(all, func(p *profile.Profile) bool { return p.Name == name })
			if i < 0 {
				names := make([]string, 0, len(all))
				for _, p := range all {
					names = append(names, p.Name)
				}
				return usageError{fmt.Errorf("no profile %q (known: %s)", name, strings.Join(names, ", "))}
			}
			var data []byte
			if src := all[i].Source; src != profile.SourceBuiltin {
				b, err := os.ReadFile(src)
				if err != nil {
					return fmt.Errorf("read profile %s: %w", src, err)
				}
				data = append([]byte("# "+src+" (replaces or adds to the built-in profiles)\n"), b...)
			} else {
				b, ok := profile.BuiltinYAML(name)
				if !ok {
					return fmt.Errorf("the built-in profile %s has no embedded file", name)
				}
				data = b
			}
			_, err := cmd.OutOrStdout().Write(data)
			return wrapWrite(err)
		},
	}
}

func newProfileInitCmd() *cobra.Command {
	var f stackFlags
	var name, out string
	var force, offline bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a starting profile from the stack in this directory (images, where the version lives, DB, schema table, health)",
		Long: `Reads the compose project (and, where they answer, its containers and its
database; without a Docker engine, or with --offline, the compose files
alone) and writes a profile with comments saying what was found: the
app's images, where the files keep its version (a compose tag, an .env tag,
or a whole image reference in .env), the db service and its credential env
keys, schema version table candidates, health endpoints that answered, and
the release notes repository named by the image's
org.opencontainers.image.source label. Check it (upshift profile check
FILE), then use it with --profile FILE or put it in ~/.config/upshift/profiles.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := f.options()
			o.Profile = "generic" // every non-db service is looked at as the app
			// Connected when a Docker engine answers, else from the files.
			sess, err := engine.OpenForPlan(cmd.Context(), o, engine.PlanMode{Offline: offline})
			if err != nil {
				return err
			}
			defer sess.Close()
			d, err := sess.ProfileDraft(cmd.Context(), name)
			if err != nil {
				return err
			}
			data := d.YAML()
			if _, err := profile.Parse(data, "draft"); err != nil {
				return fmt.Errorf("the written profile does not pass its own check (a bug; the draft follows):\n%w\n%s", err, data)
			}
			if out == "" || out == "-" {
				_, err := cmd.OutOrStdout().Write(data)
				return wrapWrite(err)
			}
			flag := os.O_CREATE | os.O_WRONLY | os.O_EXCL
			if force {
				flag = os.O_CREATE | os.O_WRONLY | os.O_TRUNC
			}
			fh, err := os.OpenFile(out, flag, 0o644)
			if errors.Is(err, os.ErrExist) {
				return usageError{fmt.Errorf("%s exists; pass --force to overwrite it", out)}
			}
			if err != nil {
				return fmt.Errorf("write the profile: %w", err)
			}
			if _, err := fh.Write(data); err != nil {
				_ = fh.Close()
				return fmt.Errorf("write the profile: %w", err)
			}
			if err := fh.Close(); err != nil {
				return fmt.Errorf("write the profile: %w", err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (profile %s); read it, then: upshift profile check %s\n", out, d.Name, out)
			return wrapWrite(err)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "", "directory of the compose project (default: current directory)")
	fl.StringVarP(&f.project, "project", "p", "", "name of a running compose project (found through its container labels)")
	fl.StringSliceVarP(&f.files, "file", "f", nil, "compose file(s), as for docker compose -f")
	fl.StringSliceVar(&f.envFiles, "env-file", nil, "env file(s), as for docker compose --env-file")
	fl.StringVar(&name, "name", "", "the profile's name (default: the project directory's)")
	fl.StringVarP(&out, "output", "o", "", "write to FILE instead of standard output")
	fl.BoolVar(&force, "force", false, "overwrite --output if it exists")
	fl.BoolVar(&offline, "offline", false, "read only the compose files: no Docker, no database (also what happens when no engine answers)")
	return cmd
}

func newProfileSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of profile files (for editor completion; also docs/profile.schema.json)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := profile.JSONSchema()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return wrapWrite(err)
		},
	}
}
