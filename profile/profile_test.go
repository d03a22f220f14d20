package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltinProfilesLoad(t *testing.T) {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := builtinFS.ReadFile("builtin/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data, e.Name()); err != nil {
			t.Errorf("built-in profile %s does not load:\n%v", e.Name(), err)
		}
	}
	got := Builtin()
	if len(got) != len(entries) {
		t.Fatalf("Builtin() returned %d profiles, want %d", len(got), len(entries))
	}
	if got[len(got)-1].Name != "generic" {
		t.Errorf("generic must come last, got %s", got[len(got)-1].Name)
	}
	for _, p := range got {
		if p.Source != SourceBuiltin {
			t.Errorf("%s: Source = %q", p.Name, p.Source)
		}
	}
}

func byName(t *testing.T, name string) *Profile {
	t.Helper()
	for _, p := range Builtin() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no built-in profile %s", name)
	return nil
}

func TestDemoProfileFacts(t *testing.T) {
	p := byName(t, "upshift-demo")
	if p.DB.Service != "db" || p.DB.Engine != EnginePostgres || p.DB.UserEnv != "POSTGRES_USER" {
		t.Errorf("db = %+v", p.DB)
	}
	if p.Migration.Mode != MigrateOneOff || p.Migration.Service != "api" || strings.Join(p.Migration.Command, " ") != "migrate" {
		t.Errorf("migration = %+v", p.Migration)
	}
	if p.Apply.Method != ApplyEnv || p.Apply.EnvKey != "APP_VERSION" {
		t.Errorf("apply = %+v", p.Apply)
	}
	if p.Schema.Tool != "alembic" || p.Images != "build-demo" || p.Notes.Builtin != "upshift-demo" {
		t.Errorf("schema/images/notes = %+v %q %+v", p.Schema, p.Images, p.Notes)
	}
	if len(p.Renames) != 1 || p.Renames[0].From != "NOTES_SECRET" || p.Renames[0].To != "APP_SECRET" {
		t.Errorf("renames = %+v", p.Renames)
	}
	for svc, want := range map[string]string{"db": RoleDB, "api": RoleApp, "worker": RoleWorker, "proxy": RoleOther} {
		if got := p.RoleOf(ServiceInfo{Name: svc}); got != want {
			t.Errorf("RoleOf(%s) = %s, want %s", svc, got, want)
		}
	}
}

func TestMatch(t *testing.T) {
	all := Builtin()
	demo := []ServiceInfo{
		{Name: "db", Image: "postgres:16-alpine", ContainerName: "upshift-demo-db-1"},
		{Name: "api", Image: "upshift-demo/app:1.0.0", ContainerName: "upshift-demo-api-1"},
		{Name: "worker", Image: "upshift-demo/app:1.0.0"},
	}
	tests := []struct {
		name     string
		services []ServiceInfo
		want     string
	}{
		{"demo", demo, "upshift-demo"},
		{"generic with postgres", []ServiceInfo{{Name: "pg", Image: "docker.io/library/postgres:15"}, {Name: "web", Image: "acme/shop:2.1"}}, "generic"},
		{"no postgres", []ServiceInfo{{Name: "web", Image: "nginx"}, {Name: "db", Image: "mysql:8"}}, ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, score, why := Match(all, tt.services)
			got := ""
			if p != nil {
				got = p.Name
			}
			if got != tt.want {
				t.Fatalf("Match = %q (score %d, %s), want %q", got, score, why, tt.want)
			}
			if why == "" {
				t.Error("why is empty")
			}
			if tt.want != "" && score <= 0 {
				t.Errorf("score = %d", score)
			}
		})
	}
	g := byName(t, "generic")
	if r := g.RoleOf(ServiceInfo{Name: "pg", Image: "postgres:15"}); r != RoleDB {
		t.Errorf("generic RoleOf(postgres) = %s", r)
	}
	if r := g.RoleOf(ServiceInfo{Name: "web", Image: "acme/shop:2.1"}); r != RoleApp {
		t.Errorf("generic RoleOf(web) = %s", r)
	}
}

func TestParseErrors(t *testing.T) {
	base, err := builtinFS.ReadFile("builtin/upshift-demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown field", strings.Replace(string(base), "  mode: oneoff", "  mode: oneoff\n  modee: x", 1), []string{"p.yaml:", "unknown field \"modee\"", "did you mean \"mode\""}},
		{"bad mode", strings.Replace(string(base), "mode: oneoff", "mode: sometimes", 1), []string{"migration.mode", "\"sometimes\" is not allowed", "oneoff, entrypoint, none"}},
		{"bad type", strings.Replace(string(base), "port: 8080, path: /health, json", "port: eighty, path: /health, json", 1), []string{"p.yaml:", "number"}},
		{"syntax", "name: [unclosed\n", []string{"p.yaml:"}},
		{"empty", "", []string{"empty"}},
		{"not a mapping", "- a\n- b\n", []string{"p.yaml:1", "mapping"}},
		{"bad version", strings.Replace(string(base), "version: 1.1.0", "version: one-one", 1), []string{"upgrade.stops[0].version", "not a version"}},
		{"bad constraint", strings.Replace(string(base), `targets: ">=3.0.0"`, `targets: ">=three"`, 1), []string{"upgrade.min_db[0].targets"}},
		{"bad regexp", strings.Replace(string(base), "command: [migrate]", "command: [migrate]\n  error_log: \"(\"", 1), []string{"migration.error_log", "regular expression"}},
		{"empty after command", strings.Replace(string(base), "command: [migrate]", "command: [migrate]\n  after: [[]]", 1), []string{"migration.after[0]", "empty command"}},
		{"bad timeout", strings.Replace(string(base), "command: [migrate]", "command: [migrate]\n  timeout: half an hour", 1), []string{"migration.timeout", "Go duration"}},
		{"settle on a oneoff", strings.Replace(string(base), "command: [migrate]", "command: [migrate]\n  settle: 15s", 1), []string{"migration.settle", "only an entrypoint"}},
		{"relative consent file", strings.Replace(string(base), "upgrade:\n", "upgrade:\n  consent:\n    - {name: EULA, service: app, file: EULA.md, env: EULA_AGREE}\n", 1), []string{"upgrade.consent[0].file", "absolute path"}},
		{"consent without env", strings.Replace(string(base), "upgrade:\n", "upgrade:\n  consent:\n    - {name: EULA, service: app, file: /EULA.md}\n", 1), []string{"upgrade.consent[0].env"}},
		{"app_dsn without key", strings.Replace(string(base), "db:\n", "db:\n  app_dsn: {file: config.toml}\n", 1), []string{"db.app_dsn", "key"}},
		{"bad blocked targets", strings.Replace(string(base), "upgrade:\n", "upgrade:\n  blocked:\n    - {from: 1.0.0, to: 2.0.0, targets: \">=two\", reason: x}\n", 1), []string{"upgrade.blocked[0].targets"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "p.yaml")
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

func TestErrorLine(t *testing.T) {
	y := "name: x\nmatch:\n  images: [a/b]\nversion:\n  sources: [{type: image-tag}]\ndb:\n  engine: oracle\nschema: {tool: none}\nmigration: {mode: none}\napply: {method: image-tag}\n"
	_, err := Parse([]byte(y), "x.yaml")
	if err == nil || !strings.Contains(err.Error(), "x.yaml:7: db.engine:") {
		t.Fatalf("err = %v, want x.yaml:7: db.engine", err)
	}
}

func TestLoadAll(t *testing.T) {
	dir := t.TempDir()
	good := "name: mine\ndescription: mine\nmatch:\n  images: [me/app]\nversion:\n  sources: [{type: image-tag, service: app}]\ndb: {engine: postgresql, service: db}\nschema: {tool: none}\nmigration: {mode: none}\napply: {method: image-tag, services: [app]}\n"
	if err := os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	all, err := LoadAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range all {
		if p.Name == "mine" {
			found = true
			if p.Source != filepath.Join(dir, "mine.yaml") {
				t.Errorf("Source = %s", p.Source)
			}
		}
	}
	if !found {
		t.Fatal("user profile not loaded")
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.yml"), []byte("name: bad\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	all, err = LoadAll(dir)
	if err == nil || !strings.Contains(err.Error(), "bad.yml:2") {
		t.Fatalf("err = %v", err)
	}
	if len(all) < 3 {
		t.Errorf("good profiles should still load, got %d", len(all))
	}
	if _, err := LoadAll(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("missing dir: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "nope.yaml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}
