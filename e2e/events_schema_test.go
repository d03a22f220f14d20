package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/docs"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// runStdout runs upshift in the stack dir with stdout and stderr apart:
// the --json contract is about stdout alone.
func runStdout(t *testing.T, s *testenv.Stack, args ...string) (stdout []byte, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Dir = s.Dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.Bytes(), e.String(), exitCode(err)
}

func eventValidator(t *testing.T) *docs.EventValidator {
	t.Helper()
	v, err := docs.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkStream validates a whole --json stdout and returns its result.
func checkStream(t *testing.T, v *docs.EventValidator, what string, out []byte, stderr string) docs.StreamSummary {
	t.Helper()
	sum, err := v.Stream(out)
	if err != nil {
		t.Fatalf("%s: the --json stream breaks docs/events.schema.json: %v\nstdout:\n%s\nstderr:\n%s", what, err, out, stderr)
	}
	t.Logf("%s: %d lines valid, events %v, result %s", what, sum.Lines, sum.Kinds, sum.Result)
	return sum
}

// checkJournal validates every event a run journaled (the journal keeps
// the same Event objects, stamped with the same schema version).
func checkJournal(t *testing.T, v *docs.EventValidator, s *testenv.Stack) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(s.Dir, "upshift-backups", "runs", "*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no journal")
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var rec struct {
				Event json.RawMessage `json:"event"`
			}
			if json.Unmarshal(line, &rec) != nil || rec.Event == nil {
				continue
			}
			if err := v.Line(rec.Event); err != nil {
				t.Errorf("journal %s: %s: %v", filepath.Base(f), rec.Event, err)
			}
			n++
		}
	}
	t.Logf("journals: %d events valid", n)
}

// TestEventsSchemaKillResumeSuccess: every stdout line of real runs matches
// docs/events.schema.json: a run killed (-9) mid-migration (its lines up to
// the kill), `upshift status` during it (exit 5, the step it is in) and
// after it (exit 1, interrupted), the resume that rolls it back, then a
// successful 1.0.0 → 1.1.0, an upgrade with nothing to do, and one refused
// before it starts.
func TestEventsSchemaKillResumeSuccess(t *testing.T) {
	v := eventValidator(t)
	s := testenv.StartDemo(t, "1.0.0")
	// Long enough that status (a detect) surely lands inside the migration.
	s.SetEnv("DEMO_MIGRATION_DELAY", "8s")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, "upgrade", "--to", "1.1.0", "--yes", "--json")
	cmd.Dir = s.Dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var killed []byte
	migrating := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 8*1024*1024)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			killed = append(append(killed, sc.Bytes()...), '\n')
			mu.Unlock()
			if strings.Contains(sc.Text(), `"event":"step_started"`) && strings.Contains(sc.Text(), `"1.1.0/migrate"`) {
				once.Do(func() { close(migrating) })
			}
		}
	}()
	select {
	case <-migrating:
	case <-readDone:
		t.Fatalf("the upgrade ended before its migration started:\n%s", killed)
	}

	// status while the migration runs: exit 5, the step and since when.
	out, serr, code := runStdout(t, s, "status", "--json")
	var st struct {
		State      string `json:"state"`
		InProgress struct {
			Holder string    `json:"holder"`
			Step   string    `json:"step"`
			InStep bool      `json:"in_step"`
			Since  time.Time `json:"since"`
		} `json:"in_progress"`
	}
	if err := json.Unmarshal(out, &st); err != nil || code != 5 || st.State != "in_progress" || st.InProgress.Step != "1.1.0/migrate" || !st.InProgress.InStep || st.InProgress.Since.IsZero() || !strings.Contains(st.InProgress.Holder, "upshift upgrade") {
		t.Errorf("status during the migration: exit %d (want 5), %+v %v\n%s\n%s", code, st, err, out, serr)
	}

	time.Sleep(time.Second)
	_ = cmd.Process.Kill() // SIGKILL mid-migration
	_ = cmd.Wait()
	<-readDone
	mu.Lock()
	n := 0
	for _, line := range bytes.Split(bytes.TrimSpace(killed), []byte("\n")) {
		if err := v.Line(line); err != nil {
			t.Errorf("killed run, line %s: %v", line, err)
		}
		n++
	}
	mu.Unlock()
	t.Logf("killed run: %d lines valid up to the kill", n)

	if out, serr, code := runStdout(t, s, "status", "--json"); code != 1 || !bytes.Contains(out, []byte(`"state": "interrupted"`)) {
		t.Errorf("status after the kill: exit %d (want 1, interrupted)\n%s\n%s", code, out, serr)
	}

	out, serr, code = runStdout(t, s, "resume", "--yes", "--json")
	if code != 3 {
		t.Fatalf("resume: exit %d, want 3\n%s\n%s", code, out, serr)
	}
	if sum := checkStream(t, v, "resume (rollback)", out, serr); sum.Result != steps.OutcomeRolledBack {
		t.Errorf("resume result %s", sum.Result)
	}

	s.SetEnv("DEMO_MIGRATION_DELAY", "0s")
	out, serr, code = runStdout(t, s, "upgrade", "--to", "1.1.0", "--yes", "--json")
	if code != 0 {
		t.Fatalf("upgrade 1.0.0 → 1.1.0: exit %d\n%s\n%s", code, out, serr)
	}
	if sum := checkStream(t, v, "upgrade 1.0.0 → 1.1.0", out, serr); sum.Result != steps.OutcomeSuccess || sum.Kinds["step_finished"] == 0 {
		t.Errorf("success stream %+v", sum)
	}

	// Nothing to do (the stack runs the target): exit 0, the stream is
	// the result line alone.
	out, serr, code = runStdout(t, s, "upgrade", "--to", "1.1.0", "--yes", "--json")
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if code != 0 || len(lines) != 1 || v.Line(lines[0]) != nil || !bytes.HasPrefix(lines[0], []byte(`{"result":"success"`)) || !bytes.Contains(lines[0], []byte(`"unchanged":true`)) {
		t.Errorf("nothing to do: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, serr)
	}
	// Refused before any run (a target older than what runs): stdout
	// stays empty, stderr says why, exit 1 (docs/events.md).
	out, serr, code = runStdout(t, s, "upgrade", "--to", "1.0.0", "--yes", "--json")
	if code != 1 || len(bytes.TrimSpace(out)) != 0 || serr == "" {
		t.Errorf("refused upgrade: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, serr)
	}
	checkJournal(t, v, s)
}

// TestEventsSchemaRollback: the failing 2.0.0 → 2.1.0 migration, rolled
// back, writes a stream that matches docs/events.schema.json, with the
// rolling_back event and the rollback's steps.
func TestEventsSchemaRollback(t *testing.T) {
	v := eventValidator(t)
	s := testenv.StartDemo(t, "2.0.0")
	// The seeded 1.x history holds duplicate notes: the migration fails on them.
	out, serr, code := runStdout(t, s, "upgrade", "--to", "2.1.0", "--yes", "--json", "--no-rehearsal")
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, out, serr)
	}
	sum := checkStream(t, v, "upgrade 2.0.0 → 2.1.0 (rolled back)", out, serr)
	if sum.Result != steps.OutcomeRolledBack || sum.Kinds["rolling_back"] != 1 {
		t.Errorf("rollback stream %+v", sum)
	}
	checkJournal(t, v, s)
}
