package profile

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// enums are the values a field path may take (lists use "[]").
var enums = map[string][]string{
	"images":                  {"pull", "build-demo"},
	"services[].role":         roles,
	"default_role":            roles,
	"version.sources[].type":  {VersionHTTP, VersionCommand, VersionOCILabel, VersionImageTag},
	"db.engine":               {EnginePostgres, EngineSQLite},
	"schema.tool":             SchemaTools,
	"migration.mode":          {MigrateOneOff, MigrateEntrypoint, MigrateNone},
	"apply.method":            {ApplyEnv, ApplyImageTag, ApplyAuto},
	"apply.form":              {FormTag, FormImage},
	"config_files[].format":   {"env", "toml", "yaml", "json"},
	"health[].type":           {HealthContainer, HealthHTTP},
	"upgrade.stops[].rule":    {RuleLatestPatchOfEachMinor, RuleLatestOfEachMajor, RuleESR},
	"upgrade.min_db[].engine": {EnginePostgres, EngineSQLite},
	"release_notes.builtin":   {"upshift-demo"},
}

// descriptions say what a field is, for editors (docs/profiles.md has the
// whole story).
var descriptions = map[string]string{
	"name":          "the profile's name: lower-case letters, digits, '.', '_', '-'",
	"match":         "how a compose project is recognised as this app",
	"services":      "roles of services, selected by name, image substring or container glob",
	"version":       "where the running version is read from, most trusted first",
	"db":            "where the app's data lives",
	"schema":        "which tool records the schema head, and where",
	"schema.table":  "tool table: the app's own version table (found by looking when empty)",
	"schema.column": "tool table: the column holding the version",
	"schema.heads":  "the schema head each version expects, where known",
	"migration":     "how the schema is migrated",
	"apply":         "how a target version is put in place",
	"apply.form":    "method env: what env_key holds, a tag or the whole image reference",
	"release_notes": "where release notes come from; exactly one of github, dir, changelog, builtin",
	"upgrade":       "rules of the upgrade path: stops, blocked ranges, minimum DB, manual actions",
}

// JSONSchema is the JSON Schema (draft 2020-12) of a profile file, made
// from the Profile type so that it never misses a field.
func JSONSchema() ([]byte, error) {
	s := schemaOf(reflect.TypeFor[Profile](), "")
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://github.com/seed-e7a9fb3b/upshift/docs/profile.schema.json"
	s["title"] = "upshift app profile"
	s["required"] = []string{"name", "match", "version", "db", "schema", "migration", "apply"}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the profile schema: %w", err)
	}
	return append(b, '\n'), nil
}

func schemaOf(t reflect.Type, path string) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]any{}
	switch t.Kind() {
	case reflect.Struct:
		props := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			sub := tag
			if path != "" {
				sub = path + "." + tag
			}
			props[tag] = schemaOf(f.Type, sub)
		}
		out["type"] = "object"
		out["properties"] = props
		out["additionalProperties"] = false
	case reflect.Slice:
		out["type"] = "array"
		out["items"] = schemaOf(t.Elem(), path+"[]")
	case reflect.Map:
		out["type"] = "object"
		out["additionalProperties"] = schemaOf(t.Elem(), path+".*")
	case reflect.Bool:
		out["type"] = "boolean"
	case reflect.Int, reflect.Int64:
		out["type"] = "integer"
	default:
		out["type"] = "string"
		if versionLike(path) {
			// YAML reads an unquoted 16 or 108 as a number; upshift takes it.
			out["type"] = []string{"string", "number"}
		}
	}
	if e := enums[path]; len(e) > 0 {
		out["enum"] = e
	}
	if d := descriptions[path]; d != "" {
		out["description"] = d
	}
	return out
}

// versionLike paths hold versions or heads, which YAML may read as numbers.
func versionLike(path string) bool {
	last := path[strings.LastIndexAny(path, ".")+1:]
	switch last {
	case "version", "from", "to", "esr[]", "*":
		return !strings.HasPrefix(path, "migration.env") && !strings.HasPrefix(path, "renames")
	}
	return false
}
