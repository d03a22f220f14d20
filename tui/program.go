package tui

import (
	"context"
	"fmt"
	"io"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// Run runs the wizard on in/out until the admin quits. It returns the run's
// Result (Outcome "" if the admin quit before running). If the program stops
// while a run is going (ctx cancelled), Run cancels the run and waits for the
// engine to finish safely before it returns.
func Run(ctx context.Context, e Engine, opts Options, in io.Reader, out io.Writer) (steps.Result, error) {
	opts.Context = ctx
	m := newModel(e, opts)
	popts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out)}
	if m.noColor {
		popts = append(popts, tea.WithColorProfile(colorprofile.Ascii))
	}
	if opts.Width > 0 && opts.Height > 0 {
		popts = append(popts, tea.WithWindowSize(opts.Width, opts.Height))
	}
	final, err := tea.NewProgram(m, popts...).Run()
	fm, ok := final.(*model)
	if !ok {
		fm = m
	}
	res := fm.waitRun()
	if err != nil {
		return res, fmt.Errorf("the wizard stopped: %w", err)
	}
	return res, nil
}

// waitRun makes sure no engine run outlives the wizard and returns its Result.
func (m *model) waitRun() steps.Result {
	r := m.run
	if r == nil {
		return steps.Result{}
	}
	if r.done != nil && r.closed {
		return *r.done
	}
	r.cancel()
	if !r.shared.leave() {
		return steps.Result{Outcome: steps.OutcomeAborted, To: m.to, Message: "The upgrade did not start. Nothing was changed."}
	}
	go func() {
		// The reader command may have stopped with the program: keep the
		// channel drained so the engine can finish.
		for ev := range r.events {
			if ev.Kind == steps.EventDone && ev.Result != nil {
				r.shared.setResult(*ev.Result)
			}
		}
	}()
	<-r.shared.returned
	if res := r.shared.getResult(); res != nil {
		return *res
	}
	if r.done != nil {
		return *r.done
	}
	return steps.Result{Outcome: steps.OutcomeAborted, To: m.to}
}
