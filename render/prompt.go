package render

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// IsTerminal reports whether f is an interactive terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Prompt asks y/N on the terminal for each confirmation.
func Prompt(in io.Reader, out io.Writer) func(ctx context.Context, ev steps.Event) (steps.Decision, error) {
	r := bufio.NewReader(in)
	return func(ctx context.Context, ev steps.Event) (steps.Decision, error) {
		switch {
		case ev.Doubt && strings.HasSuffix(ev.Step, "/rehearse"):
			_, _ = fmt.Fprintf(out, "Go on to the real upgrade despite the rehearsal's error (%s)? [y/N: stop, nothing changed] ", ev.Step)
		case ev.Doubt:
			_, _ = fmt.Fprintf(out, "Keep it running despite the error (%s)? [y/N: roll back] ", ev.Step)
		case ev.Consent:
			_, _ = fmt.Fprintf(out, "Do you agree to the documents above (%s)? [y/N] ", ev.Step)
		default:
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
