package upgrade

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

func TestClassifyVersionSites(t *testing.T) {
	compose := `services:
  a: {image: miniflux/miniflux:2.2.6}
  b:
    image: ${MINIFLUX_IMAGE:-miniflux/miniflux:latest}
  c:
    image: "ghcr.io/acme/shop:${SHOP_TAG}"
  d:
    image: ${REGISTRY}/shop-${FLAVOUR}
  e:
    build: .
`
	read := func(string) ([]byte, error) { return []byte(compose), nil }
	sites, err := FindVersionSites([]string{"docker-compose.yml"}, read, []string{"a", "b", "c", "d", "e"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sites {
		got = append(got, s.Service+"="+s.Kind+":"+s.Key+":"+s.Default)
	}
	want := "a=compose-tag::|b=env-image:MINIFLUX_IMAGE:miniflux/miniflux:latest|c=env-tag:SHOP_TAG:|d=unknown::"
	if strings.Join(got, "|") != want {
		t.Errorf("sites %s\nwant  %s", strings.Join(got, "|"), want)
	}
	if sites[1].Line != 4 || !strings.Contains(sites[1].Describe(), "whole image reference in .env MINIFLUX_IMAGE") {
		t.Errorf("site b: %+v %s", sites[1], sites[1].Describe())
	}
}

// TestGenericAppliesWhereTheFilesKeepIt: the generic profile changes only
// the app's images (not redis), in the form the files keep them.
func TestGenericAppliesWhereTheFilesKeepIt(t *testing.T) {
	stack := []svc{
		{"db", profile.RoleDB, "postgres:16"},
		{"miniflux", profile.RoleApp, "miniflux/miniflux:{v}"},
		{"worker", profile.RoleApp, "miniflux/miniflux:{v}"},
		{"redis", profile.RoleApp, "redis:7"},
	}
	tests := []struct {
		name, compose, env string
		wantEnv, wantFile  []string
		wantErr            string
	}{
		{
			name:     "image reference in .env",
			compose:  "services:\n  db: {image: postgres:16}\n  miniflux:\n    image: ${MINIFLUX_IMAGE:-miniflux/miniflux:latest}\n  worker:\n    image: ${MINIFLUX_IMAGE:-miniflux/miniflux:latest}\n  redis: {image: redis:7}\n",
			env:      "MINIFLUX_IMAGE=miniflux/miniflux:2.2.6\nPOSTGRES_PASSWORD=x\n",
			wantEnv:  []string{"MINIFLUX_IMAGE=miniflux/miniflux:2.2.10\n", "POSTGRES_PASSWORD=x"},
			wantFile: []string{"redis:7", "${MINIFLUX_IMAGE:-miniflux/miniflux:latest}"},
		},
		{
			name:     "tag in .env, literal tag in compose",
			compose:  "services:\n  db: {image: postgres:16}\n  miniflux:\n    image: miniflux/miniflux:${MF_TAG}\n  worker:\n    image: miniflux/miniflux:2.2.6 # pinned\n  redis: {image: redis:7}\n",
			env:      "MF_TAG=2.2.6\n",
			wantEnv:  []string{"MF_TAG=2.2.10\n"},
			wantFile: []string{"image: miniflux/miniflux:2.2.10 # pinned", "redis:7", "${MF_TAG}"},
		},
		{
			name:    "a form upshift cannot set",
			compose: "services:\n  db: {image: postgres:16}\n  miniflux:\n    image: ${REG}/miniflux-${FLAVOUR}\n  worker: {image: miniflux/miniflux:2.2.6}\n  redis: {image: redis:7}\n",
			wantErr: "mixes variables upshift cannot set",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureWith(t, builtin(t, "generic"), stack, "2.2.6")
			dir := f.env.Project.WorkingDir
			if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(tt.compose), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tt.env), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(f.env.targetImages("2.2.10"), " "); got != "miniflux/miniflux:2.2.10" {
				t.Errorf("target images %q", got)
			}
			err := (&configStep{env: f.env, from: "2.2.6", to: "2.2.10"}).Run(context.Background(), f.sink)
			if tt.wantErr != "" {
				wantErr(t, err, tt.wantErr, "Nothing was changed")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			env, _ := os.ReadFile(filepath.Join(dir, ".env"))
			file, _ := os.ReadFile(filepath.Join(dir, "docker-compose.yml"))
			for _, w := range tt.wantEnv {
				if !strings.Contains(string(env), w) {
					t.Errorf(".env lacks %q:\n%s", w, env)
				}
			}
			for _, w := range tt.wantFile {
				if !strings.Contains(string(file), w) {
					t.Errorf("compose lacks %q:\n%s", w, file)
				}
			}
		})
	}
}

// TestEnvKeyKeepsImageForm: apply env on a key holding a whole reference
// keeps the repository (miniflux/miniflux:2.2.10, never glued twice).
func TestEnvKeyKeepsImageForm(t *testing.T) {
	p := builtin(t, "generic")
	p.Apply = profile.Apply{Method: profile.ApplyEnv, EnvKey: "MINIFLUX_IMAGE"}
	f := newFixtureWith(t, p, []svc{{"db", profile.RoleDB, "postgres:16"}, {"miniflux", profile.RoleApp, "miniflux/miniflux:{v}"}}, "2.2.6")
	dir := f.env.Project.WorkingDir
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("MINIFLUX_IMAGE=miniflux/miniflux:2.2.6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (&configStep{env: f.env, from: "2.2.6", to: "2.2.10"}).Run(context.Background(), f.sink); err != nil {
		t.Fatal(err)
	}
	if env, _ := os.ReadFile(filepath.Join(dir, ".env")); string(env) != "MINIFLUX_IMAGE=miniflux/miniflux:2.2.10\n" {
		t.Errorf(".env = %q", env)
	}
	if got := f.env.targetImages("2.2.10"); len(got) != 1 || got[0] != "miniflux/miniflux:2.2.10" {
		t.Errorf("target images %v", got)
	}
}

// Preflight refuses, before the backup, a version it could not set.
func TestPreflightRefusesUnsettableVersion(t *testing.T) {
	stack := []svc{{"db", profile.RoleDB, "postgres:16"}, {"miniflux", profile.RoleApp, "miniflux/miniflux:{v}"}}
	f := newFixtureWith(t, builtin(t, "generic"), stack, "2.2.6")
	compose := "services:\n  db: {image: postgres:16}\n  miniflux:\n    image: ${REG}/miniflux-${FLAVOUR}\n"
	if err := os.WriteFile(filepath.Join(f.env.Project.WorkingDir, "docker-compose.yml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	err := (&preflightStep{env: f.env, from: "2.2.6", to: "2.2.10"}).Run(context.Background(), f.sink)
	wantErr(t, err, "mixes variables upshift cannot set", "Nothing was changed")
	if calls := strings.Join(f.calls.list(), " "); strings.Contains(calls, "backup") {
		t.Errorf("calls %s", calls)
	}
}

// With an override file, the file that sets the image last is changed.
func TestApplyAutoOverride(t *testing.T) {
	stack := []svc{{"db", profile.RoleDB, "postgres:16"}, {"miniflux", profile.RoleApp, "miniflux/miniflux:{v}"}}
	f := newFixtureWith(t, builtin(t, "generic"), stack, "2.2.6")
	dir := f.env.Project.WorkingDir
	base, over := filepath.Join(dir, "docker-compose.yml"), filepath.Join(dir, "docker-compose.override.yml")
	f.env.Project.Files = []string{base, over}
	files := map[string]string{base: "services:\n  miniflux:\n    image: ${MINIFLUX_IMAGE:-miniflux/miniflux:latest}\n", over: "services:\n  miniflux:\n    image: miniflux/miniflux:2.2.6\n"}
	for p, b := range files {
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := (&configStep{env: f.env, from: "2.2.6", to: "2.2.10"}).Run(context.Background(), f.sink); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(over); !strings.Contains(string(b), "miniflux/miniflux:2.2.10") {
		t.Errorf("override not rewritten:\n%s", b)
	}
	if b, _ := os.ReadFile(base); string(b) != files[base] {
		t.Errorf("base changed:\n%s", b)
	}
}
