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
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), s.Env("DB_PASSWORD")) {
		t.Fatal("the report leaks the database password")
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
