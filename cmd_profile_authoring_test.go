package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runRoot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	root := newRootCmd()
	var out bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestProfileShowAndNoColor(t *testing.T) {
	out, err := runRoot(t, "profile", "show", "generic")
	if err != nil || !strings.Contains(out, "name: generic") || !strings.Contains(out, "method: auto") {
		t.Fatalf("profile show generic: %v\n%s", err, out)
	}
	if _, err := runRoot(t, "profile", "show", "nope"); exitCode(context.Background(), err) != exitUsage {
		t.Errorf("profile show of an unknown name: %v", err)
	}
	if out, err := runRoot(t, "profiles", "--no-color"); err != nil || !strings.Contains(out, "generic") {
		t.Errorf("profiles --no-color: %v\n%s", err, out)
	}
	if out, err := runRoot(t, "profile", "schema"); err != nil || !strings.Contains(out, `"schema_version"`) && !strings.Contains(out, `"column"`) {
		t.Errorf("profile schema: %v\n%s", err, out)
	}
}

// TestProfileCheckContradictions: the contradictions, each with its
// file and line.
func TestProfileCheckContradictions(t *testing.T) {
	p := filepath.Join(t.TempDir(), "miniflux.yaml")
	body := `name: miniflux
match: {images: [miniflux/miniflux]}
version: {sources: [{type: image-tag}]}
db: {engine: postgresql, service: db}
schema:
  tool: none
  table: schema_version
  heads: {2.2.6: "108"}
migration: {mode: entrypoint}
apply:
  method: image-tag
  form: whole-image
`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runRoot(t, "profile", "check", p)
	if err == nil {
		t.Fatalf("check passed:\n%s", out)
	}
	for _, want := range []string{p + ":7: schema.table:", p + ":8: schema.heads:", p + ":12: apply.form:", "4 problem(s)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("check error lacks %q:\n%v", want, err)
		}
	}
}
