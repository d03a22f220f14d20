package detect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

const composeYAML = `services:
  db:
    image: postgres:15-alpine
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD}
  api:
    image: upshift-demo/app:${APP_VERSION}
    depends_on: [db]
  worker:
    image: upshift-demo/app:${APP_VERSION}
    depends_on: [api]
`

func TestLoadStackProjectName(t *testing.T) {
	tests := []struct {
		name, env, compose, want string
	}{
		{name: "directory name", compose: composeYAML, want: "myapp"},
		{name: "COMPOSE_PROJECT_NAME in .env wins", env: "COMPOSE_PROJECT_NAME=fromenv\n", compose: composeYAML, want: "fromenv"},
		{name: "name: in the compose file", compose: "name: fromyaml\n" + composeYAML, want: "fromyaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "MyApp")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, dir, "compose.yaml", tt.compose)
			write(t, dir, ".env", tt.env+"APP_VERSION=1.0.0\nDB_PASSWORD=s3cret\n")
			st, err := LoadStack(context.Background(), nil, StackOptions{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if st.Invocation.Name != tt.want {
				t.Fatalf("project %q, want %q", st.Invocation.Name, tt.want)
			}
			if got := st.Model.Services["api"].Image; got != "upshift-demo/app:1.0.0" {
				t.Fatalf("interpolated image %q", got)
			}
			if got := strings.Join(st.DependencyOrder(), ","); got != "db,api,worker" {
				t.Fatalf("dependency order %s", got)
			}
		})
	}
}

func TestLoadStackBadInput(t *testing.T) {
	empty := t.TempDir()
	if _, err := LoadStack(context.Background(), nil, StackOptions{Dir: empty}); !errors.Is(err, ErrNoCompose) || !strings.Contains(err.Error(), "Fix:") {
		t.Fatalf("no compose file: %v", err)
	}
	bad := t.TempDir()
	write(t, bad, "compose.yaml", "services:\n  api:\n    image: [not, a, string\n")
	if _, err := LoadStack(context.Background(), nil, StackOptions{Dir: bad}); err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Fatalf("invalid compose: %v", err)
	}
	if _, err := LoadStack(context.Background(), nil, StackOptions{Dir: filepath.Join(empty, "missing")}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("missing dir: %v", err)
	}
	if _, err := LoadStack(context.Background(), nil, StackOptions{Project: "x"}); err == nil {
		t.Fatal("-p without Docker must fail clearly")
	}
}

func TestOfflineDetect(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "compose.yaml", composeYAML)
	write(t, dir, ".env", "APP_VERSION=1.0.0\nDB_PASSWORD=s3cret\n")
	res, err := Detect(context.Background(), nil, Options{StackOptions: StackOptions{Dir: dir}, Profiles: profile.Builtin(), Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	if r.Profile != "upshift-demo" {
		t.Fatalf("profile %s", r.Profile)
	}
	roles := map[string]string{}
	for _, s := range r.Services {
		roles[s.Name] = s.Role
	}
	if roles["db"] != "db" || roles["api"] != "app" || roles["worker"] != "worker" {
		t.Fatalf("roles %v", roles)
	}
}

func TestFloatingTags(t *testing.T) {
	for tag, floating := range map[string]bool{
		"latest": true, "stable": true, "main": true, "dev": true, "1.13.3": false, "v9.1.1": false, "10.5.2": false, "1.0.0-rc.1": false, "1": true,
	} {
		if got := IsFloatingTag(tag); got != floating {
			t.Errorf("IsFloatingTag(%q) = %v", tag, got)
		}
	}
	for ref, tag := range map[string]string{
		"langgenius/dify-api:1.13.3": "1.13.3", "registry:5000/app": "", "registry:5000/app:v2": "v2", "app@sha256:abc": "",
	} {
		if got := TagOf(ref); got != tag {
			t.Errorf("TagOf(%q) = %q, want %q", ref, got, tag)
		}
	}
}
