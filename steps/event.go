// Package steps owns the upgrade engine: the Step interface, the concrete
// steps, the runner that executes a plan and emits events, the journal, the
// lock and rollback. It never renders anything: the TUI, the plain printer
// and --json are three consumers of the same Event stream.
package steps

import "time"

// EventKind says what an Event reports.
type EventKind string

// The events a run emits, in the order they usually come.
const (
	EventPlan         EventKind = "plan"          // Plan lists every step of the run
	EventStepStarted  EventKind = "step_started"  // Step started
	EventLog          EventKind = "log"           // Line is one log line of the running step
	EventProgress     EventKind = "progress"      // Done/Total bytes (or units) of the running step
	EventConfirm      EventKind = "confirm"       // the runner waits for a Decision about Step (Prompt)
	EventStepFinished EventKind = "step_finished" // Status ok|failed|skipped, Duration, Err
	EventRollingBack  EventKind = "rolling_back"  // a failure triggered the rollback (Err says why)
	EventDone         EventKind = "done"          // Result ends the run
)

// StepInfo describes a step for the people watching.
type StepInfo struct {
	ID  string `json:"id"`  // unique in the run, e.g. "1.1.0/migrate"
	Hop string `json:"hop"` // target version of the hop ("" for run-wide steps)
	// Group, when set, is the heading the step is listed under instead of
	// its hop's (the rehearsals of every hop before the first downtime).
	Group   string `json:"group,omitempty"`
	Name    string `json:"name"`    // short, e.g. "Migrate the database"
	Explain string `json:"explain"` // one paragraph for a first-time admin
	Confirm bool   `json:"confirm"` // needs a yes (downtime or destructive)
	// Consent marks a confirmation that agrees to a document (a EULA):
	// --yes does not answer it, only an explicit --accept-terms does.
	Consent bool `json:"consent,omitempty"`
	// ReadOnly marks a step that changes nothing of the stack (checks,
	// image pulls, backups): a failure before any other step ran leaves
	// the stack as it was.
	ReadOnly bool `json:"read_only,omitempty"`
	// Optional marks a step a "no" skips instead of ending the run (the
	// clean-up after a successful upgrade).
	Optional bool     `json:"optional,omitempty"`
	Touches  []string `json:"touches,omitempty"`
}

// Step statuses in EventStepFinished.
const (
	StatusOK      = "ok"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// Outcomes of a run.
const (
	OutcomeSuccess    = "success"
	OutcomeRolledBack = "rolled_back"
	OutcomeFailed     = "failed"
	OutcomeAborted    = "aborted"
)

// Result is the end of a run.
type Result struct {
	Outcome    string `json:"result"`
	From       string `json:"from"`
	To         string `json:"to"`
	Reached    string `json:"reached,omitempty"` // version running at the end
	Backup     string `json:"backup,omitempty"`  // backup set ID (or path)
	FailedStep string `json:"failed_step,omitempty"`
	Error      string `json:"error,omitempty"`
	Message    string `json:"message,omitempty"` // what happened and what it means
	// Cause is the failing step's first error line: the app's own words.
	Cause string `json:"cause,omitempty"`
	// Next says what to do now.
	Next string `json:"next,omitempty"`
	// Log is the file with every event of the run, log lines included.
	Log string `json:"log,omitempty"`
	// Unchanged says the run stopped before changing anything: the stack is
	// exactly as it was, no rollback was needed.
	Unchanged bool `json:"unchanged,omitempty"`
	// Partial says the run stopped at a verified version on the way
	// (Reached), before changing anything of the hop that failed.
	Partial bool `json:"partial,omitempty"`
	// RollbackFailed says the run failed and so did its rollback (or a
	// restore): the stack is not as it was.
	RollbackFailed bool `json:"rollback_failed,omitempty"`

	// SchemaVersion is EventsSchemaVersion, stamped when a Result is
	// encoded (docs/events.md: the --json contract).
	SchemaVersion int `json:"schema_version"`
}

// Event is one thing that happened during a run. Secrets are redacted before
// an event is emitted.
type Event struct {
	Kind     EventKind     `json:"event"`
	Time     time.Time     `json:"time"`
	Step     string        `json:"step,omitempty"` // StepInfo.ID
	Plan     []StepInfo    `json:"plan,omitempty"`
	Line     string        `json:"line,omitempty"`
	Done     int64         `json:"done,omitempty"`
	Total    int64         `json:"total,omitempty"`
	Prompt   string        `json:"prompt,omitempty"`
	Consent  bool          `json:"consent,omitempty"`  // EventConfirm of a StepInfo.Consent step
	Optional bool          `json:"optional,omitempty"` // EventConfirm of a StepInfo.Optional step: a no skips it
	Doubt    bool          `json:"doubt,omitempty"`    // EventConfirm: keep what runs despite the error in Line (yes), or roll back (no)
	Status   string        `json:"status,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	Err      string        `json:"error,omitempty"`
	Result   *Result       `json:"outcome,omitempty"`

	// SchemaVersion is EventsSchemaVersion, stamped when an Event is
	// encoded (docs/events.md: the --json contract).
	SchemaVersion int `json:"schema_version"`
}

// Decision answers an EventConfirm.
type Decision struct {
	Step    string // the StepInfo.ID it answers
	Approve bool
}
