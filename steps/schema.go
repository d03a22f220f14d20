package steps

import (
	"encoding/json"
	"fmt"
)

// EventsSchemaVersion is the version of the --json event stream contract
// (docs/events.md, docs/events.schema.json). Adding a field or an event
// kind keeps it; renaming, removing or retyping anything bumps it.
const EventsSchemaVersion = 1

// MarshalJSON stamps every encoded event (--json, the journal, the run's
// log) with the schema version, whoever built the event.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	e.SchemaVersion = EventsSchemaVersion
	b, err := json.Marshal(plain(e))
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.Kind, err)
	}
	return b, nil
}

// MarshalJSON stamps the result object with the schema version.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	r.SchemaVersion = EventsSchemaVersion
	b, err := json.Marshal(plain(r))
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return b, nil
}
