package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/render"

	"github.com/seed-e7a9fb3b/upshift/envfile"
)

type mergeEnvOptions struct {
	old, new, current string
	renames           []string
	theirs, ours      []string
	write, yes        bool
	json, diff        bool
}

func newMergeEnvCmd() *cobra.Command {
	var o mergeEnvOptions
	cmd := &cobra.Command{
		Use:   "merge-env --new NEW_TEMPLATE --current .env [--old OLD_TEMPLATE]",
		Short: "Three-way merge of a .env with a new .env.example, keeping the admin's settings",
		Long: `merge-env merges your .env with the app's new template (.env.example):
keys new in the template are added with their default and comment, values you
changed are kept, defaults you never touched follow the new template, keys the
template dropped are kept but commented out with a note, --rename moves your
value to a key's new name, and conflicts (you changed a value whose default also
changed) are listed for a decision.

Without --old (the template of the version you run now) it is a two-way merge
that never overwrites one of your values.

It prints the merged file (secret values masked) and a summary; nothing is
written without --write. --write first copies .env to
.env.upshift-<timestamp>.bak (mode 0600), then replaces .env atomically.
Unresolved conflicts stop --write unless you decide them with --theirs/--ours
or pass --yes (which keeps your values).`,
		Example: `  upshift merge-env --old v1/.env.example --new v2/.env.example --current .env
  upshift merge-env --new .env.example --current .env --rename NOTES_SECRET=APP_SECRET --write`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMergeEnv(cmd.OutOrStdout(), cmd.ErrOrStderr(), o, time.Now())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.old, "old", "", "template of the installed version (.env.example); omit for a two-way merge")
	f.StringVar(&o.new, "new", "", "template of the target version (.env.example)")
	f.StringVar(&o.current, "current", ".env", "your .env")
	f.StringArrayVar(&o.renames, "rename", nil, "OLD=NEW: the key OLD is called NEW in the new template (repeatable)")
	f.StringArrayVar(&o.theirs, "theirs", nil, "resolve the conflict on KEY with the new template's value (repeatable)")
	f.StringArrayVar(&o.ours, "ours", nil, "resolve the conflict on KEY with your value (repeatable)")
	f.BoolVar(&o.write, "write", false, "replace --current with the merged file (after a backup copy)")
	f.BoolVar(&o.yes, "yes", false, "with --write: keep your values for undecided conflicts instead of stopping")
	f.BoolVar(&o.json, "json", false, "print the result as JSON (secrets masked)")
	f.BoolVar(&o.diff, "diff", false, "print a unified diff instead of the whole merged file")
	return cmd
}

func runMergeEnv(stdout, stderr io.Writer, o mergeEnvOptions, now time.Time) error {
	renames, err := parseRenames(o.renames)
	if err != nil {
		return err
	}
	out, err := engine.MergeEnv(engine.MergeEnvRequest{
		Old: o.old, New: o.new, Current: o.current, Renames: renames,
		Theirs: o.theirs, Ours: o.ours, Write: o.write, Yes: o.yes,
	}, now)
	var in engine.InputError
	if errors.As(err, &in) {
		return usageError{err}
	}
	if o.json && out.Files != nil {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(out); jerr != nil {
			return fmt.Errorf("write JSON: %w", jerr)
		}
		return err
	}
	if out.Files != nil {
		render.MergeEnv(stdout, stderr, out, o.current, o.diff, o.write)
	}
	return err
}

func parseRenames(specs []string) ([]envfile.Rename, error) {
	var out []envfile.Rename
	for _, s := range specs {
		from, to, ok := strings.Cut(s, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, usageError{fmt.Errorf("--rename %q: want OLD_KEY=NEW_KEY, for example --rename NOTES_SECRET=APP_SECRET", s)}
		}
		out = append(out, envfile.Rename{From: from, To: to})
	}
	return out, nil
}
