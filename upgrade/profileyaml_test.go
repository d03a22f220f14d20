package upgrade

import (
	"context"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

// A small profile written for a test, validated like a user's file.
const entrypointNoServiceYAML = `name: tiny
match:
  images: [example/tiny]
services:
  - {name: db, role: db}
  - {name: app, role: app}
version:
  sources:
    - {type: image-tag, service: app}
db:
  service: db
  engine: postgresql
schema:
  tool: none
migration:
  mode: entrypoint
apply:
  method: env
  env_key: TINY_VERSION
`

// An entrypoint migration without service or success_log (the generic
// profile's shape) starts the first app service and waits until it runs.
func TestEntrypointProfileWithoutServiceOrSuccessLog(t *testing.T) {
	p, err := profile.Parse([]byte(entrypointNoServiceYAML), "tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, p, []svc{{"db", profile.RoleDB, "postgres:16"}, {"app", profile.RoleApp, "example/tiny:{v}"}}, "1.0.0")
	plan := Build(f.env, "1.0.0", []Hop{{Version: "1.1.0"}})
	if got := stepIDs(plan.Steps); !contains(got, "1.1.0/migrate") {
		t.Fatalf("steps %v", got)
	}
	if info := (&migrateStep{env: f.env, hop: "1.1.0"}).Info(); !strings.Contains(strings.Join(info.Touches, " "), "--no-deps app") {
		t.Errorf("touches %v", info.Touches)
	}
	if err := (&migrateStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
		t.Fatal(err)
	}
	if got := f.compose.ran(); len(got) == 0 || got[len(got)-1] != "up --detach --wait --wait-timeout 300 --no-deps app" {
		t.Errorf("compose %v", got)
	}
	f.compose.fail = failOn("up", errFake)
	wantErr(t, (&migrateStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink), "app did not start")
}
