package profile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

var schemaFile = filepath.Join("..", "docs", "profile.schema.json")

// TestJSONSchemaFile: docs/profile.schema.json is what JSONSchema makes
// (UPSHIFT_UPDATE_SCHEMA=1 rewrites it), and every built-in profile fits it.
func TestJSONSchemaFile(t *testing.T) {
	want, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPSHIFT_UPDATE_SCHEMA") != "" {
		if err := os.WriteFile(schemaFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil || string(got) != string(want) {
		t.Fatalf("%s is out of date (%v): run UPSHIFT_UPDATE_SCHEMA=1 go test ./profile -run JSONSchemaFile", schemaFile, err)
	}
	var s map[string]any
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatal(err)
	}
	props := s["properties"].(map[string]any)
	for _, p := range Builtin() {
		data, _ := BuiltinYAML(p.Name)
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		for k := range doc {
			if _, ok := props[k]; !ok {
				t.Errorf("%s: field %s is not in the schema", p.Name, k)
			}
		}
	}
}
