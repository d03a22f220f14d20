package profile

import (
	"strings"
	"testing"
)

// TestFactsOfBuiltins: every built-in profile says where its version lives
// and what triggers its migrations (what `profiles --json` shows).
func TestFactsOfBuiltins(t *testing.T) {
	want := map[string][2]string{
		"dify":        {"compose:api,worker,worker_beat,web.image", "MIGRATION_ENABLED=true"},
		"mattermost":  {"env:MATTERMOST_IMAGE_TAG", "mattermost migrates when it starts"},
		"simplelogin": {"env:SL_VERSION", "one-off: `alembic upgrade head`"},
		"nightingale": {"compose:nightingale.image", "nightingale migrates when it starts"},
		"maibot":      {"compose:core.image", "core migrates when it starts"},
	}
	for _, p := range Builtin() {
		w, ok := want[p.Name]
		if !ok {
			continue
		}
		if got := p.VersionLocation(); got != w[0] {
			t.Errorf("%s: version location %q, want %q", p.Name, got, w[0])
		}
		if got := p.MigrationTrigger(); !strings.Contains(got, w[1]) {
			t.Errorf("%s: migration trigger %q, want %q in it", p.Name, got, w[1])
		}
	}
}

func TestValidateEngineSources(t *testing.T) {
	base := "name: x\nmatch: {images: [x/app]}\nversion: {sources: [{type: image-tag}]}\nschema: {tool: none}\nmigration: {mode: none}\napply: {method: image-tag}\ndb:\n  engine: postgresql\n  service: db\n"
	for _, tt := range []struct{ extra, want string }{
		{"  engine_from: [{env: DB_TYPE, file: a.toml, key: K}]\n", "either env"},
		{"  engine_from: [{file: a.toml}]\n", "dotted key"},
		{"  engine_from: [{file: config.toml, key: DB.DBType, mount: /app/etc}]\n", "mount needs the service"},
		{"  variants: [{engine: MySQL}]\n", "lower case"},
	} {
		_, err := Parse([]byte(base+tt.extra), "x.yaml")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %q", tt.extra, err, tt.want)
		}
	}
	if _, err := Parse([]byte(base+"  engine_from: [{env: DB_TYPE, service: api}]\n  variants: [{engine: postgresql, service: db}, {engine: mysql, service: mysql}]\n"), "x.yaml"); err != nil {
		t.Errorf("valid engine sources refused: %v", err)
	}
}
