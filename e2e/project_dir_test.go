package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// A stack started with -p OTHER from its directory is found from the
// directory alone, as docker compose finds it (the containers'
// working_dir label), and upshift says which project it took.
func TestDetectFindsProjectStartedWithP(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	envPath := filepath.Join(s.Dir, ".env")
	b, err := os.ReadFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	// Without COMPOSE_PROJECT_NAME the directory name would be the project.
	if err := os.WriteFile(envPath, regexp.MustCompile(`(?m)^COMPOSE_PROJECT_NAME=.*\n`).ReplaceAll(b, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := s.Run("detect", "--json")
	if err != nil {
		t.Fatalf("detect: %v\n%s", err, out)
	}
	var rep struct {
		Project  string `json:"project"`
		Version  string `json:"version"`
		Warnings []string
		Services []struct {
			Name, State string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Project != s.Project || rep.Version != "1.0.0" {
		t.Fatalf("project %q version %q, want %q 1.0.0\n%s", rep.Project, rep.Version, s.Project, out)
	}
	for _, sv := range rep.Services {
		if sv.State == "not created" {
			t.Errorf("%s not created: the project's containers were not found", sv.Name)
		}
	}
	said := false
	for _, w := range rep.Warnings {
		said = said || regexp.MustCompile(`-p `+regexp.QuoteMeta(s.Project)).MatchString(w)
	}
	if !said {
		t.Errorf("upshift must say which project it took: %q", rep.Warnings)
	}
}
