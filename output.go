package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// plainPrinter renders events as plain lines (no TTY, cron, CI, --yes).
type plainPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	names map[string]string
	infos map[string]steps.StepInfo
}

func newPlainPrinter(w io.Writer) *plainPrinter {
	return &plainPrinter{w: w, names: map[string]string{}, infos: map[string]steps.StepInfo{}}
}

func (p *plainPrinter) Emit(ev steps.Event) {
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
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// jsonPrinter writes one JSON event per line and a final result line.
type jsonPrinter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newJSONPrinter(w io.Writer) *jsonPrinter { return &jsonPrinter{enc: json.NewEncoder(w)} }

func (p *jsonPrinter) Emit(ev steps.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.enc.Encode(ev)
	if ev.Kind == steps.EventDone && ev.Result != nil {
		_ = p.enc.Encode(ev.Result)
	}
}

// isTerminal reports whether f is an interactive terminal.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// promptDecider asks y/N on the terminal for each confirmation.
func promptDecider(in io.Reader, out io.Writer) func(ctx context.Context, ev steps.Event) (steps.Decision, error) {
	r := bufio.NewReader(in)
	return func(ctx context.Context, ev steps.Event) (steps.Decision, error) {
		if ev.Consent {
			_, _ = fmt.Fprintf(out, "Do you agree to the documents above (%s)? [y/N] ", ev.Step)
		} else {
			_, _ = fmt.Fprintf(out, "Proceed with %s? [y/N] ", ev.Step)
		}
		type answer struct {
			s   string
			err error
		}
		ch := make(chan answer, 1)
		go func() {
			s, err := r.ReadString('\n')
			ch <- answer{s, err}
		}()
		select {
		case <-ctx.Done():
			return steps.Decision{Step: ev.Step}, ctx.Err()
		case a := <-ch:
			if a.err != nil && a.s == "" {
				return steps.Decision{Step: ev.Step}, fmt.Errorf("no answer on standard input: %w", a.err)
			}
			yes := strings.EqualFold(strings.TrimSpace(a.s), "y") || strings.EqualFold(strings.TrimSpace(a.s), "yes")
			return steps.Decision{Step: ev.Step, Approve: yes}, nil
		}
	}
}

// yesDecider approves every confirmation (--yes) except an agreement to a
// changed document (a EULA), which needs --accept-terms as well.
func yesDecider(acceptTerms bool) func(context.Context, steps.Event) (steps.Decision, error) {
	return func(_ context.Context, ev steps.Event) (steps.Decision, error) {
		if ev.Consent && !acceptTerms {
			return steps.Decision{Step: ev.Step}, errors.New("the new version changed a document you must agree to (shown above) and --yes does not agree for you: read it, then re-run with --yes --accept-terms, or without --yes to answer yourself")
		}
		return steps.Decision{Step: ev.Step, Approve: true}, nil
	}
}
