package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

func testOptions(w, h int) Options {
	return Options{NoColor: false, Now: func() time.Time { return t0.Add(90 * time.Second) }, NoAnimation: true, Width: w, Height: h}
}

// pump runs cmd and feeds what it returns back into Update, like a Program
// would, except for the run itself (tests feed its events by hand).
func pump(t *testing.T, m *model, cmd tea.Cmd) {
	t.Helper()
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			pump(t, m, c)
		}
	case planApprovedMsg:
		m.Update(msg) // starts the run; its commands are not executed here
	default:
		_, next := m.Update(msg)
		pump(t, m, next)
	}
}

func press(t *testing.T, m *model, keys ...string) {
	t.Helper()
	for _, k := range keys {
		var msg tea.KeyPressMsg
		switch k {
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			msg = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "up":
			msg = tea.KeyPressMsg{Code: tea.KeyUp}
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		case "tab":
			msg = tea.KeyPressMsg{Code: tea.KeyTab}
		case "ctrl+c":
			msg = tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
		default:
			msg = tea.KeyPressMsg{Code: rune(k[0]), Text: k}
		}
		before := m.run
		_, cmd := m.Update(msg)
		if m.run != before {
			continue // a run started: tests feed its events by hand
		}
		pump(t, m, cmd)
	}
}

func plain(m *model) string { return ansi.Strip(m.View().Content) }

func requireContains(t *testing.T, m *model, want ...string) {
	t.Helper()
	v := plain(m)
	for _, w := range want {
		if !strings.Contains(v, w) {
			t.Fatalf("view lacks %q:\n%s", w, v)
		}
	}
}

func newTestModel(t *testing.T, f *fakeEngine) *model {
	t.Helper()
	m := newModel(f, testOptions(80, 24))
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	pump(t, m, m.Init())
	return m
}

func TestUpdateWizardFlow(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f)
	requireContains(t, m, "upshift · Overview", "upshift-demo 1.0.0", "alembic head 0002_notes", "worker restarted 2 times", "Press enter to choose a version")

	press(t, m, "enter")
	requireContains(t, m, "upshift · Choose a version", "> 2.1.0", "required stop", "installed now")
	press(t, m, "up", "up", "up", "up", "up")
	requireContains(t, m, "> 1.1.0")

	press(t, m, "enter")
	requireContains(t, m, "upshift · What changes · 1.0.0 → 1.1.0", "MANUAL ACTION", "1 left")
	press(t, m, "enter")
	requireContains(t, m, "Please acknowledge each")
	if m.screen != screenChanges {
		t.Fatal("enter must not leave before every item is acknowledged")
	}
	press(t, m, "y")
	requireContains(t, m, "All acknowledged")

	press(t, m, "enter")
	requireContains(t, m, "upshift · Plan", "Free disk for the backup", "about 52.0 MiB", "about 45s", "Merge your .env", "asks you first")
	press(t, m, "e")
	requireContains(t, m, "upshift saves the database")
	press(t, m, "esc")
	if m.screen != screenChanges {
		t.Fatalf("esc on the plan goes back, screen = %d", m.screen)
	}
	press(t, m, "enter", "enter")
	if m.screen != screenRun || m.run == nil {
		t.Fatalf("enter on the plan starts the run, screen = %d", m.screen)
	}
	requireContains(t, m, "upshift · Upgrading · 1.0.0 → 1.1.0", "Back up everything")
}

func TestUpdateBlockedTarget(t *testing.T) {
	f := newFakeEngine()
	f.targets[3].Blocked = "needs PostgreSQL 17"
	m := newTestModel(t, f)
	press(t, m, "enter")
	requireContains(t, m, "> 2.0.0", "blocked: needs PostgreSQL 17")
	press(t, m, "down")
	requireContains(t, m, "> 2.0.0")
}

func TestUpdateDetectError(t *testing.T) {
	f := newFakeEngine()
	f.detectErr = errDocker
	m := newTestModel(t, f)
	requireContains(t, m, "upshift could not read your stack", "Nothing was changed", "press r")
	press(t, m, "enter")
	if m.screen != screenOverview {
		t.Fatal("enter without an overview must stay")
	}
}

func TestUpdateQuitOutsideRun(t *testing.T) {
	m := newTestModel(t, newFakeEngine())
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"})
	if cmd == nil {
		t.Fatal("q must quit outside a run")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("q must quit outside a run")
	}
}

// runModel returns a model on the run screen; events are fed by hand.
func runModel(t *testing.T, to string) *model {
	t.Helper()
	f := newFakeEngine()
	m := newTestModel(t, f)
	m.Update(targetChosenMsg{version: to})
	pump(t, m, m.planCmd(to))
	m.Update(planApprovedMsg{})
	return m
}

func feed(m *model, evs ...steps.Event) tea.Cmd {
	for i := range evs {
		if evs[i].Time.IsZero() {
			evs[i].Time = t0.Add(time.Duration(i) * time.Second)
		}
	}
	_, cmd := m.Update(eventsMsg{events: evs})
	return cmd
}

func TestUpdateRunConfirmAndDiff(t *testing.T) {
	m := runModel(t, "1.1.0")
	feed(m,
		steps.Event{Kind: steps.EventStepStarted, Step: "1.1.0/env"},
		steps.Event{Kind: steps.EventConfirm, Step: "1.1.0/env", Prompt: "@@ -1 +1 @@\n-OLD=1\n+NEW=1\n"},
	)
	requireContains(t, m, "Confirm · Merge your .env", "It touches: .env", "-OLD=1", "+NEW=1", "Go ahead? (y/n)")
	v := m.View().Content
	if !strings.Contains(v, m.styles.DiffAdd.Render("+NEW=1")) || !strings.Contains(v, m.styles.DiffDel.Render("-OLD=1")) {
		t.Fatal("diff lines must be coloured")
	}
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'y', Text: "y"})
	if cmd == nil {
		t.Fatal("y must send a decision")
	}
	cmd()
	select {
	case d := <-m.run.decisions:
		if d != (steps.Decision{Step: "1.1.0/env", Approve: true}) {
			t.Fatalf("decision = %+v", d)
		}
	default:
		t.Fatal("no decision sent")
	}
	if m.run.confirm != nil {
		t.Fatal("prompt must close after y")
	}
}

func TestUpdateCtrlCAsksThenCancels(t *testing.T) {
	m := runModel(t, "1.1.0")
	feed(m, steps.Event{Kind: steps.EventStepStarted, Step: "1.1.0/backup"})
	press(t, m, "q")
	if m.screen != screenRun {
		t.Fatal("q must not quit during a run")
	}
	press(t, m, "ctrl+c")
	requireContains(t, m, "Cancel the upgrade?", "Cancel? (y/n)")
	press(t, m, "n")
	if m.run.askingCancel || m.run.cancelling {
		t.Fatal("n keeps going")
	}
	press(t, m, "ctrl+c", "y")
	requireContains(t, m, "cancelling…")
	select {
	case <-m.runCtxDone():
	default:
		t.Fatal("the run's context must be cancelled")
	}
	press(t, m, "ctrl+c")
	if m.screen != screenRun {
		t.Fatal("ctrl+c while cancelling must wait for the engine")
	}
	feed(m, steps.Event{Kind: steps.EventDone, Result: &steps.Result{Outcome: steps.OutcomeAborted, From: "1.0.0", To: "1.1.0", Reached: "1.0.0"}})
	requireContains(t, m, "upshift · Cancelled", "You cancelled the upgrade")
}

func TestUpdateLogPaneFollowAndScroll(t *testing.T) {
	m := runModel(t, "1.1.0")
	evs := []steps.Event{{Kind: steps.EventStepStarted, Step: "1.1.0/backup"}}
	for i := range 100 {
		evs = append(evs, steps.Event{Kind: steps.EventLog, Step: "1.1.0/backup", Line: "line " + itoa(i)})
	}
	feed(m, evs...)
	requireContains(t, m, "line 99")
	press(t, m, "tab", "up", "up")
	requireContains(t, m, "line 97", "paused")
	if strings.Contains(plain(m), "line 99") {
		t.Fatal("scrolled back view must not show the newest line")
	}
	feed(m, steps.Event{Kind: steps.EventLog, Step: "1.1.0/backup", Line: "line 100"})
	requireContains(t, m, "line 97")
	press(t, m, "G")
	requireContains(t, m, "line 100")
}

func TestUpdateResizeReflows(t *testing.T) {
	m := runModel(t, "1.1.0")
	for _, size := range [][2]int{{80, 24}, {120, 40}, {100, 30}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		m.fixedW, m.fixedH = 0, 0
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		lines := strings.Split(plain(m), "\n")
		if len(lines) != size[1] {
			t.Fatalf("%v: %d lines", size, len(lines))
		}
		for _, l := range lines {
			if w := ansi.StringWidth(l); w > size[0] {
				t.Fatalf("%v: line wider than the terminal (%d): %q", size, w, l)
			}
		}
	}
}

func TestNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	m := newModel(newFakeEngine(), testOptions(80, 24))
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	pump(t, m, m.Init())
	if v := m.View().Content; strings.Contains(v, "\x1b[38") || strings.Contains(v, "\x1b[48") {
		t.Fatalf("NO_COLOR view has colours: %q", v)
	}
}

func TestUpdateHelpAndLongTargetList(t *testing.T) {
	f := newFakeEngine()
	for i := range 40 {
		f.targets = append(f.targets, Target{Version: "3." + itoa(i) + ".0"})
	}
	f.targets[3].Latest = false
	f.targets[len(f.targets)-1].Latest = true
	m := newTestModel(t, f)
	press(t, m, "?")
	requireContains(t, m, "Keys", "look again")
	press(t, m, "?", "enter")
	requireContains(t, m, "> 3.39.0", "more")
	if n := strings.Count(plain(m), "\n") + 1; n != 24 {
		t.Fatalf("view has %d lines", n)
	}
}

// A consent step (MaiBot's EULA) asks for agreement, not for a go-ahead.
func TestUpdateConsentQuestion(t *testing.T) {
	m := runModel(t, "1.1.0")
	feed(m,
		steps.Event{Kind: steps.EventStepStarted, Step: "1.1.0/stop"},
		steps.Event{Kind: steps.EventConfirm, Step: "1.1.0/stop", Consent: true, Prompt: "The EULA changed in 1.1.0 (EULA_AGREE: aaa → bbb)."},
	)
	requireContains(t, m, "The EULA changed in 1.1.0", "Do you agree to these documents? (y/n)")
	if strings.Contains(plain(m), "Go ahead?") {
		t.Fatal("a consent must not be asked as a go-ahead")
	}
}

func TestUpdateDeclineConfirm(t *testing.T) {
	m := runModel(t, "1.1.0")
	feed(m,
		steps.Event{Kind: steps.EventStepStarted, Step: "1.1.0/stop"},
		steps.Event{Kind: steps.EventConfirm, Step: "1.1.0/stop", Prompt: "Your app will be down."},
	)
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'n', Text: "n"})
	cmd()
	if d := <-m.run.decisions; d.Approve {
		t.Fatal("n must decline")
	}
	requireContains(t, m, "You said no")
}

func batchCmds(cmd tea.Cmd) []tea.Cmd {
	if cmd == nil {
		return nil
	}
	return []tea.Cmd{func() tea.Msg {
		if b, ok := cmd().(tea.BatchMsg); ok {
			for _, c := range b {
				go c()
			}
		}
		return nil
	}}
}

// A notice of the release-notes source (stale cache) is on the plan screen.
func TestPlanShowsNotesNotice(t *testing.T) {
	f := newFakeEngine()
	p := f.plans["1.1.0"]
	p.Notices = []string{"GitHub answered 503; using release notes cached at 2026-11-30 10:00 UTC"}
	f.plans["1.1.0"] = p
	m := newTestModel(t, f)
	m.Update(targetChosenMsg{version: "1.1.0"})
	pump(t, m, m.planCmd("1.1.0"))
	m.Update(changesAckedMsg{})
	requireContains(t, m, "using release notes cached")
}

// A group (one note section) is acknowledged with one yes; a low-confidence
// item is shown but not asked for.
func TestAcknowledgeByGroup(t *testing.T) {
	f := newFakeEngine()
	p := f.plans["1.1.0"]
	g := "1.1.0 · Breaking changes"
	p.Hops[0].Warnings = []WarningView{
		{Kind: WarningBreaking, Text: "Setting A is removed. Long text.", Headline: "Setting A is removed", Group: g},
		{Kind: WarningManualAction, Text: "Run the B script.", Headline: "Run the B script", Group: g},
		{Kind: WarningDeprecation, Text: "C may go away", Headline: "C may go away", Group: "1.1.0 · may concern you", Low: true},
	}
	f.plans["1.1.0"] = p
	m := newTestModel(t, f)
	m.Update(targetChosenMsg{version: "1.1.0"})
	pump(t, m, m.planCmd("1.1.0"))
	requireContains(t, m, "1 left", "Breaking changes", "Run the B script", "not asked: low confidence")
	press(t, m, "y")
	requireContains(t, m, "All acknowledged")
}
