package tui

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// screen is where the wizard is. Only the root model changes it.
type screen int

const (
	screenOverview screen = iota
	screenTarget
	screenChanges
	screenPlan
	screenRun
	screenResult
)

// Messages from engine calls (run in tea.Cmds).
type (
	detectedMsg struct {
		overview Overview
		err      error
	}
	targetsMsg struct {
		targets []Target
		err     error
	}
	planMsg struct {
		to   string
		plan PlanView
		err  error
	}
)

// Messages the screens emit; the root model alone turns them into screen
// changes (soft-serve pkg/ui, huh nextGroupMsg).
type (
	overviewDoneMsg struct{}
	targetChosenMsg struct{ version string }
	changesAckedMsg struct{}
	planApprovedMsg struct{}
	backMsg         struct{}
)

// emit hands a screen's transition to the root. The root applies it in the
// same Update, so keys typed ahead land on the next screen.
func (m *model) emit(msg tea.Msg) tea.Cmd {
	m.transition = msg
	return nil
}

// model is the root of the wizard.
type model struct {
	engine  Engine
	ctx     context.Context //nolint:containedctx // the root model owns the run's lifetime.
	now     func() time.Time
	noColor bool
	animate bool
	logCap  int

	styles  Styles
	keys    KeyMap
	help    help.Model
	spinner spinner.Model

	fixedW, fixedH int
	width, height  int
	screen         screen
	showHelp       bool
	status         string
	transition     tea.Msg // set by emit, applied by Update

	// Overview.
	overview  *Overview
	detectErr error

	// Choose target.
	targets      []Target
	targetsErr   error
	targetCursor int

	// What changes and Plan.
	to       string
	plan     *PlanView
	planErr  error
	changes  changesState
	planPage planState

	// Run and Result.
	run    *runState
	result *resultState
}

// New returns the wizard as a Bubble Tea model.
func New(e Engine, opts Options) tea.Model { return newModel(e, opts) }

func newModel(e Engine, opts Options) *model {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	noColor := opts.NoColor || os.Getenv("NO_COLOR") != ""
	m := &model{
		engine:  e,
		ctx:     ctx,
		now:     now,
		noColor: noColor,
		animate: !opts.NoAnimation,
		logCap:  opts.LogLines,
		styles:  DefaultStyles(noColor),
		keys:    DefaultKeyMap(),
		help:    help.New(),
		fixedW:  opts.Width,
		fixedH:  opts.Height,
		width:   max(opts.Width, 80),
		height:  max(opts.Height, 24),
	}
	m.help.Styles = m.styles.Help
	m.spinner = spinner.New(spinner.WithSpinner(spinner.Line), spinner.WithStyle(m.styles.Running))
	if m.logCap <= 0 {
		m.logCap = DefaultLogLines
	}
	return m
}

// Init starts detection and the version list at once.
func (m *model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.detectCmd(), m.targetsCmd()}
	if m.animate {
		cmds = append(cmds, m.spinner.Tick)
	}
	return tea.Batch(cmds...)
}

func (m *model) detectCmd() tea.Cmd {
	e, ctx := m.engine, m.ctx
	return func() tea.Msg {
		ov, err := e.Detect(ctx)
		return detectedMsg{overview: ov, err: err}
	}
}

func (m *model) targetsCmd() tea.Cmd {
	e, ctx := m.engine, m.ctx
	return func() tea.Msg {
		ts, err := e.Targets(ctx)
		return targetsMsg{targets: ts, err: err}
	}
}

func (m *model) planCmd(to string) tea.Cmd {
	e, ctx := m.engine, m.ctx
	return func() tea.Msg {
		p, err := e.Plan(ctx, to)
		return planMsg{to: to, plan: p, err: err}
	}
}

// Update is the state machine: engine results, screen transitions, keys.
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		if m.fixedW > 0 {
			m.width = m.fixedW
		}
		if m.fixedH > 0 {
			m.height = m.fixedH
		}
		m.layout()
		return m, nil
	case spinner.TickMsg:
		if !m.animate {
			return m, nil
		}
		var cmd tea.Cmd
		m.spinner, cmd = m.spinner.Update(msg)
		return m, cmd

	case detectedMsg:
		m.detectErr = msg.err
		if msg.err == nil {
			ov := msg.overview
			m.overview = &ov
		}
		return m, nil
	case targetsMsg:
		m.targetsErr = msg.err
		m.targets = msg.targets
		m.targetCursor = preselect(msg.targets)
		return m, nil
	case planMsg:
		if msg.to != m.to {
			return m, nil // an answer for a version the admin left already
		}
		m.planErr = msg.err
		if msg.err == nil {
			p := msg.plan
			m.plan = &p
			m.changes = newChangesState(p)
			m.planPage = planState{}
			m.layout()
		}
		return m, nil

	case overviewDoneMsg:
		m.screen, m.status = screenTarget, ""
		return m, nil
	case targetChosenMsg:
		m.screen, m.status = screenChanges, ""
		if msg.version != m.to || m.plan == nil {
			m.to, m.plan, m.planErr = msg.version, nil, nil
			return m, m.planCmd(msg.version)
		}
		return m, nil
	case changesAckedMsg:
		m.screen, m.status = screenPlan, ""
		m.layout()
		return m, nil
	case planApprovedMsg:
		m.screen, m.status = screenRun, ""
		return m, m.startRun()
	case backMsg:
		if m.screen > screenOverview && m.screen < screenRun {
			m.screen, m.status = m.screen-1, ""
		}
		return m, nil

	case eventsMsg:
		return m, m.handleEvents(msg)
	case runReturnedMsg:
		return m, m.handleRunReturned()

	case tea.KeyPressMsg:
		cmd := m.handleKey(msg)
		if next := m.transition; next != nil {
			m.transition = nil
			_, more := m.Update(next)
			return m, tea.Batch(cmd, more)
		}
		return m, cmd
	}
	return m, nil
}

func (m *model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	running := m.screen == screenRun
	switch {
	case key.Matches(msg, m.keys.Help) && !m.inPrompt():
		m.showHelp = !m.showHelp
		return nil
	case running && msg.String() == "ctrl+c":
		return m.askCancel()
	case !running && key.Matches(msg, m.keys.Quit):
		return tea.Quit
	case m.showHelp && key.Matches(msg, m.keys.Back):
		m.showHelp = false
		return nil
	}
	switch m.screen {
	case screenOverview:
		return m.overviewKey(msg)
	case screenTarget:
		return m.targetKey(msg)
	case screenChanges:
		return m.changesKey(msg)
	case screenPlan:
		return m.planKey(msg)
	case screenRun:
		return m.runKey(msg)
	case screenResult:
		return m.resultKey(msg)
	}
	return nil
}

// layout re-flows whatever depends on the terminal size.
func (m *model) layout() {
	m.help.SetWidth(m.width)
	m.layoutChanges()
	m.layoutPlan()
	m.layoutResult()
}

// bodyHeight is what is left between the title and the footer.
func (m *model) bodyHeight() int { return max(3, m.height-4) }

// View draws title, body and footer, fitted to the terminal.
func (m *model) View() tea.View {
	var title, body string
	switch m.screen {
	case screenOverview:
		title, body = "Overview", m.overviewView()
	case screenTarget:
		title, body = "Choose a version", m.targetView()
	case screenChanges:
		title, body = "What changes", m.changesView()
	case screenPlan:
		title, body = "Plan", m.planView()
	case screenRun:
		title, body = m.runTitle(), m.runView()
	case screenResult:
		title, body = m.resultTitle(), m.resultView()
	}
	if m.to != "" && m.screen >= screenChanges && m.screen <= screenPlan && m.overview != nil {
		title += " · " + m.overview.Version + " → " + m.to
	}
	if m.showHelp {
		body = m.styles.Heading.Render("Keys") + "\n\n" + m.help.FullHelpView(m.screenKeys().full)
	}
	head := m.styles.Title.Render("upshift · " + title)
	foot := m.styles.Status.Render(m.status) + "\n" + m.help.ShortHelpView(m.screenKeys().short)
	out := head + "\n\n" + fit(body, m.width, m.bodyHeight()) + "\n" + foot
	v := tea.NewView(out)
	v.AltScreen = true
	v.WindowTitle = "upshift · " + title
	return v
}

// fit cuts or pads s to exactly h lines of at most w cells.
func fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			lines[i] = ansi.Truncate(l, w, "…")
		}
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// wrap breaks plain text to width, keeping an indent on every line.
func wrap(s string, width int, indent string) string {
	w := max(10, width-lipgloss.Width(indent))
	out := ansi.Wordwrap(s, w, "")
	out = ansi.Hardwrap(out, w, true)
	return indent + strings.ReplaceAll(out, "\n", "\n"+indent)
}

func (m *model) inPrompt() bool {
	return m.run != nil && (m.run.confirm != nil || m.run.askingCancel)
}

// screenKeys says which keys the footer and the full help show.
func (m *model) screenKeys() screenKeys {
	k := m.keys
	nav := []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown}
	general := []key.Binding{k.Help, k.Quit}
	switch m.screen {
	case screenOverview:
		return screenKeys{short: []key.Binding{k.Enter, k.Refresh, k.Help, k.Quit}, full: [][]key.Binding{{k.Enter, k.Refresh}, general}}
	case screenTarget:
		return screenKeys{short: []key.Binding{k.Up, k.Down, k.Enter, k.Back, k.Help, k.Quit}, full: [][]key.Binding{{k.Up, k.Down}, {k.Enter, k.Back}, general}}
	case screenChanges:
		return screenKeys{short: []key.Binding{k.Ack, k.Tab, k.Enter, k.Back, k.Help, k.Quit}, full: [][]key.Binding{nav, {k.Ack, k.Tab, k.Enter, k.Back}, general}}
	case screenPlan:
		return screenKeys{short: []key.Binding{k.Explain, k.Enter, k.Back, k.Help, k.Quit}, full: [][]key.Binding{nav, {k.Explain, k.Enter, k.Back}, general}}
	case screenRun:
		if m.inPrompt() {
			return screenKeys{short: []key.Binding{k.Yes, k.No, k.Up, k.Down}, full: [][]key.Binding{{k.Yes, k.No}, {k.Up, k.Down}}}
		}
		return screenKeys{short: []key.Binding{k.Tab, k.Follow, k.Help, k.Cancel}, full: [][]key.Binding{nav, {k.Tab, k.Follow}, {k.Help, k.Cancel}}}
	case screenResult:
		return screenKeys{short: []key.Binding{k.Up, k.Down, k.Help, k.Quit}, full: [][]key.Binding{nav, general}}
	}
	return screenKeys{}
}

func itoa(n int) string { return strconv.Itoa(n) }
