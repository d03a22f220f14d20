package upgrade

import (
	"context"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// Preflight refuses, before anything stops, when a service the app needs
// is down: found later, the new version would wait for it with the app
// stopped.
func TestPreflightDependencies(t *testing.T) {
	setup := func(t *testing.T, state, health string) *fixture {
		f := newFixtureWith(t, builtin(t, "upshift-demo"), []svc{
			{"db", "db", "upshift-test/postgres:15"},
			{"api", "app", "upshift-demo/app:{v}"},
			{"worker", "worker", "upshift-demo/app:{v}"},
			{"redis", "other", "redis:7"},
			{"adminer", "other", "adminer"},
		}, "1.0.0")
		api := f.det.res.Stack.Model.Services["api"]
		api.DependsOn = types.DependsOnConfig{"db": {}, "redis": {}}
		f.det.res.Stack.Model.Services["api"] = api
		for i := range f.det.res.Report.Services {
			switch f.det.res.Report.Services[i].Name {
			case "redis":
				f.det.res.Report.Services[i].State, f.det.res.Report.Services[i].Health = state, health
			case "adminer":
				f.det.res.Report.Services[i].State = "not created"
			}
		}
		return f
	}
	t.Run("a dependency that is down", func(t *testing.T) {
		f := setup(t, "exited", "")
		wantErr(t, f.env.checkDependencies(f.det.res, f.sink), "redis is exited (api depends on it)", "Nothing was changed", "docker compose up -d redis")
	})
	t.Run("a dependency that is unhealthy", func(t *testing.T) {
		f := setup(t, "running", "unhealthy")
		wantErr(t, f.env.checkDependencies(f.det.res, f.sink), "redis is unhealthy")
	})
	t.Run("everything up; an extra service not created is only noted", func(t *testing.T) {
		f := setup(t, "running", "healthy")
		if err := f.env.checkDependencies(f.det.res, f.sink); err != nil {
			t.Fatal(err)
		}
		if !f.sink.has("adminer is not created") || !f.sink.has("the services the app needs are up") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("through the preflight step", func(t *testing.T) {
		f := setup(t, "exited", "")
		err := (&preflightStep{env: f.env, from: "1.0.0", to: "1.1.0"}).Run(context.Background(), f.sink)
		wantErr(t, err, "redis is exited")
	})
}

// Writers are found, not only named: a sidecar that depends on the
// database or holds its password is stopped for the migration too.
func TestWritersFound(t *testing.T) {
	f := newFixtureWith(t, builtin(t, "upshift-demo"), []svc{
		{"db", "db", "upshift-test/postgres:15"},
		{"api", "app", "upshift-demo/app:{v}"},
		{"cron", "other", "alpine"},
		{"exporter", "other", "exporter"},
		{"proxy", "other", "nginx"},
	}, "1.0.0")
	m := f.det.res.Stack.Model.Services
	cron := m["cron"]
	cron.DependsOn = types.DependsOnConfig{"db": {}}
	m["cron"] = cron
	pw := f.det.res.DB.Params.Password
	exp := m["exporter"]
	dsn := "postgres://app:" + pw + "@db/app"
	exp.Environment = types.MappingWithEquals{"DATA_SOURCE_NAME": &dsn}
	m["exporter"] = exp
	if got := f.env.Writers(); !equalStrings(got, []string{"api", "cron", "exporter"}) {
		t.Fatalf("writers %v", got)
	}
}
