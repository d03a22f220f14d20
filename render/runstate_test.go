package render

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// TestHistoryTellsRunsApart: never started, rolled back and failed to roll
// back are not all "failed".
func TestHistoryTellsRunsApart(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	run := func(res *steps.Result) *steps.RunState {
		return &steps.RunState{Info: steps.RunInfo{From: "2.2.6", To: "2.2.10", Started: at}, Result: res}
	}
	runs := []*steps.RunState{
		run(&steps.Result{Outcome: steps.OutcomeFailed, Unchanged: true}),
		run(&steps.Result{Outcome: steps.OutcomeRolledBack, Reached: "2.2.6"}),
		run(&steps.Result{Outcome: steps.OutcomeFailed, RollbackFailed: true, Backup: "set-1"}),
		run(&steps.Result{Outcome: steps.OutcomeFailed, Partial: true, Reached: "2.2.8"}),
		run(nil),
	}
	var b bytes.Buffer
	if err := History(&b, runs, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"not started (nothing was changed)", "rolled back (runs 2.2.6 again)", "ROLLBACK FAILED (upshift resume or upshift restore set-1)", "stopped on the way (runs 2.2.8, verified)", "INTERRUPTED (upshift resume)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("history lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := History(&b, runs[:1], true); err != nil || !strings.Contains(b.String(), `"state": "not started"`) {
		t.Errorf("json: %v\n%s", err, b.String())
	}
}
