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

// TestProfileInitFromFiles: without a stack (--offline) profile init drafts
// a valid profile from the compose files: where the version lives, the db
// service and its credential keys.
func TestProfileInitFromFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "miniflux")
	compose := "services:\n  miniflux:\n    image: ${MINIFLUX_IMAGE:-miniflux/miniflux:latest}\n    environment:\n      - RUN_MIGRATIONS=1\n  db:\n    image: postgres:17-alpine\n    environment:\n      - POSTGRES_USER=miniflux\n      - POSTGRES_PASSWORD=secret\n      - POSTGRES_DB=miniflux\n"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"docker-compose.yml": compose, ".env": "MINIFLUX_IMAGE=miniflux/miniflux:2.2.6\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runRoot(t, "profile", "init", "--offline", "--dir", dir, "--name", "miniflux")
	if err != nil {
		t.Fatalf("profile init: %v\n%s", err, out)
	}
	for _, want := range []string{"name: miniflux", "- miniflux/miniflux", "env_key: MINIFLUX_IMAGE", "form: image", "service: db", "password_env: POSTGRES_PASSWORD", "compose files alone"} {
		if !strings.Contains(out, want) {
			t.Errorf("draft lacks %q:\n%s", want, out)
		}
	}
}
