package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/envfile"
)

// MergeEnv prints a merge-env result: the merged file (or its diff) on
// stdout, the summary and conflicts on stderr.
func MergeEnv(stdout, stderr io.Writer, out engine.MergeEnvResult, current string, diff, write bool) {
	switch {
	case diff || write:
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
		_, _ = fmt.Fprintf(w, "wrote %s (backup copy: %s)\n", current, out.Backup)
	case write && out.Diff == "":
		_, _ = fmt.Fprintf(w, "%s is already up to date; nothing written\n", current)
	case !write:
		_, _ = fmt.Fprintln(w, "nothing written; add --write to replace the file (a backup copy is made first)")
	}
}

func orMissing(v string, missing bool) string {
	if missing {
		return "(not set)"
	}
	return v
}
