package upgrade

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

// TestAssumptionsOfGeneric: what the generic profile guesses is said before
// anything runs, including a form it cannot set.
func TestAssumptionsOfGeneric(t *testing.T) {
	stack := []svc{{"db", profile.RoleDB, "postgres:16"}, {"miniflux", profile.RoleApp, "miniflux/miniflux:{v}"}, {"redis", profile.RoleApp, "redis:7"}}
	f := newFixtureWith(t, builtin(t, "generic"), stack, "2.2.6")
	f.env.Start.Report.Schema.Tool, f.env.Start.Report.Schema.Detail = "table", "schema_version.version = 108 (one row)"
	compose := "services:\n  miniflux:\n    image: ${MINIFLUX_IMAGE:-miniflux/miniflux:latest}\n  redis: {image: redis:7}\n"
	if err := os.WriteFile(filepath.Join(f.env.Project.WorkingDir, "docker-compose.yml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(f.env.Assumptions(), "\n")
	for _, want := range []string{
		"changes the image of miniflux (miniflux/miniflux); it leaves redis (redis:7) as they are",
		"whole image reference in .env MINIFLUX_IMAGE (docker-compose.yml:3",
		"schema_version.version = 108",
		"miniflux is assumed to migrate when it starts",
		"no HTTP health check is known",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("assumptions lack %q:\n%s", want, got)
		}
	}
	compose = "services:\n  miniflux:\n    image: ${REG}/miniflux-${FLAVOUR}\n"
	if err := os.WriteFile(filepath.Join(f.env.Project.WorkingDir, "docker-compose.yml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.env.Assumptions(), "\n"); !strings.Contains(got, "upgrade will refuse at the .env step") {
		t.Errorf("an unsettable form is not said before:\n%s", got)
	}
	// A built-in profile that knows everything guesses nothing.
	if a := newFixture(t, "upshift-demo", "1.0.0").env.Assumptions(); len(a) != 0 {
		t.Errorf("upshift-demo assumptions: %q", a)
	}
}
