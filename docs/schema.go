// Package docs holds the documentation code reads: the JSON Schema of the
// --json event stream (events.schema.json, described in events.md),
// embedded so that tests validate real output against the very file the
// documentation links. It imports no other upshift package.
package docs

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// EventsSchema is docs/events.schema.json.
//
//go:embed events.schema.json
var EventsSchema []byte

const eventsSchemaID = "https://github.com/seed-e7a9fb3b/upshift/docs/events.schema.json"

// EventValidator checks lines of a --json stream against EventsSchema.
type EventValidator struct{ sch *jsonschema.Schema }

// NewEventValidator compiles EventsSchema (formats such as date-time are
// asserted, not only annotated).
func NewEventValidator() (*EventValidator, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(EventsSchema))
	if err != nil {
		return nil, fmt.Errorf("parse events.schema.json: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(eventsSchemaID, doc); err != nil {
		return nil, fmt.Errorf("load events.schema.json: %w", err)
	}
	sch, err := c.Compile(eventsSchemaID)
	if err != nil {
		return nil, fmt.Errorf("compile events.schema.json: %w", err)
	}
	return &EventValidator{sch: sch}, nil
}

// Line validates one line (an event or the result object).
func (v *EventValidator) Line(line []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := v.sch.Validate(inst); err != nil {
		return fmt.Errorf("does not match events.schema.json: %w", err)
	}
	return nil
}

// StreamSummary is what Stream saw.
type StreamSummary struct {
	Lines  int            // lines validated
	Kinds  map[string]int // events per kind
	Result string         // the final result line's "result"
}

// Stream validates a whole --json stdout: every line matches the schema,
// the stream ends with a done event followed by the same result object,
// and nothing else (no plain text) is on it.
func (v *EventValidator) Stream(out []byte) (StreamSummary, error) {
	sum := StreamSummary{Kinds: map[string]int{}}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 8*1024*1024)
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		lines = append(lines, line)
		if err := v.Line(line); err != nil {
			return sum, fmt.Errorf("line %d %.200q: %w", len(lines), line, err)
		}
		var head struct {
			Event string `json:"event"`
		}
		_ = json.Unmarshal(line, &head)
		if head.Event != "" {
			sum.Kinds[head.Event]++
		}
		sum.Lines++
	}
	if err := sc.Err(); err != nil {
		return sum, fmt.Errorf("read stream: %w", err)
	}
	if len(lines) < 2 {
		return sum, fmt.Errorf("%d line(s): a stream ends with a done event and the result line", len(lines))
	}
	var done struct {
		Event   string          `json:"event"`
		Outcome json.RawMessage `json:"outcome"`
	}
	if err := json.Unmarshal(lines[len(lines)-2], &done); err != nil || done.Event != "done" {
		return sum, errors.New("the line before the last is not the done event")
	}
	var last, inDone map[string]any
	if err := json.Unmarshal(lines[len(lines)-1], &last); err != nil {
		return sum, fmt.Errorf("last line: %w", err)
	}
	if err := json.Unmarshal(done.Outcome, &inDone); err != nil {
		return sum, fmt.Errorf("done event's outcome: %w", err)
	}
	if fmt.Sprint(last) != fmt.Sprint(inDone) {
		return sum, fmt.Errorf("the last line %s is not the done event's outcome %s", lines[len(lines)-1], done.Outcome)
	}
	sum.Result, _ = last["result"].(string)
	return sum, nil
}
