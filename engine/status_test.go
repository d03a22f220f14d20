package engine

import (
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

func statusSession(t *testing.T) *Session {
	t.Helper()
	det := &detect.Result{
		Report: detect.Report{Project: "demo", App: "upshift-demo", Version: "1.1.0"},
		Stack:  &detect.Stack{Invocation: dockerx.Project{Name: "demo", WorkingDir: t.TempDir()}},
	}
	return NewSession(nil, det, Options{})
}

// journal writes a run: a plan of two steps, the events given, and a done
// event with outcome unless outcome is "".
func journal(t *testing.T, s *Session, id string, started time.Time, outcome string, evs ...steps.Event) {
	t.Helper()
	j, err := steps.NewJournal(s.BackupDir(), steps.RunInfo{ID: id, From: "1.0.0", To: "1.1.0", Started: started})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = j.Close() }()
	j.Event(steps.Event{Kind: steps.EventPlan, Time: started, Plan: []steps.StepInfo{{ID: "1.1.0/backup", Name: "Back up"}, {ID: "1.1.0/migrate", Name: "Migrate the database"}}})
	for _, ev := range evs {
		j.Event(ev)
	}
	if outcome != "" {
		j.Event(steps.Event{Kind: steps.EventDone, Result: &steps.Result{Outcome: outcome, From: "1.0.0", To: "1.1.0", Reached: "1.0.0", FailedStep: "1.1.0/migrate", Message: "rolled back"}})
	}
}

func TestStatus(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	migrating := []steps.Event{
		{Kind: steps.EventStepStarted, Step: "1.1.0/backup", Time: t0.Add(time.Second)},
		{Kind: steps.EventStepFinished, Step: "1.1.0/backup", Status: steps.StatusOK, Time: t0.Add(2 * time.Second)},
		{Kind: steps.EventStepStarted, Step: "1.1.0/migrate", Time: t0.Add(3 * time.Second)},
	}
	t.Run("no runs", func(t *testing.T) {
		st, err := statusSession(t).Status()
		if err != nil || st.State != StatusOK || st.LastRun != nil || st.InProgress != nil || st.Version != "1.1.0" {
			t.Fatalf("%+v %v", st, err)
		}
	})
	t.Run("last run succeeded", func(t *testing.T) {
		s := statusSession(t)
		journal(t, s, "r1", t0, steps.OutcomeRolledBack)
		journal(t, s, "r2", t0.Add(time.Hour), steps.OutcomeSuccess)
		st, err := s.Status()
		if err != nil || st.State != StatusOK || st.LastRun.ID != "r2" || st.LastRun.Outcome != steps.OutcomeSuccess {
			t.Fatalf("%+v %v", st, err)
		}
	})
	t.Run("last run rolled back", func(t *testing.T) {
		s := statusSession(t)
		journal(t, s, "r1", t0, steps.OutcomeRolledBack)
		st, err := s.Status()
		if err != nil || st.State != StatusLastFailed || st.LastRun.FailedStep != "1.1.0/migrate" || st.Next == "" {
			t.Fatalf("%+v %v", st, err)
		}
	})
	t.Run("interrupted, nobody running", func(t *testing.T) {
		s := statusSession(t)
		journal(t, s, "r1", t0, "", migrating...)
		st, err := s.Status()
		if err != nil || st.State != StatusInterrupted || st.LastRun.Outcome != "interrupted" || st.InProgress != nil {
			t.Fatalf("%+v %v", st, err)
		}
	})
	t.Run("in progress", func(t *testing.T) {
		s := statusSession(t)
		journal(t, s, "r0", t0.Add(-time.Hour), steps.OutcomeSuccess)
		journal(t, s, "r1", t0, "", migrating...)
		lock, err := steps.AcquireLock(s.BackupDir(), "upshift upgrade --to 1.1.0 on demo")
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Release()
		st, err := s.Status()
		if err != nil || st.State != StatusInProgress {
			t.Fatalf("%+v %v", st, err)
		}
		c := st.InProgress
		if c.ID != "r1" || c.Step != "1.1.0/migrate" || c.StepName != "Migrate the database" || !c.InStep || !c.Since.Equal(t0.Add(3*time.Second)) {
			t.Fatalf("in progress %+v", c)
		}
		if c.Holder == "" || c.Holder == "holder unknown" {
			t.Errorf("holder %q", c.Holder)
		}
		if st.LastRun == nil || st.LastRun.ID != "r0" {
			t.Errorf("last run %+v, want the finished r0", st.LastRun)
		}
	})
}
