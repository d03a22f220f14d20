package tui

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

func TestRunQuitBeforeUpgrade(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := testOptions(80, 24)
	res, err := Run(ctx, newFakeEngine(), opts, strings.NewReader("q"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != "" {
		t.Fatalf("Outcome = %q, want empty when the admin quits before running", res.Outcome)
	}
}

// A wizard that stops mid-run (its context ends) must not leave the engine
// running: waitRun cancels it and waits for its Result.
func TestWaitRunCancelsTheEngine(t *testing.T) {
	f := newFakeEngine()
	f.runs["1.1.0"][0].hold = true
	m := newModel(f, testOptions(80, 24))
	m.to = "1.1.0"
	cmd := m.startRun()
	go func() {
		// Play the program's part: run the engine, drain nothing (waitRun does).
		for _, c := range batchCmds(cmd) {
			go c()
		}
	}()
	done := make(chan steps.Result, 1)
	go func() { done <- m.waitRun() }()
	select {
	case res := <-done:
		if res.Outcome != steps.OutcomeAborted {
			t.Fatalf("Outcome = %q, want aborted", res.Outcome)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("waitRun did not return")
	}
}
