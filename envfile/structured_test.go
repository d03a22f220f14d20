package envfile

import (
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestMergeYAML(t *testing.T) {
	base := []byte(`# App config
server:
  port: 8080 # public port
  workers: 4
log:
  level: info
old_option: true
`)
	theirs := []byte(`# App config
server:
  port: 8080 # public port
  workers: 8
  # Request timeout in seconds.
  timeout: 30
log:
  level: warn
  format: json
`)
	ours := []byte(`# App config (edited by admin)
server:
  port: 9000 # we use 9000
  workers: 4
log:
  level: debug
old_option: false
custom: mine
`)
	r, err := MergeConfig(FormatYAML, base, theirs, ours, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(r.Merged, &got); err != nil {
		t.Fatalf("%v\n%s", err, r.Merged)
	}
	srv := got["server"].(map[string]any)
	lg := got["log"].(map[string]any)
	if srv["port"] != 9000 || srv["workers"] != 8 || srv["timeout"] != 30 || lg["level"] != "debug" || lg["format"] != "json" ||
		got["old_option"] != false || got["custom"] != "mine" {
		t.Errorf("merged:\n%s", r.Merged)
	}
	m := string(r.Merged)
	for _, want := range []string{"# App config (edited by admin)", "# we use 9000", "# Request timeout in seconds.", "upshift: not in the new template"} {
		if !strings.Contains(m, want) {
			t.Errorf("merged lacks %q:\n%s", want, m)
		}
	}
	s := r.Summary
	if !slices.Equal(s.Added, []string{"server.timeout", "log.format"}) || !slices.Equal(s.ChangedDefault, []string{"server.workers"}) ||
		!slices.Equal(s.Conflicts, []string{"log.level"}) || !slices.Equal(s.Deprecated, []string{"old_option"}) || !slices.Equal(s.Custom, []string{"custom"}) {
		t.Errorf("summary %+v", s)
	}
	if err := r.Resolve("log.level", true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(r.Merged), "level: warn") {
		t.Errorf("after resolve:\n%s", r.Merged)
	}
	t.Logf("merged:\n%s", r.Merged)
}

func TestMergeYAMLUnchangedKeepsBytes(t *testing.T) {
	in := []byte("a:   1   # odd spacing\nb: [1,2]\n")
	r, err := MergeConfig(FormatYAML, in, in, in, nil)
	if err != nil || string(r.Merged) != string(in) {
		t.Errorf("%v %q", err, r.Merged)
	}
}

func TestMergeYAMLRenameAndErrors(t *testing.T) {
	r, err := MergeConfig(FormatYAML, []byte("db:\n  pass: x\n"), []byte("db:\n  password: x\n"), []byte("db:\n  pass: secret\n"),
		[]Rename{{From: "db.pass", To: "db.password"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(r.Merged), "password: secret") || strings.Contains(string(r.Merged), "pass:") {
		t.Errorf("merged:\n%s", r.Merged)
	}
	if _, err := MergeConfig(FormatYAML, nil, []byte("a: 1\n"), []byte("- list\n"), nil); err == nil {
		t.Error("a top-level list was accepted")
	}
	if _, err := MergeConfig(FormatYAML, nil, []byte("a: [\n"), []byte("a: 1\n"), nil); err == nil {
		t.Error("broken YAML was accepted")
	}
}
