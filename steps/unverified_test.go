package steps

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestRollbackUnverifiedIsRolledBack: a rollback whose verify could not
// check one thing (the schema head the profile names) is a rollback, said
// precisely, not a half-restored stack.
func TestRollbackUnverifiedIsRolledBack(t *testing.T) {
	var ran []string
	p := plan(&ran, "b", true, false)
	uv := &UnverifiedError{What: "the schema head is 4, but 2.2.8 expects 9"}
	p.Rollback = func() []Step {
		return []Step{&fakeStep{info: StepInfo{ID: "restore"}, ran: &ran}, &fakeStep{info: StepInfo{ID: "verify"}, ran: &ran, err: uv}}
	}
	res := (&Runner{}).Run(context.Background(), p, 0)
	if res.Outcome != OutcomeRolledBack || strings.Contains(res.Message, "half-restored") || !strings.Contains(res.Message, "expects 9") {
		t.Fatalf("result %+v", res)
	}
	// A real failure of the rollback stays one.
	p.Rollback = func() []Step {
		return []Step{&fakeStep{info: StepInfo{ID: "restore"}, ran: &ran, err: errors.New("pg_restore exited 1")}}
	}
	if res := (&Runner{}).Run(context.Background(), p, 0); res.Outcome != OutcomeFailed || !strings.Contains(res.Message, "half-restored") {
		t.Fatalf("failed rollback: %+v", res)
	}
	// upshift restore: restored, one thing unchecked.
	rp := &Plan{
		From: "2.2.10", To: "2.2.8", Restoring: true, Backup: func() string { return "set-1" },
		Steps: []Step{&fakeStep{info: StepInfo{ID: "restore"}, ran: &ran}, &fakeStep{info: StepInfo{ID: "verify"}, ran: &ran, err: uv}},
	}
	if res := (&Runner{}).Run(context.Background(), rp, 0); res.Outcome != OutcomeSuccess || !strings.Contains(res.Message, "could not be checked") {
		t.Fatalf("restore: %+v", res)
	}
}
