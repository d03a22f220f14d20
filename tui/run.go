package tui

import (
	"context"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// Row statuses on the run screen, besides the steps.Status* values.
const (
	statusPending = ""
	statusRunning = "running"
)

type stepRow struct {
	info          steps.StepInfo
	status        string
	started       time.Time
	duration      time.Duration
	err           string
	progressDone  int64
	progressTotal int64
	rollback      bool // started after the rollback began
}

// runShared is what outlives the program: Run uses it to finish a run
// safely when the program stops early.
type runShared struct {
	mu       sync.Mutex
	result   *steps.Result
	started  bool // the engine's Run was called
	abandon  bool // the wizard left before the engine started
	returned chan struct{}
}

// begin reports whether the engine may still start.
func (r *runShared) begin() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = !r.abandon
	return r.started
}

// leave reports whether the engine started; if not, it never will.
func (r *runShared) leave() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.abandon = true
	return r.started
}

func (r *runShared) setResult(res steps.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.result = &res
}

func (r *runShared) getResult() *steps.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.result
}

type runState struct {
	events    chan steps.Event
	decisions chan steps.Decision
	ctx       context.Context //nolint:containedctx // the run's lifetime, cancelled by ctrl+c.
	cancel    context.CancelFunc
	shared    *runShared

	rows  []*stepRow
	index map[string]int
	logs  map[string]*logRing

	pane       logPane
	viewing    string // step whose log is shown
	followStep bool   // show the running step's log
	logFocus   bool
	cursor     int

	confirm      *steps.Event
	promptOffset int
	askingCancel bool
	cancelling   bool
	declined     bool
	rollingBack  string

	firstTime time.Time
	lastTime  time.Time
	done      *steps.Result
	closed    bool
	returned  bool
}

type (
	// eventsMsg carries the events read in one go; closed means the
	// engine closed the channel.
	eventsMsg struct {
		events []steps.Event
		closed bool
	}
	runReturnedMsg struct{}
)

// readEvents reads what the engine has sent so far (at least one event)
// and re-arms itself from handleEvents (bubbletea examples/realtime).
func readEvents(ch <-chan steps.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsMsg{closed: true}
		}
		batch := []steps.Event{ev}
		for len(batch) < 1024 {
			select {
			case ev, ok := <-ch:
				if !ok {
					return eventsMsg{events: batch, closed: true}
				}
				batch = append(batch, ev)
			default:
				return eventsMsg{events: batch}
			}
		}
		return eventsMsg{events: batch}
	}
}

func (m *model) startRun() tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	r := &runState{
		events:     make(chan steps.Event, 256),
		decisions:  make(chan steps.Decision, 1),
		ctx:        ctx,
		cancel:     cancel,
		shared:     &runShared{returned: make(chan struct{})},
		index:      map[string]int{},
		logs:       map[string]*logRing{},
		pane:       newLogPane(),
		followStep: true,
	}
	if m.plan != nil {
		for _, st := range m.plan.Steps {
			r.addStep(st)
		}
	}
	m.run = r
	e, to := m.engine, m.to
	start := func() tea.Msg {
		defer close(r.shared.returned)
		if !r.shared.begin() {
			return runReturnedMsg{}
		}
		e.Run(ctx, to, r.events, r.decisions)
		return runReturnedMsg{}
	}
	return tea.Batch(start, readEvents(r.events))
}

func (r *runState) addStep(st steps.StepInfo) *stepRow {
	if i, ok := r.index[st.ID]; ok {
		r.rows[i].info = st
		return r.rows[i]
	}
	row := &stepRow{info: st}
	r.index[st.ID] = len(r.rows)
	r.rows = append(r.rows, row)
	return row
}

func (r *runState) row(id string) *stepRow {
	if i, ok := r.index[id]; ok {
		return r.rows[i]
	}
	return r.addStep(steps.StepInfo{ID: id, Name: id})
}

func (m *model) ring(id string) *logRing {
	lr, ok := m.run.logs[id]
	if !ok {
		lr = newLogRing(m.logCap)
		m.run.logs[id] = lr
	}
	return lr
}

func (m *model) handleEvents(msg eventsMsg) tea.Cmd {
	r := m.run
	if r == nil {
		return nil
	}
	var cmd tea.Cmd
	for _, ev := range msg.events {
		if c := m.applyEvent(ev); c != nil {
			cmd = c
		}
	}
	if msg.closed {
		r.closed = true
		if r.done == nil {
			res := steps.Result{
				Outcome: steps.OutcomeFailed, To: m.to,
				Error:   "the engine stopped without saying how the run ended",
				Message: "Check the state with `upshift detect` before you change anything.",
			}
			r.done = &res
		}
		return tea.Batch(cmd, m.finishRun())
	}
	return tea.Batch(cmd, readEvents(r.events))
}

func (m *model) applyEvent(ev steps.Event) tea.Cmd {
	r := m.run
	if r.firstTime.IsZero() {
		r.firstTime = ev.Time
	}
	if !ev.Time.IsZero() {
		r.lastTime = ev.Time
	}
	switch ev.Kind {
	case steps.EventPlan:
		for _, st := range ev.Plan {
			r.addStep(st)
		}
	case steps.EventStepStarted:
		row := r.row(ev.Step)
		row.status, row.started = statusRunning, ev.Time
		row.rollback = r.rollingBack != ""
		if r.followStep {
			m.viewStep(ev.Step)
			r.cursor = r.index[ev.Step]
		}
	case steps.EventLog:
		lr := m.ring(ev.Step)
		lr.Append(ev.Line)
		if r.viewing == ev.Step {
			r.pane.ring = lr
			r.pane.Appended(1)
		}
	case steps.EventProgress:
		row := r.row(ev.Step)
		row.progressDone, row.progressTotal = ev.Done, ev.Total
	case steps.EventConfirm:
		e := ev
		r.confirm, r.promptOffset = &e, 0
		r.askingCancel = false
	case steps.EventStepFinished:
		row := r.row(ev.Step)
		row.status, row.duration, row.err = ev.Status, ev.Duration, ev.Err
	case steps.EventRollingBack:
		r.rollingBack = ev.Err
		if r.rollingBack == "" {
			r.rollingBack = "a step failed"
		}
		r.confirm = nil
	case steps.EventDone:
		if ev.Result != nil {
			res := *ev.Result
			r.done = &res
			r.shared.setResult(res)
		}
		r.confirm, r.askingCancel = nil, false
		return m.finishRun()
	}
	return nil
}

// finishRun moves to the Result screen once the engine reported the end.
func (m *model) finishRun() tea.Cmd {
	if m.run.done == nil || m.screen != screenRun {
		return nil
	}
	m.screen, m.status = screenResult, ""
	m.result = &resultState{}
	m.layoutResult()
	return nil
}

func (m *model) handleRunReturned() tea.Cmd {
	if m.run != nil {
		m.run.returned = true
	}
	return nil
}

func (m *model) viewStep(id string) {
	r := m.run
	if r.viewing == id {
		return
	}
	r.viewing = id
	r.pane = newLogPane()
	if lr, ok := r.logs[id]; ok {
		r.pane.ring = lr
	}
}

func (m *model) decide(approve bool) tea.Cmd {
	r := m.run
	d := steps.Decision{Step: r.confirm.Step, Approve: approve}
	r.confirm = nil
	if !approve {
		r.declined = true
		m.status = "You said no. upshift is stopping the upgrade safely…"
	}
	ch, ctx := r.decisions, m.ctx
	return func() tea.Msg {
		select {
		case ch <- d:
		case <-ctx.Done():
		}
		return nil
	}
}

// askCancel is ctrl+c during a run: ask first, then cancel, then wait for
// the engine to report the end (gum spin.go).
func (m *model) askCancel() tea.Cmd {
	r := m.run
	switch {
	case r == nil || r.done != nil:
		return tea.Quit
	case r.cancelling:
		m.status = "Still cancelling… upshift leaves once every change is safe."
	case r.askingCancel:
		m.cancelRun()
	default:
		r.askingCancel = true
	}
	return nil
}

func (m *model) cancelRun() {
	r := m.run
	r.askingCancel, r.cancelling, r.confirm = false, true, nil
	r.cancel()
	m.status = "cancelling… upshift is stopping safely. Please wait."
}

func (m *model) runKey(msg tea.KeyPressMsg) tea.Cmd {
	r := m.run
	if r == nil {
		return nil
	}
	if r.askingCancel {
		switch {
		case key.Matches(msg, m.keys.Yes):
			m.cancelRun()
		case key.Matches(msg, m.keys.No), key.Matches(msg, m.keys.Back):
			r.askingCancel = false
		}
		return nil
	}
	if r.confirm != nil {
		switch {
		case key.Matches(msg, m.keys.Yes):
			return m.decide(true)
		case key.Matches(msg, m.keys.No):
			return m.decide(false)
		case key.Matches(msg, m.keys.Up):
			r.promptOffset = max(0, r.promptOffset-1)
		case key.Matches(msg, m.keys.Down):
			r.promptOffset++
		}
		return nil
	}
	_, logH := m.runPaneHeights()
	switch {
	case msg.String() == "q":
		m.status = "The upgrade is running. To stop it safely, press ctrl+c."
	case key.Matches(msg, m.keys.Tab):
		r.logFocus = !r.logFocus
	case key.Matches(msg, m.keys.Follow):
		r.followStep = true
		for _, row := range r.rows {
			if row.status == statusRunning {
				m.viewStep(row.info.ID)
				r.cursor = r.index[row.info.ID]
			}
		}
		r.pane.Follow()
	case r.logFocus && key.Matches(msg, m.keys.Up):
		r.pane.Scroll(1, logH)
	case r.logFocus && key.Matches(msg, m.keys.Down):
		r.pane.Scroll(-1, logH)
	case r.logFocus && key.Matches(msg, m.keys.PageUp):
		r.pane.Scroll(logH-1, logH)
	case r.logFocus && key.Matches(msg, m.keys.PageDown):
		r.pane.Scroll(-(logH - 1), logH)
	case key.Matches(msg, m.keys.Up), key.Matches(msg, m.keys.Down):
		if len(r.rows) == 0 {
			return nil
		}
		if key.Matches(msg, m.keys.Up) {
			r.cursor = max(0, r.cursor-1)
		} else {
			r.cursor = min(len(r.rows)-1, r.cursor+1)
		}
		id := r.rows[r.cursor].info.ID
		r.followStep = r.rows[r.cursor].status == statusRunning
		m.viewStep(id)
	}
	return nil
}

// runCtxDone is closed once the run's context is cancelled (tests).
func (m *model) runCtxDone() <-chan struct{} { return m.run.ctx.Done() }
