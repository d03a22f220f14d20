package wizard

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/steps"
	"github.com/seed-e7a9fb3b/upshift/tui"
)

// planOnly is a tui.Engine that answers with one fixed plan (the wizard's
// own mapping of a real one) and never runs.
type planOnly struct {
	pv tui.PlanView
}

var _ tui.Engine = planOnly{}

func (p planOnly) Detect(context.Context) (tui.Overview, error) {
	return tui.Overview{Project: "demo", App: "upshift-demo", Version: p.pv.From, DBEngine: "postgresql", DBVersion: "15"}, nil
}

func (p planOnly) Targets(context.Context) ([]tui.Target, error) {
	return []tui.Target{{Version: p.pv.From, Current: true}, {Version: p.pv.To, Latest: true}}, nil
}

func (p planOnly) Plan(context.Context, string) (tui.PlanView, error) { return p.pv, nil }

func (planOnly) Run(_ context.Context, _ string, events chan<- steps.Event, _ <-chan steps.Decision) {
	close(events)
}

// screenOf asks the program for its screen (ANSI stripped) from the
// program's own goroutine.
type screenOf struct{ reply chan string }

func probe(m tea.Model, msg tea.Msg) tea.Msg {
	if p, ok := msg.(screenOf); ok {
		p.reply <- ansi.Strip(m.View().Content)
		return nil
	}
	return msg
}

// frames yields the current screen on each read cycle, for teatest.WaitFor.
type frames struct {
	tm      *teatest.TestModel
	pending []byte
	eof     bool
}

func (r *frames) Read(b []byte) (int, error) {
	if len(r.pending) == 0 {
		if r.eof {
			r.eof = false
			return 0, io.EOF
		}
		reply := make(chan string, 1)
		r.tm.Send(screenOf{reply: reply})
		select {
		case s := <-reply:
			r.pending = []byte("\x00frame\x00" + s)
		case <-time.After(5 * time.Second):
			return 0, io.EOF
		}
		r.eof = true
	}
	n := copy(b, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

func lastScreen(b []byte) string {
	if i := bytes.LastIndex(b, []byte("\x00frame\x00")); i >= 0 {
		return string(b[i+len("\x00frame\x00"):])
	}
	return string(b)
}

// squash drops every blank so a text matches however the screen wrapped it.
func squash(s string) string { return strings.Join(strings.Fields(s), "") }

// TestWizardPlanShowsPostgresHop: the wizard's plan screen for the demo
// at 2.1.0 on PostgreSQL 15 to 3.0.0 with --postgres-image — the engine's
// own plan of the demo's real files (offline: no Docker needed), mapped by
// the wizard — shows the PostgreSQL hop's steps under their own names
// ("… PostgreSQL 15 → 17") and, with e, each step's own explanation, read
// from its Info (so a reworded step stays covered).
func TestWizardPlanShowsPostgresHop(t *testing.T) {
	const img = "upshift-test/postgres:17"
	dir := filepath.Join(t.TempDir(), "demo")
	if err := demo.WriteStack(demo.StackOptions{Dir: dir, Version: "2.1.0", PostgresImage: "upshift-test/postgres:15", Project: "wizard-pg", Port: 18080}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sess, err := engine.OpenForPlan(ctx, engine.Options{
		Stack:         detect.StackOptions{Dir: dir},
		PostgresImage: img,
		Builtins: engine.Builtins{
			Notes:        map[string]releases.Source{"upshift-demo": releases.VersionedSource{Versions: demo.Versions, Read: demo.ReleaseNotes}},
			EnvTemplates: map[string]func(string) ([]byte, error){"upshift-demo": demo.EnvTemplate},
			Templates:    map[string]func(string, string) ([]byte, error){"upshift-demo": demo.Template},
		},
	}, engine.PlanMode{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	pl, err := sess.Plan(ctx, "3.0.0", engine.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Path.DBHop == nil || pl.Path.Blocked {
		t.Fatalf("the plan has no PostgreSQL hop (blocked %v: %v)", pl.Path.Blocked, pl.Path.Blockers)
	}
	pv := planView(pl, pl.Estimate(ctx), nil)
	var pgSteps []steps.StepInfo
	for _, in := range engine.Infos(pl.Plan) {
		if in.Hop == "postgresql-17" {
			pgSteps = append(pgSteps, in)
		}
	}
	if len(pgSteps) < 5 {
		t.Fatalf("the plan has %d steps of the PostgreSQL hop", len(pgSteps))
	}

	// Tall enough that the whole plan fits in its viewport.
	tm := teatest.NewTestModel(t, tui.New(planOnly{pv: pv}, tui.Options{NoAnimation: true, Now: func() time.Time { return time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC) }}),
		teatest.WithInitialTermSize(120, 200),
		teatest.WithProgramOptions(tea.WithFilter(probe), tea.WithColorProfile(colorprofile.ANSI256)))
	wait := func(ok func(screen string) bool) string {
		t.Helper()
		var screen string
		teatest.WaitFor(t, &frames{tm: tm}, func(b []byte) bool {
			screen = lastScreen(b)
			return ok(screen)
		}, teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
		return screen
	}
	has := func(texts ...string) func(string) bool {
		return func(s string) bool {
			for _, x := range texts {
				if !strings.Contains(s, x) {
					return false
				}
			}
			return true
		}
	}
	wait(has("Press enter to choose a version"))
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	wait(has("Pick the version to upgrade to", "> 3.0.0"))
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	// What changes: the path names the server's hop, its notes are the
	// hop's own explanation.
	screen := wait(func(s string) bool {
		return strings.Contains(s, "Press enter to see the plan") || strings.Contains(s, "Read each item")
	})
	for !strings.Contains(screen, "All acknowledged") {
		tm.Type("y")
		screen = wait(func(s string) bool { return !strings.Contains(s, "Working out") })
	}
	if !strings.Contains(screen, "Path: 2.1.0 → PostgreSQL 15 → 17 → 3.0.0") {
		t.Errorf("the path does not show the PostgreSQL hop:\n%s", screen)
	}
	if x := pl.Path.DBHop.Explain(); x == "" || !strings.Contains(squash(screen), squash(x)) {
		t.Errorf("the hop's own explanation %q is not on the screen:\n%s", x, screen)
	}
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	screen = wait(has("Press enter to start the upgrade"))
	for _, in := range pgSteps {
		if !strings.Contains(screen, in.Name) {
			t.Errorf("the plan screen lacks the step %q:\n%s", in.Name, screen)
		}
	}
	if !strings.Contains(screen, "PostgreSQL 15 → 17") {
		t.Errorf("the plan screen does not name PostgreSQL 15 → 17:\n%s", screen)
	}
	tm.Type("e")
	screen = wait(func(s string) bool { return strings.Contains(squash(s), squash(pgSteps[0].Explain)) })
	for _, in := range pgSteps {
		if in.Explain == "" || !strings.Contains(squash(screen), squash(in.Explain)) {
			t.Errorf("the explained plan lacks %s's own explanation %q:\n%s", in.ID, in.Explain, screen)
		}
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
}
