package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

type fakeStep struct {
	info StepInfo
	err  error
	logs []string
	ran  *[]string
}

func (f *fakeStep) Info() StepInfo { return f.info }

func (f *fakeStep) Run(_ context.Context, sink Sink) error {
	*f.ran = append(*f.ran, f.info.ID)
	for _, l := range f.logs {
		sink.Log(l)
	}
	return f.err
}

var _ Step = (*fakeStep)(nil)

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) emit(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) kinds() string {
	var b []string
	for _, e := range r.events {
		b = append(b, string(e.Kind)+":"+e.Step+":"+e.Status)
	}
	return strings.Join(b, " ")
}

func plan(ran *[]string, failAt string, withRollback bool, confirm bool) *Plan {
	mk := func(id string) Step {
		s := &fakeStep{info: StepInfo{ID: id, Name: id, Confirm: confirm && id == "b"}, ran: ran, logs: []string{"working on " + id + " with hunter2"}}
		if id == failAt {
			s.err = errors.New(id + " broke (password hunter2)")
		}
		return s
	}
	p := &Plan{From: "1.0.0", To: "2.0.0", Steps: []Step{mk("a"), mk("b"), mk("c")}}
	if withRollback {
		p.Rollback = func() []Step { return []Step{mk("restore")} }
		p.Backup = func() string { return "set-1" }
	}
	return p
}

func TestRunner(t *testing.T) {
	redact := func(s string) string { return strings.ReplaceAll(s, "hunter2", "***") }
	tests := []struct {
		name         string
		failAt       string
		rollback     bool
		confirm      bool
		decide       func(context.Context, Event) (Decision, error)
		wantOutcome  string
		wantRan      string
		wantInEvents string
	}{
		{name: "success", wantOutcome: OutcomeSuccess, wantRan: "a b c"},
		{name: "failure before backup changes nothing", failAt: "b", wantOutcome: OutcomeFailed, wantRan: "a b", wantInEvents: "done::"},
		{name: "failure after backup rolls back", failAt: "c", rollback: true, wantOutcome: OutcomeRolledBack, wantRan: "a b c restore", wantInEvents: "rolling_back:c:"},
		{name: "declined", confirm: true, decide: func(context.Context, Event) (Decision, error) { return Decision{}, nil }, wantOutcome: OutcomeAborted, wantRan: "a"},
		{name: "approved", confirm: true, decide: func(_ context.Context, ev Event) (Decision, error) {
			return Decision{Step: ev.Step, Approve: true}, nil
		}, wantOutcome: OutcomeSuccess, wantRan: "a b c"},
		{name: "no one to ask", confirm: true, wantOutcome: OutcomeFailed, wantRan: "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []string
			rec := &recorder{}
			r := &Runner{Emit: rec.emit, Decide: tt.decide, Redact: redact}
			res := r.Run(context.Background(), plan(&ran, tt.failAt, tt.rollback, tt.confirm), 0)
			if res.Outcome != tt.wantOutcome {
				t.Fatalf("outcome %s (%s), want %s", res.Outcome, res.Message, tt.wantOutcome)
			}
			if got := strings.Join(ran, " "); got != tt.wantRan {
				t.Fatalf("ran %q, want %q", got, tt.wantRan)
			}
			if !strings.Contains(rec.kinds(), tt.wantInEvents) {
				t.Fatalf("events %s lack %s", rec.kinds(), tt.wantInEvents)
			}
			last := rec.events[len(rec.events)-1]
			if last.Kind != EventDone || last.Result == nil {
				t.Fatalf("last event %+v, want done with a result", last)
			}
			for _, ev := range rec.events {
				if strings.Contains(ev.Line+ev.Err+ev.Prompt+last.Result.Error+last.Result.Message, "hunter2") {
					t.Fatalf("secret leaked in %+v", ev)
				}
			}
		})
	}
}

func TestRunnerStartsAtIndex(t *testing.T) {
	var ran []string
	r := &Runner{}
	res := r.Run(context.Background(), plan(&ran, "", false, false), 2)
	if res.Outcome != OutcomeSuccess || strings.Join(ran, " ") != "c" {
		t.Fatalf("resume from index 2 ran %v (%s)", ran, res.Outcome)
	}
}

func TestJournalRoundTripAndTornLine(t *testing.T) {
	dir := t.TempDir()
	j, err := NewJournal(dir, RunInfo{ID: "run1", From: "1.0.0", To: "2.0.0", Hops: []string{"1.1.0", "2.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	j.Event(Event{Kind: EventStepStarted, Step: "1.1.0/backup"})
	j.Event(Event{Kind: EventLog, Step: "1.1.0/backup", Line: "not journaled"})
	j.BackupCreated("set-1", 0)
	j.Agreed(Agreement{Key: "EULA_AGREE", Old: "aaaa", New: "bbbb"})
	j.Event(Event{Kind: EventStepFinished, Step: "1.1.0/backup", Status: StatusOK})
	j.Event(Event{Kind: EventStepStarted, Step: "1.1.0/migrate"})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// A kill -9 in the middle of a write leaves half a line.
	f, err := os.OpenFile(j.Path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"event":{"event":"step_fin`)
	_ = f.Close()
	st, err := ReadJournal(j.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Interrupted || st.Failed != "1.1.0/migrate" || len(st.Backups) != 1 || st.Backups[0] != "set-1" || st.Info.To != "2.0.0" ||
		len(st.Agreements) != 1 || st.Agreements[0] != (Agreement{Key: "EULA_AGREE", Old: "aaaa", New: "bbbb"}) {
		t.Fatalf("state %+v", st)
	}
	b, _ := os.ReadFile(j.Path)
	if strings.Contains(string(b), "not journaled") {
		t.Error("log lines must not be journaled")
	}
	if fi, _ := os.Stat(j.Path); fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", fi.Mode().Perm())
	}
	hist, err := History(dir)
	if err != nil || len(hist) != 1 {
		t.Fatalf("history %v %v", hist, err)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	l, err := AcquireLock(dir, "first")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLock(dir, "second"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "Nothing was changed") {
		t.Fatalf("second lock: %v", err)
	}
	l.Release()
	// A lock file left by a process that is gone does not lock (the
	// kernel lock died with it).
	if err := os.WriteFile(filepath.Join(dir, "upshift.lock"), []byte("999999999\nthen\nold run\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l2, err := AcquireLock(dir, "third")
	if err != nil {
		t.Fatalf("a leftover lock file locks: %v", err)
	}
	l2.Release()
}

// Many contenders, one holder at a time (a take-over race let two hold it).
func TestLockContention(t *testing.T) {
	dir := t.TempDir()
	var holders, maxHolders, wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				l, err := AcquireLock(dir, fmt.Sprintf("contender %d", i))
				if err != nil {
					if !errors.Is(err, ErrLocked) {
						t.Error(err)
					}
					continue
				}
				wins.Add(1)
				if n := holders.Add(1); n > maxHolders.Load() {
					maxHolders.Store(n)
				}
				if !Locked(dir) || !strings.Contains(LockHolder(dir), "contender") {
					t.Error("the lock must show as held, with its holder")
				}
				holders.Add(-1)
				l.Release()
			}
		}()
	}
	wg.Wait()
	if maxHolders.Load() != 1 || wins.Load() == 0 {
		t.Fatalf("max %d simultaneous holders, %d wins", maxHolders.Load(), wins.Load())
	}
	if Locked(dir) {
		t.Fatal("released, yet locked")
	}
}
