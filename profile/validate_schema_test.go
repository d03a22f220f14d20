package profile

import (
	"strings"
	"testing"
)

// TestContradictions: what a reader would silently ignore, or verify could
// never check, is rejected with the line it is on.
func TestContradictions(t *testing.T) {
	const head = "name: mine\nmatch:\n  images: [me/app]\nversion:\n  sources: [{type: image-tag}]\ndb: {engine: postgresql, service: db}\nmigration: {mode: entrypoint}\n"
	tests := []struct {
		name, yaml string
		want       []string // "" means valid
	}{
		{"heads without a readable head", head + "apply: {method: auto}\nschema:\n  tool: none\n  heads: {1.0.0: '3'}\n", []string{"p.yaml:11: schema.heads:", "tool none records no schema head"}},
		{"table ignored by the tool", head + "apply: {method: auto}\nschema:\n  tool: alembic\n  table: schema_version\n", []string{"p.yaml:11: schema.table:", "alembic always reads alembic_version"}},
		{"table with none", head + "apply: {method: auto}\nschema: {tool: none, table: schema_version}\n", []string{"p.yaml:9: schema.table:", "reads no table"}},
		{"column outside tool table", head + "apply: {method: auto}\nschema: {tool: goose, column: version}\n", []string{"schema.column", "only tool table"}},
		{"unknown apply form", head + "schema: {tool: none}\napply: {method: env, env_key: APP_IMAGE, form: whole}\n", []string{"p.yaml:9: apply.form:", `"whole" is not allowed`}},
		{"form without env", head + "schema: {tool: none}\napply:\n  method: image-tag\n  form: image\n", []string{"p.yaml:11: apply.form:", "needs method env"}},
		{"env_key ignored", head + "schema: {tool: none}\napply: {method: image-tag, env_key: APP_VERSION}\n", []string{"apply.env_key", "method image-tag ignores it"}},
		{"git checkout", head + "schema: {tool: none}\napply: {method: git-checkout, tag_template: 'v{{version}}'}\n", nil},
		{"download without a compose file", head + "schema: {tool: none}\napply: {method: download}\n", []string{"apply.method:", "list it under templates"}},
		{"template without source", head + "schema: {tool: none}\napply: {method: auto}\ntemplates: [{file: compose.yaml}]\n", []string{"templates[0].source", "missing source"}},
		{"image template without service", head + "schema: {tool: none}\napply: {method: auto}\ntemplates: [{file: a.toml, source: 'image:/t/a.toml'}]\n", []string{"templates[0].service"}},
		{"template outside the project", head + "schema: {tool: none}\napply: {method: auto}\ntemplates: [{file: ../a.toml, source: 'https://x/{{version}}/a.toml'}]\n", []string{"templates[0].file", "inside the project"}},
		{"postgres tool on sqlite", "name: mine\nmatch:\n  images: [me/app]\nversion:\n  sources: [{type: image-tag}]\ndb: {engine: sqlite, path: data/app.db}\nmigration: {mode: entrypoint}\napply: {method: auto}\nschema: {tool: table}\n", []string{"p.yaml:9: schema.tool:", "sqlite-user-version"}},
		{"release notes as a plain file", head + "schema: {tool: none}\napply: {method: auto}\nrelease_notes: CHANGELOG.md\n", []string{"p.yaml:10: release_notes:", "changelog: CHANGELOG.md"}},
		{"tool table", head + "apply: {method: env, env_key: APP_IMAGE, form: image}\nschema: {tool: table, table: schema_version, column: version, heads: {1.0.0: '3'}}\n", nil},
		{"own table repeated", head + "apply: {method: auto}\nschema: {tool: alembic, table: alembic_version}\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "p.yaml")
			if tt.want == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
