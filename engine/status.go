package engine

import (
	"time"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// StatusState sums a stack up for monitoring; main maps it to exit codes.
type StatusState string

// The states of `upshift status`.
const (
	StatusOK          StatusState = "ok"          // no run, or the last one succeeded
	StatusInProgress  StatusState = "in_progress" // a run holds the lock now
	StatusLastFailed  StatusState = "last_run_failed"
	StatusInterrupted StatusState = "interrupted" // the last run died mid-way: upshift resume
)

// Status is what `upshift status` reports: whether a run is in progress
// (and where it is), how the last run ended, and what runs now.
type Status struct {
	State   StatusState `json:"state"`
	Project string      `json:"project"`
	App     string      `json:"app"`
	// Version is the version running now, as detect reads it.
	Version    string      `json:"version"`
	BackupDir  string      `json:"backup_dir"`
	InProgress *CurrentRun `json:"in_progress,omitempty"`
	LastRun    *PastRun    `json:"last_run,omitempty"`
	// Next says what to do, when something is to be done.
	Next string `json:"next,omitempty"`
}

// CurrentRun is the run holding the lock.
type CurrentRun struct {
	// Holder is who holds the lock, from the lock file ("pid 42, since …").
	Holder string `json:"holder"`
	// The rest comes from the run's journal; empty when it has none yet.
	ID          string    `json:"id,omitempty"`
	From        string    `json:"from,omitempty"`
	To          string    `json:"to,omitempty"`
	Started     time.Time `json:"started,omitzero"`
	Step        string    `json:"step,omitempty"`      // the step it is in (or last finished)
	StepName    string    `json:"step_name,omitempty"` // that step's name
	InStep      bool      `json:"in_step"`             // false: between steps
	Since       time.Time `json:"since,omitzero"`      // when that step started (or finished)
	RollingBack bool      `json:"rolling_back,omitempty"`
}

// PastRun is a run that is not running any more.
type PastRun struct {
	ID         string    `json:"id"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Started    time.Time `json:"started"`
	Outcome    string    `json:"outcome"` // success|rolled_back|failed|aborted, or interrupted
	Reached    string    `json:"reached,omitempty"`
	FailedStep string    `json:"failed_step,omitempty"`
	Backup     string    `json:"backup,omitempty"`
	Message    string    `json:"message,omitempty"`
	Log        string    `json:"log,omitempty"`
}

// Status reads the lock, the journals and what detect found; it changes
// nothing and takes no lock, so it answers while a run is going on.
func (s *Session) Status() (*Status, error) {
	dir := s.BackupDir()
	st := &Status{State: StatusOK, Project: s.Det.Report.Project, App: s.Det.Report.App, Version: s.Det.Report.Version, BackupDir: dir}
	runs, err := s.History()
	if err != nil {
		return nil, err
	}
	if steps.Locked(dir) {
		st.State = StatusInProgress
		cur := &CurrentRun{Holder: steps.LockHolder(dir)}
		if len(runs) > 0 && runs[0].Interrupted {
			// The newest journal without an end is the run holding the lock
			// (a resumed run appends to its old journal).
			r := runs[0]
			runs = runs[1:]
			cur.ID, cur.From, cur.To, cur.Started = r.Info.ID, r.Info.From, r.Info.To, r.Info.Started
			if pos, err := steps.JournalPosition(r.Path); err == nil {
				cur.Step, cur.StepName, cur.InStep, cur.Since, cur.RollingBack = pos.Step, pos.Name, pos.In, pos.Since, pos.RollingBack
			}
		}
		st.InProgress = cur
		st.Next = "wait for it to finish; `upshift status` again, or `upshift history`"
	}
	if len(runs) == 0 {
		return st, nil
	}
	r := runs[0]
	last := &PastRun{ID: r.Info.ID, From: r.Info.From, To: r.Info.To, Started: r.Info.Started, Outcome: "interrupted", FailedStep: r.Failed}
	if len(r.Backups) > 0 {
		last.Backup = r.Backups[len(r.Backups)-1]
	}
	if res := r.Result; res != nil {
		last.Outcome, last.Reached, last.Message, last.Log = res.Outcome, res.Reached, res.Message, res.Log
		if res.FailedStep != "" {
			last.FailedStep = res.FailedStep
		}
		if res.Backup != "" {
			last.Backup = res.Backup
		}
	}
	st.LastRun = last
	if st.State == StatusInProgress {
		return st, nil
	}
	switch {
	case r.Interrupted:
		st.State = StatusInterrupted
		st.Next = "the run was killed or lost its machine mid-way: `upshift resume` picks it up (retry, continue or roll back)"
	case last.Outcome != steps.OutcomeSuccess:
		st.State = StatusLastFailed
		if r.Result != nil && r.Result.Next != "" {
			st.Next = r.Result.Next
		} else {
			st.Next = "read the run's log, fix the cause, and run the upgrade again (`upshift history` lists the runs)"
		}
	}
	return st, nil
}
