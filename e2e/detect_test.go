package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

func detectIn(t *testing.T, dir string) detect.Report {
	t.Helper()
	ctx := context.Background()
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = eng.Close() }()
	res, err := detect.Detect(ctx, eng, detect.Options{StackOptions: detect.StackOptions{Dir: dir}, Profiles: profile.Builtin()})
	if err != nil {
		t.Fatal(err)
	}
	return res.Report
}

// TestDetectDemoAndDrift: detect names the version and its source, the
// schema head and PostgreSQL; a migration run without the new image is
// reported as drift.
func TestDetectDemoAndDrift(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	r := detectIn(t, s.Dir)
	if r.Version != "1.0.0" || !strings.Contains(r.VersionSource, "http") {
		t.Fatalf("version %q from %q, want 1.0.0 from the http endpoint", r.Version, r.VersionSource)
	}
	if r.Profile != "upshift-demo" || r.Schema.Tool != "alembic" || r.Schema.Head != demo.Rev100 || r.Schema.Dirty {
		t.Fatalf("profile %s schema %+v", r.Profile, r.Schema)
	}
	if !strings.HasPrefix(r.DB.ServerVersion, "15.") || !r.DB.Reachable || r.DB.SizeBytes == 0 {
		t.Fatalf("db %+v", r.DB)
	}
	for _, w := range r.Warnings {
		if strings.Contains(w, "DRIFT") {
			t.Fatalf("unexpected drift on a consistent stack: %v", r.Warnings)
		}
	}
	// The CLI's JSON contract.
	out, err := s.Run("detect", "--json")
	if err != nil {
		t.Fatalf("detect --json: %v\n%s", err, out)
	}
	if strings.Contains(out, s.Env("DB_PASSWORD")) {
		t.Fatal("detect --json leaks the database password")
	}
	var j struct {
		App, Profile, Version string
		VersionSource         string `json:"version_source"`
		Schema                struct {
			Tool, Head string
			Dirty      bool
		}
		DB struct {
			Engine        string
			ServerVersion string `json:"server_version"`
			Service       string
			SizeBytes     int64 `json:"size_bytes"`
		}
		Services []struct{ Name, Image, State, Health string }
		Warnings []string
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("detect --json is not JSON: %v\n%s", err, out)
	}
	if j.Version != "1.0.0" || j.VersionSource == "" || j.Schema.Tool != "alembic" || j.Schema.Head != demo.Rev100 ||
		j.DB.Engine != "postgresql" || !strings.HasPrefix(j.DB.ServerVersion, "15.") || j.DB.Service != "db" || len(j.Services) != 3 {
		t.Fatalf("detect --json: %+v", j)
	}

	// plan: 1.1.0 is a required stop on the way to 2.0.0, whose notes warn
	// about the renamed key; 3.0.0 is blocked on PostgreSQL 15.
	out, err = s.Run("plan", "--to", "2.0.0", "--json")
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	var p struct {
		From, To string
		Hops     []struct {
			Version      string
			RequiredStop bool `json:"required_stop"`
			Warnings     []struct{ Kind, Text string }
		}
		Blocked bool
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, out)
	}
	if p.Blocked || len(p.Hops) != 2 || p.Hops[0].Version != "1.1.0" || !p.Hops[0].RequiredStop || p.Hops[1].Version != "2.0.0" {
		t.Fatalf("plan to 2.0.0: %+v", p)
	}
	renamed := false
	for _, w := range p.Hops[1].Warnings {
		if strings.Contains(w.Text, "NOTES_SECRET") && strings.Contains(w.Text, "APP_SECRET") {
			renamed = true
		}
	}
	if !renamed {
		t.Errorf("2.0.0 does not warn about NOTES_SECRET → APP_SECRET: %+v", p.Hops[1].Warnings)
	}
	envBefore := s.Env("APP_VERSION")
	out, err = s.Run("upgrade", "--to", "2.0.0", "--dry-run")
	if err != nil || !strings.Contains(out, "docker compose run --rm --no-deps api migrate") || !strings.Contains(out, "docker compose stop api worker") {
		t.Errorf("dry run must name the exact commands: %v\n%s", err, out)
	}
	if s.Env("APP_VERSION") != envBefore {
		t.Error("--dry-run changed .env")
	}
	out, err = s.Run("plan", "--to", "3.0.0")
	if err == nil || !strings.Contains(out, "PostgreSQL 16") {
		t.Errorf("plan to 3.0.0 must be blocked by PostgreSQL 15: err=%v\n%s", err, out)
	}

	// Migrate to 1.1.0 while the 1.0.0 image keeps running.
	if out, err := s.Run("demo", "build", "--version", "1.1.0"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := s.ComposeEnv([]string{"APP_VERSION=1.1.0"}, "run", "--rm", "--no-deps", "api", "migrate"); err != nil {
		t.Fatalf("migrate 1.1.0: %v\n%s", err, out)
	}
	r = detectIn(t, s.Dir)
	if r.Version != "1.0.0" || r.Schema.Head != demo.Rev110 {
		t.Fatalf("after migrate: version %s head %s", r.Version, r.Schema.Head)
	}
	found := false
	for _, w := range r.Warnings {
		if strings.Contains(w, "DRIFT") && strings.Contains(w, "1.1.0") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no drift warning: %v", r.Warnings)
	}
}
