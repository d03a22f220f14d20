package render_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/docs"
	"github.com/seed-e7a9fb3b/upshift/render"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// schemaStep is a fake step that logs, reports progress and fails, skips
// or doubts on demand.
type schemaStep struct {
	info  steps.StepInfo
	err   error
	skip  string
	doubt bool
}

func (s *schemaStep) Info() steps.StepInfo { return s.info }

func (s *schemaStep) Run(_ context.Context, sink steps.Sink) error {
	sink.Log("working on " + s.info.ID)
	sink.Log("")
	sink.Progress(5, 10)
	if s.doubt {
		return &steps.Doubt{Line: "ERROR: relation x exists", Evidence: "2.0.0 answers"}
	}
	return s.err
}

func (s *schemaStep) Skip(context.Context) (bool, string) { return s.skip != "", s.skip }

var (
	_ steps.Step    = (*schemaStep)(nil)
	_ steps.Skipper = (*schemaStep)(nil)
)

// TestEventStreamMatchesSchema: what the runner emits, written by the --json
// printer, matches docs/events.schema.json line by line, for a success, a
// failure rolled back, a failure before any change, a declined and an
// optional step, a skipped step, progress and a doubted migration.
func TestEventStreamMatchesSchema(t *testing.T) {
	v, err := docs.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	mk := func(id string, mod func(*schemaStep)) steps.Step {
		s := &schemaStep{info: steps.StepInfo{ID: id, Hop: "2.0.0", Name: "step " + id, Explain: "explains " + id, Touches: []string{"service api"}}}
		if mod != nil {
			mod(s)
		}
		return s
	}
	boom := errors.New("migration exited 1")
	tests := []struct {
		name    string
		steps   []steps.Step
		backup  bool
		decide  func(context.Context, steps.Event) (steps.Decision, error)
		outcome string
	}{
		{"success", []steps.Step{mk("a", nil), mk("b", func(s *schemaStep) { s.info.Confirm = true }), mk("c", func(s *schemaStep) { s.skip = "already there" })}, true, yes, steps.OutcomeSuccess},
		{"rolled back", []steps.Step{mk("a", nil), mk("b", func(s *schemaStep) { s.err = boom })}, true, yes, steps.OutcomeRolledBack},
		{"failed unchanged", []steps.Step{mk("a", func(s *schemaStep) { s.err = boom })}, false, yes, steps.OutcomeFailed},
		{"declined", []steps.Step{mk("a", func(s *schemaStep) { s.info.Confirm = true })}, false, no, steps.OutcomeAborted},
		{"optional declined", []steps.Step{mk("a", nil), mk("clean", func(s *schemaStep) { s.info.Confirm, s.info.Optional = true, true })}, true, no, steps.OutcomeSuccess},
		{"consent refused", []steps.Step{mk("eula", func(s *schemaStep) { s.info.Confirm, s.info.Consent = true, true })}, true, no, steps.OutcomeRolledBack},
		{"doubt rolled back", []steps.Step{mk("migrate", func(s *schemaStep) { s.doubt = true })}, true, no, steps.OutcomeRolledBack},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &steps.Plan{From: "1.0.0", To: "2.0.0", Steps: tt.steps}
			if tt.backup {
				p.Backup = func() string { return "set-1" }
				p.Rollback = func() []steps.Step { return []steps.Step{mk("restore", func(s *schemaStep) { s.info.Hop = "" })} }
				p.Reached = func() string { return "1.0.0" }
			}
			var out bytes.Buffer
			r := &steps.Runner{Emit: render.NewJSON(&out).Emit, Decide: tt.decide, LogPath: "/tmp/run.log"}
			res := r.Run(context.Background(), p, 0)
			if res.Outcome != tt.outcome {
				t.Fatalf("outcome %s, want %s", res.Outcome, tt.outcome)
			}
			sum, err := v.Stream(out.Bytes())
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if sum.Result != tt.outcome || sum.Kinds["plan"] != 1 || sum.Kinds["done"] != 1 {
				t.Fatalf("summary %+v", sum)
			}
		})
	}
}

func yes(_ context.Context, ev steps.Event) (steps.Decision, error) {
	return steps.Decision{Step: ev.Step, Approve: true}, nil
}

func no(_ context.Context, ev steps.Event) (steps.Decision, error) {
	return steps.Decision{Step: ev.Step}, nil
}

// TestEventSchemaRejects: the schema is not vacuous; it refuses what would
// break a consumer.
func TestEventSchemaRejects(t *testing.T) {
	v, err := docs.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	const ts = `"time":"2026-12-01T10:00:00Z"`
	for name, line := range map[string]string{
		"no schema_version":    `{"event":"log","step":"a",` + ts + `}`,
		"other schema_version": `{"event":"log","step":"a","schema_version":2,` + ts + `}`,
		"unknown kind":         `{"event":"exploded","schema_version":1,` + ts + `}`,
		"undocumented field":   `{"event":"log","step":"a","schema_version":1,"colour":"red",` + ts + `}`,
		"bad time":             `{"event":"log","step":"a","schema_version":1,"time":"yesterday"}`,
		"failed without error": `{"event":"step_finished","step":"a","status":"failed","schema_version":1,` + ts + `}`,
		"done without outcome": `{"event":"done","schema_version":1,` + ts + `}`,
		"unknown result":       `{"result":"maybe","schema_version":1,"from":"1","to":"2"}`,
		"plain text":           `the stack already runs 2.0.0: nothing to do`,
	} {
		if err := v.Line([]byte(line)); err == nil {
			t.Errorf("%s: accepted %s", name, line)
		}
	}
	good := `{"result":"success","schema_version":1,"from":"1.0.0","to":"2.0.0"}`
	if err := v.Line([]byte(good)); err != nil {
		t.Errorf("a minimal result line: %v", err)
	}
	if !strings.HasPrefix(good, `{"result"`) {
		t.Fatal("unreachable")
	}
}

// TestResultLineKeepsItsPrefix: the result line still starts with
// {"result" (scripts grep for it) and carries schema_version.
func TestResultLineKeepsItsPrefix(t *testing.T) {
	var out bytes.Buffer
	render.NewJSON(&out).Emit(steps.Event{Kind: steps.EventDone, Result: &steps.Result{Outcome: steps.OutcomeSuccess, From: "1", To: "2"}})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], `{"result":"success",`) || !strings.Contains(lines[1], `"schema_version":1`) || !strings.Contains(lines[0], `"schema_version":1`) {
		t.Fatalf("output:\n%s", out.String())
	}
}
