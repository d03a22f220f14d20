package render

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
)

// Status prints `upshift status` (the Status object with --json). now
// pins the clock for "for 3m".
func Status(w io.Writer, st *engine.Status, asJSON bool, now time.Time) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return writeErr(enc.Encode(st))
	}
	app := st.App
	if app == "" {
		app = "app"
	}
	_, _ = fmt.Fprintf(w, "%s: %s %s runs\n", st.Project, app, orUnknown(st.Version))
	if c := st.InProgress; c != nil {
		_, _ = fmt.Fprintf(w, "IN PROGRESS: %s\n", c.Holder)
		if c.ID != "" {
			_, _ = fmt.Fprintf(w, "  run %s: %s → %s, started %s\n", c.ID, c.From, c.To, c.Started.Local().Format(time.DateTime))
		}
		switch {
		case c.Step == "":
		case c.InStep:
			_, _ = fmt.Fprintf(w, "  in step %s (%s) for %s\n", c.StepName, c.Step, human.Duration(now.Sub(c.Since)))
		default:
			_, _ = fmt.Fprintf(w, "  finished step %s (%s) %s ago\n", c.StepName, c.Step, human.Duration(now.Sub(c.Since)))
		}
		if c.RollingBack {
			_, _ = fmt.Fprintln(w, "  rolling back to the restore point")
		}
	}
	if r := st.LastRun; r != nil {
		_, _ = fmt.Fprintf(w, "last run %s: %s → %s, %s", r.ID, r.From, r.To, r.Outcome)
		if r.FailedStep != "" {
			_, _ = fmt.Fprintf(w, " at %s", r.FailedStep)
		}
		if r.Reached != "" {
			_, _ = fmt.Fprintf(w, ", ended at %s", r.Reached)
		}
		_, _ = fmt.Fprintln(w)
		if r.Message != "" && r.Outcome != "success" {
			_, _ = fmt.Fprintln(w, "  "+r.Message)
		}
		if r.Log != "" && r.Outcome != "success" {
			_, _ = fmt.Fprintln(w, "  full log: "+r.Log)
		}
	} else if st.InProgress == nil {
		_, _ = fmt.Fprintln(w, "no upgrade run journaled yet")
	}
	if st.Next != "" {
		_, _ = fmt.Fprintln(w, "what to do: "+st.Next)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(version unknown)"
	}
	return s
}
