// Package render turns engine results into text for the CLI: the plain and
// JSON consumers of the event stream, the detect report, the plan and the
// dry run. It decides nothing; the TUI is the third consumer.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// Plain renders events as plain lines (no TTY, cron, CI, --yes).
type Plain struct {
	mu    sync.Mutex
	w     io.Writer
	names map[string]string
	infos map[string]steps.StepInfo
}

// NewPlain renders events as plain lines on w.
func NewPlain(w io.Writer) *Plain {
	return &Plain{w: w, names: map[string]string{}, infos: map[string]steps.StepInfo{}}
}

func (p *Plain) Emit(ev steps.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Kind {
	case steps.EventPlan:
		_, _ = fmt.Fprintln(p.w, "plan:")
		for i, s := range ev.Plan {
			p.names[s.ID] = s.Name
			p.infos[s.ID] = s
			mark := " "
			if s.Confirm {
				mark = "?"
			}
			_, _ = fmt.Fprintf(p.w, "  %2d.%s %s\n", i+1, mark, s.Name)
		}
	case steps.EventStepStarted:
		if n, ok := p.names[ev.Step]; ok {
			_, _ = fmt.Fprintf(p.w, "==> %s\n", n)
		} else {
			_, _ = fmt.Fprintf(p.w, "==> %s\n", ev.Step)
		}
	case steps.EventLog:
		_, _ = fmt.Fprintf(p.w, "    %s\n", ev.Line)
	case steps.EventProgress:
		// Progress is for bars; plain output stays quiet.
	case steps.EventConfirm:
		info := p.infos[ev.Step]
		_, _ = fmt.Fprintf(p.w, "--- confirm: %s\n%s\n", info.Name, indent(info.Explain))
		for _, t := range info.Touches {
			_, _ = fmt.Fprintf(p.w, "    touches: %s\n", t)
		}
		if ev.Prompt != "" {
			_, _ = fmt.Fprintln(p.w, indent(ev.Prompt))
		}
	case steps.EventStepFinished:
		switch ev.Status {
		case steps.StatusOK:
			_, _ = fmt.Fprintf(p.w, "    ✓ done in %s\n", ev.Duration.Round(10*time.Millisecond))
		case steps.StatusSkipped:
			_, _ = fmt.Fprintln(p.w, "    - skipped")
		default:
			_, _ = fmt.Fprintf(p.w, "    ✗ failed after %s: %s\n", ev.Duration.Round(10*time.Millisecond), ev.Err)
		}
	case steps.EventRollingBack:
		_, _ = fmt.Fprintf(p.w, "!!! %s failed: %s\n!!! rolling back to the restore point\n", ev.Step, ev.Err)
	case steps.EventDone:
		r := ev.Result
		if r == nil {
			return
		}
		_, _ = fmt.Fprintf(p.w, "result: %s (from %s, to %s, now %s)\n", r.Outcome, r.From, r.To, r.Reached)
		if r.Backup != "" {
			_, _ = fmt.Fprintf(p.w, "backup: %s\n", r.Backup)
		}
		if r.Message != "" {
			_, _ = fmt.Fprintln(p.w, r.Message)
		}
		if r.Next != "" {
			_, _ = fmt.Fprintln(p.w, "what to do: "+r.Next)
		}
		if r.Log != "" {
			_, _ = fmt.Fprintln(p.w, "full log: "+r.Log)
		}
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// JSON writes one JSON event per line and a final result line.
type JSON struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSON writes one JSON event per line on w.
func NewJSON(w io.Writer) *JSON { return &JSON{enc: json.NewEncoder(w)} }

func (p *JSON) Emit(ev steps.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.enc.Encode(ev)
	if ev.Kind == steps.EventDone && ev.Result != nil {
		_ = p.enc.Encode(ev.Result)
	}
}
