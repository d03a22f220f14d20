package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

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

type mergeEnvJSON struct {
	Merged    string             `json:"merged"`
	Diff      string             `json:"diff"`
	Summary   envfile.Summary    `json:"summary"`
	Conflicts []envfile.Conflict `json:"conflicts"`
	TwoWay    bool               `json:"two_way"`
	Written   bool               `json:"written"`
	Backup    string             `json:"backup,omitempty"`
	Renames   []envfile.Rename   `json:"renames,omitempty"`
	Files     map[string]string  `json:"files"`
}

func runMergeEnv(stdout, stderr io.Writer, o mergeEnvOptions, now time.Time) error {
	if o.new == "" {
		return usageError{errors.New("--new is required: the .env.example of the version you upgrade to")}
	}
	if o.current == "" {
		return usageError{errors.New("--current must name your .env")}
	}
	renames, err := parseRenames(o.renames)
	if err != nil {
		return err
	}
	var base []byte
	if o.old != "" {
		if base, err = readEnvInput(o.old, "old template"); err != nil {
			return err
		}
	}
	theirs, err := readEnvInput(o.new, "new template")
	if err != nil {
		return err
	}
	current, err := readEnvInput(o.current, "current .env")
	if err != nil {
		return err
	}
	res, err := envfile.Merge(base, theirs, current, renames)
	if err != nil {
		return err
	}
	for _, d := range []struct {
		keys       []string
		takeTheirs bool
	}{{o.theirs, true}, {o.ours, false}} {
		for _, k := range d.keys {
			if err := res.Resolve(k, d.takeTheirs); err != nil {
				return usageError{err}
			}
		}
	}
	unresolved := res.Unresolved()
	if o.write && len(unresolved) > 0 && o.yes {
		if err := res.ResolveAll(false); err != nil {
			return err
		}
	}
	out := mergeEnvJSON{
		Merged: string(res.Masked()), Diff: res.Diff(current, o.current),
		Summary: res.Summary, Conflicts: res.Conflicts, TwoWay: res.TwoWay, Renames: renames,
		Files: map[string]string{"old": o.old, "new": o.new, "current": o.current},
	}
	if out.Conflicts == nil {
		out.Conflicts = []envfile.Conflict{}
	}
	var writeErr error
	switch {
	case !o.write:
	case len(res.Unresolved()) > 0:
		writeErr = fmt.Errorf("%d conflict(s) need a decision (%s); nothing was written. Decide each with --theirs KEY or --ours KEY, or add --yes to keep your values",
			len(res.Unresolved()), strings.Join(conflictKeys(res.Unresolved()), ", "))
	case string(res.Merged) == string(current):
		// Nothing to change: leave the file and its timestamp alone.
	default:
		out.Backup, out.Written, writeErr = writeMerged(o.current, res.Merged, now)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
		return writeErr
	}
	printMergeEnv(stdout, stderr, o, out)
	return writeErr
}

func readEnvInput(path, what string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usageError{fmt.Errorf("%s %s does not exist; check the path", what, path)}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	return data, nil
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

func conflictKeys(cs []envfile.Conflict) []string {
	keys := make([]string, len(cs))
	for i, c := range cs {
		keys[i] = c.Key
	}
	return keys
}

// writeMerged backs up path and replaces it atomically, keeping its mode.
func writeMerged(path string, merged []byte, now time.Time) (string, bool, error) {
	perm := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		perm = st.Mode().Perm()
	}
	bak, err := envfile.Backup(path, now)
	if err != nil {
		return "", false, err
	}
	if err := envfile.WriteAtomic(path, merged, perm); err != nil {
		return bak, false, fmt.Errorf("%w (backup copy: %s)", err, bak)
	}
	return bak, true, nil
}

func printMergeEnv(stdout, stderr io.Writer, o mergeEnvOptions, out mergeEnvJSON) {
	switch {
	case o.diff || o.write:
		if out.Diff == "" {
			_, _ = fmt.Fprintln(stdout, "# no changes")
		}
		_, _ = io.WriteString(stdout, out.Diff)
	default:
		_, _ = io.WriteString(stdout, out.Merged)
	}
	w := stderr
	if out.TwoWay {
		_, _ = fmt.Fprintln(w, "two-way merge (no --old): your values are never overwritten; keys only in your .env are kept as they are.")
	}
	s := out.Summary
	line := func(label string, keys []string) {
		if len(keys) > 0 {
			_, _ = fmt.Fprintf(w, "  %-16s %d: %s\n", label, len(keys), strings.Join(keys, ", "))
		}
	}
	_, _ = fmt.Fprintln(w, "summary:")
	line("added", s.Added)
	line("kept (yours)", s.Kept)
	line("changed default", s.ChangedDefault)
	renamed := make([]string, len(s.Renamed))
	for i, r := range s.Renamed {
		renamed[i] = r.From + " → " + r.To
	}
	line("renamed", renamed)
	line("deprecated", s.Deprecated)
	line("only yours", s.Custom)
	line("removed by you", s.Removed)
	line("conflicts", s.Conflicts)
	_, _ = fmt.Fprintf(w, "  %-16s %d\n", "unchanged", s.Unchanged)
	for _, c := range out.Conflicts {
		m := c.Masked()
		decision := "undecided: your value is kept"
		switch c.Resolution {
		case envfile.TakeTheirs:
			decision = "decided: new template's value"
		case envfile.KeepOurs:
			decision = "decided: your value"
		}
		_, _ = fmt.Fprintf(w, "conflict %s (%s)\n    old default: %s\n    new default: %s\n    yours:       %s\n",
			c.Key, decision, orMissing(m.Base, c.BaseMissing), m.Theirs, orMissing(m.Ours, c.OursMissing))
	}
	switch {
	case out.Written:
		_, _ = fmt.Fprintf(w, "wrote %s (backup copy: %s)\n", o.current, out.Backup)
	case o.write && out.Diff == "":
		_, _ = fmt.Fprintf(w, "%s is already up to date; nothing written\n", o.current)
	case !o.write:
		_, _ = fmt.Fprintln(w, "nothing written; add --write to replace the file (a backup copy is made first)")
	}
}

func orMissing(v string, missing bool) string {
	if missing {
		return "(not set)"
	}
	return v
}
