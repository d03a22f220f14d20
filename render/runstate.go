package render

import (
	"strings"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// Run states history tells apart (the JSON "state").
const (
	RunSucceeded      = "succeeded"
	RunNotStarted     = "not started"        // failed or aborted before changing anything
	RunStoppedOnWay   = "stopped on the way" // earlier hops verified, the failing one changed nothing
	RunRolledBack     = "rolled back"
	RunRollbackFailed = "ROLLBACK FAILED"
	RunFailed         = "failed"
	RunInterrupted    = "INTERRUPTED"
	RunAborted        = "aborted"
)

// runState is what a journaled run came to, in the admin's words: a run
// that never changed anything, one that rolled back cleanly and one whose
// rollback failed are three different things.
func runState(r *steps.RunState) (state, detail string) {
	res := r.Result
	if res == nil {
		return RunInterrupted, "upshift resume"
	}
	switch {
	case res.Outcome == steps.OutcomeSuccess:
		return RunSucceeded, ""
	case res.Outcome == steps.OutcomeRolledBack:
		return RunRolledBack, "runs " + orDash(res.Reached) + " again"
	case res.Unchanged:
		return RunNotStarted, "nothing was changed"
	case res.Partial:
		return RunStoppedOnWay, "runs " + orDash(res.Reached) + ", verified"
	case res.Outcome == steps.OutcomeAborted:
		return RunAborted, ""
	case res.RollbackFailed || strings.Contains(res.Error, "then the rollback failed") || strings.Contains(res.Message, "half-restored"):
		return RunRollbackFailed, "upshift resume or upshift restore " + orDash(res.Backup)
	}
	return RunFailed, ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
