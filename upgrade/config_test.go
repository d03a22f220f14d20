package upgrade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/envfile"
)

var demoTemplates = map[string]string{
	"1.0.0": "APP_VERSION=1.0.0\nNOTES_SECRET=change-me\nLOG_LEVEL=info\n",
	"2.0.0": "APP_VERSION=2.0.0\nAPP_SECRET=change-me\nLOG_LEVEL=info\nNEW_FEATURE=on\n",
}

func demoTemplate(v string) ([]byte, error) {
	s, ok := demoTemplates[v]
	if !ok {
		return nil, fmt.Errorf("no template of %s", v)
	}
	return []byte(s), nil
}

func envValue(t *testing.T, path, key string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := envfile.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := f.Get(key)
	return v
}

// noTempFiles checks that an atomic write left nothing behind.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), "upshift-tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestConfigEnvApply(t *testing.T) {
	t.Run(".env merged with renames, version key set (demo)", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.env.BuiltinEnvTemplate = demoTemplate
		writeFile(t, f.env.EnvPath(), "APP_VERSION=1.0.0\nNOTES_SECRET=admin-secret-123\nLOG_LEVEL=debug\n")
		if err := os.Chmod(f.env.EnvPath(), 0o644); err != nil {
			t.Fatal(err)
		}
		s := &configStep{env: f.env, from: "1.0.0", to: "2.0.0", renames: []envfile.Rename{{From: "NOTES_SECRET", To: "APP_SECRET"}}}
		prompt, err := s.Prompt(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(prompt, "APP_VERSION") || !strings.Contains(prompt, "NEW_FEATURE") {
			t.Errorf("prompt does not show the diff:\n%s", prompt)
		}
		if strings.Contains(prompt, "admin-secret-123") {
			t.Errorf("the prompt shows a secret:\n%s", prompt)
		}
		// Nothing is written before Run.
		if v := envValue(t, f.env.EnvPath(), "APP_VERSION"); v != "1.0.0" || f.env.Changed() {
			t.Errorf("written before Run: %s changed %v", v, f.env.Changed())
		}
		if err := s.Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"APP_VERSION": "2.0.0", "APP_SECRET": "admin-secret-123", "LOG_LEVEL": "debug", "NEW_FEATURE": "on", "NOTES_SECRET": ""} {
			if got := envValue(t, f.env.EnvPath(), k); got != want {
				t.Errorf("%s=%q, want %q", k, got, want)
			}
		}
		st, err := os.Stat(f.env.EnvPath())
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf(".env mode %v", st.Mode().Perm())
		}
		noTempFiles(t, f.env.Dir())
		if f.env.Current() != "2.0.0" || !f.env.Changed() {
			t.Errorf("current %s changed %v", f.env.Current(), f.env.Changed())
		}
		if !f.sink.has("✓ wrote " + f.env.EnvPath()) {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("Run without Prompt computes the merge itself (--yes)", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.env.BuiltinEnvTemplate = demoTemplate
		writeFile(t, f.env.EnvPath(), "APP_VERSION=1.0.0\nNOTES_SECRET=x\n")
		if err := (&configStep{env: f.env, from: "1.0.0", to: "2.0.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if v := envValue(t, f.env.EnvPath(), "APP_VERSION"); v != "2.0.0" {
			t.Errorf("APP_VERSION=%s", v)
		}
	})
	t.Run("the version key only, no template (mattermost)", func(t *testing.T) {
		f := newFixture(t, "mattermost", "10.5.0")
		const env = "# Mattermost\nDOMAIN=chat.example.com\nMATTERMOST_IMAGE_TAG=10.5.0\nPOSTGRES_PASSWORD=pw-12345\n"
		writeFile(t, f.env.EnvPath(), env)
		if err := (&configStep{env: f.env, from: "10.5.0", to: "10.11.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(f.env.EnvPath())
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Replace(env, "=10.5.0", "=10.11.0", 1); string(b) != want {
			t.Errorf(".env\n%s\nwant\n%s", b, want)
		}
	})
	t.Run("templates from --env-templates", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.env.EnvTemplateDir = t.TempDir()
		writeFile(t, filepath.Join(f.env.EnvTemplateDir, "1.0.0.env.example"), demoTemplates["1.0.0"])
		writeFile(t, filepath.Join(f.env.EnvTemplateDir, "v2.0.0.env.example"), demoTemplates["2.0.0"])
		writeFile(t, f.env.EnvPath(), "APP_VERSION=1.0.0\n")
		if err := (&configStep{env: f.env, from: "1.0.0", to: "2.0.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if v := envValue(t, f.env.EnvPath(), "NEW_FEATURE"); v != "on" {
			t.Errorf("NEW_FEATURE=%q", v)
		}
	})
	t.Run("no template of the target", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.env.BuiltinEnvTemplate = demoTemplate
		writeFile(t, f.env.EnvPath(), "APP_VERSION=1.0.0\n")
		err := (&configStep{env: f.env, from: "1.0.0", to: "9.9.9"}).Run(context.Background(), f.sink)
		wantErr(t, err, "the .env template of 9.9.9")
		if v := envValue(t, f.env.EnvPath(), "APP_VERSION"); v != "1.0.0" || f.env.Changed() {
			t.Errorf(".env changed: %s", v)
		}
	})
	t.Run("a builtin template this upshift does not have", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		writeFile(t, f.env.EnvPath(), "APP_VERSION=1.0.0\n")
		wantErr(t, (&configStep{env: f.env, from: "1.0.0", to: "2.0.0"}).Run(context.Background(), f.sink), "not built into this upshift")
	})
	t.Run("no .env", func(t *testing.T) {
		f := newFixture(t, "mattermost", "10.5.0")
		wantErr(t, (&configStep{env: f.env, from: "10.5.0", to: "10.11.0"}).Run(context.Background(), f.sink), "read "+f.env.EnvPath())
	})
	t.Run("a profile without env_key", func(t *testing.T) {
		f := newFixture(t, "mattermost", "10.5.0")
		f.env.Profile.Apply.EnvKey = ""
		writeFile(t, f.env.EnvPath(), "X=1\n")
		wantErr(t, (&configStep{env: f.env, from: "10.5.0", to: "10.11.0"}).Run(context.Background(), f.sink), "names no env_key")
	})
}

const difyCompose = `# Dify
x-shared-env: &shared-api-worker-env
  LOG_LEVEL: INFO
services:
  api:
    image: langgenius/dify-api:1.9.1
    restart: always
    environment:
      <<: *shared-api-worker-env
      MODE: api
  worker:
    image: langgenius/dify-api:1.9.1 # the worker
    environment:
      MODE: worker
  worker_beat:
    image: "langgenius/dify-api:1.9.1"
  web:
    image: langgenius/dify-web:1.9.1
  db_postgres:
    image: postgres:15-alpine
  nginx:
    image: nginx:latest
`

func TestConfigImageTagApply(t *testing.T) {
	t.Run("image tags rewritten in the compose file, .env merged (dify)", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		compose := f.env.Project.Files[0]
		writeFile(t, compose, difyCompose)
		if err := os.Chmod(compose, 0o640); err != nil {
			t.Fatal(err)
		}
		writeFile(t, f.env.EnvPath(), "CONSOLE_API_URL=https://dify.example.com\nSECRET_KEY=sk-abcdef\n")
		f.http.bodies = map[string]string{
			"/1.9.1/docker/.env":            "CONSOLE_API_URL=\nSECRET_KEY=\n",
			"/1.10.0/docker/.env":           "CONSOLE_API_URL=\nSECRET_KEY=\nNEW_KEY=default\n",
			"/1.9.1/docker/docker-compose":  difyCompose,
			"/1.10.0/docker/docker-compose": strings.NewReplacer("dify-api:1.9.1", "dify-api:1.10.0", "dify-web:1.9.1", "dify-web:1.10.0").Replace(difyCompose),
		}
		s := &configStep{env: f.env, from: "1.9.1", to: "1.10.0"}
		prompt, err := s.Prompt(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(prompt, "docker-compose.yml") || !strings.Contains(prompt, "langgenius/dify-api:1.10.0") {
			t.Errorf("prompt:\n%s", prompt)
		}
		if err := s.Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(compose)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.NewReplacer("dify-api:1.9.1", "dify-api:1.10.0", "dify-web:1.9.1", "dify-web:1.10.0").Replace(difyCompose)
		if string(b) != want {
			t.Errorf("compose:\n%s\nwant:\n%s", b, want)
		}
		if st, _ := os.Stat(compose); st.Mode().Perm() != 0o640 {
			t.Errorf("compose mode %v", st.Mode().Perm())
		}
		noTempFiles(t, f.env.Dir())
		if v := envValue(t, f.env.EnvPath(), "NEW_KEY"); v != "default" {
			t.Errorf("NEW_KEY=%q", v)
		}
		if v := envValue(t, f.env.EnvPath(), "SECRET_KEY"); v != "sk-abcdef" {
			t.Errorf("SECRET_KEY=%q", v)
		}
		// The templates of both versions come from the profile's URLs.
		wantURLs := []string{
			"https://raw.githubusercontent.com/langgenius/dify/1.9.1/docker/.env.example",
			"https://raw.githubusercontent.com/langgenius/dify/1.10.0/docker/.env.example",
			"https://raw.githubusercontent.com/langgenius/dify/1.10.0/docker/docker-compose.yaml",
			"https://raw.githubusercontent.com/langgenius/dify/1.9.1/docker/docker-compose.yaml",
		}
		if !equalStrings(f.http.urls, wantURLs) {
			t.Errorf("urls %v", f.http.urls)
		}
		if !f.sink.has("✓ wrote "+compose+" (merged with the 1.10.0 template)") || f.env.Current() != "1.10.0" {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("no .env and no template: only the compose file (nightingale)", func(t *testing.T) {
		f := newFixture(t, "nightingale", "8.0.0")
		compose := f.env.Project.Files[0]
		writeFile(t, compose, "services:\n  nightingale:\n    image: flashcatcloud/nightingale:8.0.0\n")
		if err := (&configStep{env: f.env, from: "8.0.0", to: "8.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(compose)
		if !strings.Contains(string(b), "flashcatcloud/nightingale:8.1.0") {
			t.Errorf("compose %s", b)
		}
		if _, err := os.Stat(f.env.EnvPath()); err == nil {
			t.Error("an empty .env was created")
		}
	})
	t.Run("a compose file without the services is a clear error", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		writeFile(t, f.env.Project.Files[0], "services:\n  api:\n    image: langgenius/dify-api:1.9.1\n")
		writeFile(t, f.env.EnvPath(), "X=1\n")
		f.http.body = "X=\n"
		p := *f.env.Profile
		p.Templates = nil // the tags alone
		f.env.Profile = &p
		err := (&configStep{env: f.env, from: "1.9.1", to: "1.10.0"}).Run(context.Background(), f.sink)
		wantErr(t, err, "docker-compose.yml", "sets the image of worker, worker_beat, web", "Nothing was changed")
		if f.env.Changed() {
			t.Error("changed")
		}
	})
	t.Run("images already at the target tag (a retried step): done", func(t *testing.T) {
		f := newFixture(t, "nightingale", "8.0.0")
		writeFile(t, f.env.Project.Files[0], "services:\n  nightingale:\n    image: flashcatcloud/nightingale:8.1.0\n")
		if err := (&configStep{env: f.env, from: "8.0.0", to: "8.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if !f.sink.has("already") || f.sink.has("wrote") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("an image from a variable: set it in .env instead", func(t *testing.T) {
		f := newFixture(t, "nightingale", "8.0.0")
		writeFile(t, f.env.Project.Files[0], "services:\n  nightingale:\n    image: flashcatcloud/nightingale:${N9E_TAG}\n")
		err := (&configStep{env: f.env, from: "8.0.0", to: "8.1.0"}).Run(context.Background(), f.sink)
		wantErr(t, err, "takes its image from a variable")
	})
	t.Run("an override file without the app services is left alone", func(t *testing.T) {
		f := newFixture(t, "nightingale", "8.0.0")
		override := filepath.Join(f.env.Dir(), "docker-compose.override.yml")
		f.env.Project.Files = append(f.env.Project.Files, override)
		writeFile(t, f.env.Project.Files[0], "services:\n  nightingale:\n    image: flashcatcloud/nightingale:8.0.0\n")
		writeFile(t, override, "services:\n  categraf:\n    restart: always\n")
		if err := (&configStep{env: f.env, from: "8.0.0", to: "8.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(f.env.Project.Files[0]); !strings.Contains(string(b), "nightingale:8.1.0") {
			t.Errorf("main file:\n%s", b)
		}
		if b, _ := os.ReadFile(override); string(b) != "services:\n  categraf:\n    restart: always\n" {
			t.Errorf("override changed:\n%s", b)
		}
	})
	t.Run("an unreachable template URL", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		writeFile(t, f.env.Project.Files[0], difyCompose)
		writeFile(t, f.env.EnvPath(), "X=1\n")
		f.http.status = 404
		wantErr(t, (&configStep{env: f.env, from: "1.9.1", to: "1.10.0"}).Run(context.Background(), f.sink), "HTTP 404")
	})
}
