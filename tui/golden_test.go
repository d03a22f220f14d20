package tui

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// probeMsg asks the program for the screen as it is after every message
// sent before it. The filter answers it from the program's own goroutine,
// so the tests read rendered text without racing the model.
type probeMsg struct{ reply chan string }

func probeFilter(m tea.Model, msg tea.Msg) tea.Msg {
	if p, ok := msg.(probeMsg); ok {
		// The filter sees the model before this message's Update, that is
		// after every earlier one.
		p.reply <- ansi.Strip(m.View().Content)
		return nil
	}
	return msg
}

const frameSep = "\x00frame\x00"

// screenReader turns the current screen into a stream of frames that
// teatest.WaitFor can read: each Read cycle yields one frame, then EOF.
type screenReader struct {
	tm      *teatest.TestModel
	pending []byte
	eof     bool
}

func (r *screenReader) Read(b []byte) (int, error) {
	if len(r.pending) == 0 {
		if r.eof {
			r.eof = false
			return 0, io.EOF
		}
		reply := make(chan string, 1)
		r.tm.Send(probeMsg{reply: reply})
		select {
		case s := <-reply:
			r.pending = []byte(frameSep + s)
		case <-time.After(5 * time.Second):
			return 0, io.EOF
		}
		r.eof = true
	}
	n := copy(b, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// lastFrame is the newest screen WaitFor has read.
func lastFrame(b []byte) []byte {
	if i := bytes.LastIndex(b, []byte(frameSep)); i >= 0 {
		return b[i+len(frameSep):]
	}
	return b
}

// waitScreen waits until the screen shows every text.
func waitScreen(t *testing.T, tm *teatest.TestModel, texts ...string) {
	t.Helper()
	teatest.WaitFor(t, &screenReader{tm: tm}, func(b []byte) bool {
		frame := lastFrame(b)
		for _, s := range texts {
			if !bytes.Contains(frame, []byte(s)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
}

func startProgram(t *testing.T, f *fakeEngine, w, h int) *teatest.TestModel {
	t.Helper()
	opts := testOptions(0, 0)
	return teatest.NewTestModel(t, New(f, opts),
		teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithFilter(probeFilter), tea.WithColorProfile(colorprofile.ANSI256)))
}

// finish quits the program, compares its last screen with the golden file
// and lets the fake engine finish.
func finish(t *testing.T, tm *teatest.TestModel) *model {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	fm, ok := tm.FinalModel(t, teatest.WithFinalTimeout(15*time.Second)).(*model)
	if !ok {
		t.Fatal("final model is not *model")
	}
	golden.RequireEqual(t, fm.View().Content)
	fm.waitRun()
	return fm
}

func send(tm *teatest.TestModel, keys ...string) {
	for _, k := range keys {
		switch k {
		case "enter":
			tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
		case "up":
			tm.Send(tea.KeyPressMsg{Code: tea.KeyUp})
		case "tab":
			tm.Send(tea.KeyPressMsg{Code: tea.KeyTab})
		case "ctrl+c":
			tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
		default:
			tm.Type(k)
		}
	}
}

// toPlan drives the wizard from the overview to the plan of 2.0.0, through
// the required stop 1.1.0.
func toPlan(t *testing.T, tm *teatest.TestModel, to string, ups int) {
	t.Helper()
	waitScreen(t, tm, "Press enter to choose a version")
	send(tm, "enter")
	waitScreen(t, tm, "Pick the version to upgrade to")
	for range ups {
		send(tm, "up")
	}
	waitScreen(t, tm, "> "+to)
	send(tm, "enter")
	waitScreen(t, tm, "Read each item")
	for !strings.Contains(currentScreen(t, tm), "All acknowledged") {
		send(tm, "y")
	}
	send(tm, "enter")
	waitScreen(t, tm, "Press enter to start the upgrade")
}

// currentScreen returns the current screen once.
func currentScreen(t *testing.T, tm *teatest.TestModel) string {
	t.Helper()
	b, err := io.ReadAll(&screenReader{tm: tm})
	if err != nil {
		t.Fatal(err)
	}
	return string(lastFrame(b))
}

// approveAll answers y to every confirmation until the result shows.
func approveAll(t *testing.T, tm *teatest.TestModel, until string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s := currentScreen(t, tm)
		switch {
		case strings.Contains(s, until):
			return
		case strings.Contains(s, "Go ahead? (y/n)"):
			send(tm, "y")
		}
		waitScreen(t, tm, "") // one more round trip through the program
	}
	t.Fatalf("never reached %q:\n%s", until, currentScreen(t, tm))
}

var sizes = []struct {
	name string
	w, h int
}{{"80x24", 80, 24}, {"120x40", 120, 40}}

func TestGolden(t *testing.T) {
	scenarios := []struct {
		name string
		fake func() *fakeEngine
		run  func(t *testing.T, tm *teatest.TestModel, f *fakeEngine)
	}{
		{"overview_loading", func() *fakeEngine {
			f := newFakeEngine()
			f.detectGate = make(chan struct{})
			return f
		}, func(t *testing.T, tm *teatest.TestModel, f *fakeEngine) {
			t.Cleanup(func() { close(f.detectGate) })
			waitScreen(t, tm, "Looking at your stack")
		}},
		{"overview", newFakeEngine, func(t *testing.T, tm *teatest.TestModel, _ *fakeEngine) {
			waitScreen(t, tm, "Press enter to choose a version")
		}},
		{"choose_target", newFakeEngine, func(t *testing.T, tm *teatest.TestModel, _ *fakeEngine) {
			waitScreen(t, tm, "Press enter to choose a version")
			send(tm, "enter")
			waitScreen(t, tm, "Pick the version to upgrade to", "> 2.1.0")
		}},
		{"what_changes", newFakeEngine, func(t *testing.T, tm *teatest.TestModel, _ *fakeEngine) {
			waitScreen(t, tm, "Press enter to choose a version")
			send(tm, "enter", "up", "enter")
			waitScreen(t, tm, "Read each item", "2 left")
			send(tm, "y")
			waitScreen(t, tm, "1 left")
		}},
		{"plan", newFakeEngine, func(t *testing.T, tm *teatest.TestModel, _ *fakeEngine) {
			toPlan(t, tm, "2.0.0", 1)
		}},
		{"plan_explained", newFakeEngine, func(t *testing.T, tm *teatest.TestModel, _ *fakeEngine) {
			toPlan(t, tm, "2.0.0", 1)
			send(tm, "e")
			waitScreen(t, tm, "upshift saves the database")
		}},
		{"run", func() *fakeEngine {
			f := newFakeEngine()
			f.runs["2.0.0"][0].hold = true
			return f
		}, func(t *testing.T, tm *teatest.TestModel, f *fakeEngine) {
			toPlan(t, tm, "2.0.0", 1)
			send(tm, "enter")
			waitScreen(t, tm, "copying .env and compose.yaml", "30.0 MiB / 48.0 MiB")
		}},
		{"confirm_diff", newFakeEngine, func(t *testing.T, tm *teatest.TestModel, _ *fakeEngine) {
			toPlan(t, tm, "1.1.0", 2)
			send(tm, "enter")
			waitScreen(t, tm, "Confirm · Merge your .env", "Go ahead? (y/n)")
		}},
		{"confirm_stop", newFakeEngine, func(t *testing.T, tm *teatest.TestModel, _ *fakeEngine) {
			toPlan(t, tm, "1.1.0", 2)
			send(tm, "enter")
			waitScreen(t, tm, "Confirm · Merge your .env")
			send(tm, "y")
			waitScreen(t, tm, "Confirm · Stop the app", "Go ahead? (y/n)")
		}},
		{"cancelling", func() *fakeEngine {
			f := newFakeEngine()
			f.runs["1.1.0"][0].hold = true
			return f
		}, func(t *testing.T, tm *teatest.TestModel, _ *fakeEngine) {
			toPlan(t, tm, "1.1.0", 2)
			send(tm, "enter")
			waitScreen(t, tm, "copying .env and compose.yaml")
			send(tm, "ctrl+c")
			waitScreen(t, tm, "Cancel? (y/n)")
		}},
		{"result_success", newFakeEngine, func(t *testing.T, tm *teatest.TestModel, _ *fakeEngine) {
			toPlan(t, tm, "2.0.0", 1)
			send(tm, "enter")
			approveAll(t, tm, "Upgrade complete")
		}},
		{"result_rollback", newFakeEngine, func(t *testing.T, tm *teatest.TestModel, _ *fakeEngine) {
			toPlan(t, tm, "2.1.0", 0)
			send(tm, "enter")
			approveAll(t, tm, "upshift put everything back")
		}},
		{"long_log", func() *fakeEngine {
			f := newFakeEngine()
			st := &f.runs["1.1.0"][0]
			st.hold = true
			for i := range 20000 {
				st.logs = append(st.logs, "row "+itoa(i)+" \x1b[32mok\x1b[0m\tpg_dump: dumping data for table notes, with a tab and a long tail that does not fit")
			}
			return f
		}, func(t *testing.T, tm *teatest.TestModel, _ *fakeEngine) {
			toPlan(t, tm, "1.1.0", 2)
			send(tm, "enter")
			waitScreen(t, tm, "row 19999 ok")
			send(tm, "tab", "up", "up", "up")
			waitScreen(t, tm, "row 19996 ok", "paused")
		}},
	}
	for _, sc := range scenarios {
		for _, sz := range sizes {
			t.Run(sc.name+"_"+sz.name, func(t *testing.T) {
				f := sc.fake()
				tm := startProgram(t, f, sz.w, sz.h)
				sc.run(t, tm, f)
				finish(t, tm)
			})
		}
	}
}
