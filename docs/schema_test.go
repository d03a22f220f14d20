package docs

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// TestSchemaCoversEveryField: every JSON field of steps.Event, StepInfo and
// Result is in events.schema.json, and the schema names no field the Go
// types lack. A field added in Go without the schema and events.md fails
// here, before any e2e run.
func TestSchemaCoversEveryField(t *testing.T) {
	var schema struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(EventsSchema, &schema); err != nil {
		t.Fatal(err)
	}
	for def, typ := range map[string]reflect.Type{
		"event":    reflect.TypeFor[steps.Event](),
		"stepInfo": reflect.TypeFor[steps.StepInfo](),
		"result":   reflect.TypeFor[steps.Result](),
	} {
		var goFields []string
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				goFields = append(goFields, name)
			}
		}
		var schemaFields []string
		for k := range schema.Defs[def].Properties {
			schemaFields = append(schemaFields, k)
		}
		sort.Strings(goFields)
		sort.Strings(schemaFields)
		if !reflect.DeepEqual(goFields, schemaFields) {
			t.Errorf("%s: Go fields %v, schema fields %v: update docs/events.schema.json and docs/events.md", def, goFields, schemaFields)
		}
	}
}
