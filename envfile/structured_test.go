package envfile

import (
	"slices"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
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

func TestMergeTOML(t *testing.T) {
	base := []byte(`# App config
title = "demo"
workers = 4

[server]
# public port
port = 8080
timeout = 10

[log]
level = "info"
old = true

[[plugins]]
name = "a"
`)
	theirs := []byte(`# App config
title = "demo"
workers = 8
# New root option.
fresh = "yes"

[server]
# public port
port = 8080
timeout = 20
# Keep-alive in seconds.
keepalive = 75

[log]
level = "warn"

[mail]
# SMTP host.
host = "localhost"
port = 25
`)
	ours := []byte(`# App config (admin)
title = "my demo" # mine
workers = 4

[server]
# public port
port = 9000
timeout = 15

[log]
level = "info"
old = false
custom = 1

[[plugins]]
name = "a"
`)
	r, err := MergeConfig(FormatTOML, base, theirs, ours, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("merged:\n%s", r.Merged)
	var got map[string]any
	if err := toml.Unmarshal(r.Merged, &got); err != nil {
		t.Fatal(err)
	}
	srv, lg, mail := got["server"].(map[string]any), got["log"].(map[string]any), got["mail"].(map[string]any)
	if got["title"] != "my demo" || got["workers"] != int64(8) || got["fresh"] != "yes" || srv["port"] != int64(9000) ||
		srv["timeout"] != int64(15) || srv["keepalive"] != int64(75) || lg["level"] != "warn" || lg["custom"] != int64(1) ||
		mail["host"] != "localhost" || lg["old"] != nil {
		t.Errorf("values: %v", got)
	}
	m := string(r.Merged)
	for _, want := range []string{"# App config (admin)", "\"my demo\" # mine", "# Keep-alive in seconds.", "# SMTP host.", "# old = false", "[[plugins]]"} {
		if !strings.Contains(m, want) {
			t.Errorf("merged lacks %q", want)
		}
	}
	if !slices.Equal(r.Summary.Conflicts, []string{"server.timeout"}) || !slices.Equal(r.Summary.Deprecated, []string{"log.old"}) {
		t.Errorf("summary %+v", r.Summary)
	}
	if err := r.Resolve("server.timeout", true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(r.Merged), "timeout = 20") {
		t.Errorf("after resolve:\n%s", r.Merged)
	}
}
