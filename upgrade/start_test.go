package upgrade

import (
	"context"
	"testing"
)

func TestStart(t *testing.T) {
	t.Run("compose up, waiting for health", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		if err := (&startStep{env: f.env, hop: "1.1.0", version: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if got := f.compose.ran(); !equalStrings(got, []string{"up --detach --wait --wait-timeout 180 --remove-orphans"}) {
			t.Errorf("compose %v", got)
		}
	})
	t.Run("a failure shows the last lines of the app services", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.compose.fail = failOn("up", errFake)
		f.docker.logs = map[string][]string{
			"c-api":    {"1", "2", "3", "4", "5", "6", "KeyError: 'APP_SECRET'"},
			"c-worker": {"worker waiting for api"},
			"c-db":     {"database log, not shown"},
		}
		err := (&startStep{env: f.env, hop: "1.1.0", version: "1.1.0"}).Run(context.Background(), f.sink)
		wantErr(t, err, "1.1.0 did not start healthy", "fake failure")
		if !f.sink.has("api | KeyError: 'APP_SECRET'") || !f.sink.has("worker | worker waiting for api") {
			t.Errorf("log:\n%s", f.sink.text())
		}
		if f.sink.has("api | 2") || f.sink.has("database log") {
			t.Errorf("more than the last 5 lines of the writers:\n%s", f.sink.text())
		}
		if !contains(f.calls.list(), "docker logs c-api follow=false") {
			t.Errorf("calls %v", f.calls.list())
		}
	})
	t.Run("a failure when detection fails too", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.compose.fail = failOn("up", errFake)
		f.det.err = errFake
		wantErr(t, (&startStep{env: f.env, hop: "1.1.0", version: "1.1.0"}).Run(context.Background(), f.sink), "did not start healthy")
	})
}
