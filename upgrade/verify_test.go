package upgrade

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/detect"
)

// noRetry makes verify report its first failed check.
func noRetry(t *testing.T) {
	t.Helper()
	old := verifyTimeout
	verifyTimeout = 0
	t.Cleanup(func() { verifyTimeout = old })
}

func TestVerify(t *testing.T) {
	cases := []struct {
		name    string
		app     string
		from    string
		version string
		change  func(f *fixture, det *detect.Result)
		wantErr []string // nil: ok
	}{
		{name: "healthy, version and head (demo)", app: "upshift-demo", from: "1.0.0", version: "1.1.0"},
		{name: "HTTP check with body (dify)", app: "dify", from: "1.9.1", version: "1.10.0", change: func(f *fixture, _ *detect.Result) {
			f.http.body = `{"status":"ok","version":"1.10.0"}`
		}},
		{name: "v prefix is the same version", app: "upshift-demo", from: "1.0.0", version: "v1.1.0"},
		{
			name: "wrong version", app: "upshift-demo", from: "1.0.0", version: "1.1.0",
			change:  func(_ *fixture, det *detect.Result) { det.Report.Version = "1.0.0" },
			wantErr: []string{`the app says it runs "1.0.0" (from fake), expected 1.1.0`},
		},
		{
			name: "wrong schema head", app: "upshift-demo", from: "1.0.0", version: "1.1.0",
			change:  func(_ *fixture, det *detect.Result) { det.Report.Schema.Head = "3f1c2a9b7d10" },
			wantErr: []string{"the schema head is 3f1c2a9b7d10, but 1.1.0 expects 8e4b6d21c5a7"},
		},
		{
			name: "dirty schema", app: "upshift-demo", from: "1.0.0", version: "1.1.0",
			change:  func(_ *fixture, det *detect.Result) { det.Report.Schema.Dirty = true },
			wantErr: []string{"the schema is dirty after the migration"},
		},
		{
			name: "schema drift", app: "dify", from: "1.9.1", version: "1.10.0",
			change: func(f *fixture, det *detect.Result) {
				f.http.body = `{"status":"ok"}`
				det.Report.Drift = &detect.Drift{Kind: detect.DriftUnknownHead, Head: "ffff0000", Expected: "aaaa1111"}
			},
			wantErr: []string{"the schema is out of step with the app: head ffff0000, dify 1.10.0 expects aaaa1111 (unknown_head)"},
		},
		{
			name: "a warning alone does not fail verify", app: "upshift-demo", from: "1.0.0", version: "1.1.0",
			change: func(_ *fixture, det *detect.Result) {
				det.Report.Warnings = []string{"DRIFT: words for people; verify decides on Report.Drift"}
			},
		},
		{
			name: "a service not running", app: "upshift-demo", from: "1.0.0", version: "1.1.0",
			change:  func(_ *fixture, det *detect.Result) { det.Report.Services[2].State = "restarting" },
			wantErr: []string{"worker is restarting"},
		},
		{
			name: "a service unhealthy", app: "upshift-demo", from: "1.0.0", version: "1.1.0",
			change:  func(_ *fixture, det *detect.Result) { det.Report.Services[1].Health = "unhealthy" },
			wantErr: []string{"api is unhealthy"},
		},
		{
			name: "a finished job and an absent other service are fine (dify)", app: "dify", from: "1.9.1", version: "1.10.0",
			change: func(f *fixture, det *detect.Result) {
				f.http.body = `{"status":"ok"}`
				det.Report.Services[1].State = "not created" // redis, role other
				det.Report.Services = append(det.Report.Services, detect.ServiceReport{Name: "init_permissions", Role: "other", State: "exited"})
			},
		},
		{
			name: "HTTP health check not 200", app: "upshift-demo", from: "1.0.0", version: "1.1.0",
			change:  func(f *fixture, _ *detect.Result) { f.http.status = 503 },
			wantErr: []string{"health check api /health: status 503, want 200"},
		},
		{
			name: "HTTP health check body (dify)", app: "dify", from: "1.9.1", version: "1.10.0",
			change:  func(f *fixture, _ *detect.Result) { f.http.body = `{"status":"starting"}` },
			wantErr: []string{"health check api /health", `body does not contain "\"status\":\"ok\""`},
		},
		{
			name: "HTTP health check unreachable", app: "upshift-demo", from: "1.0.0", version: "1.1.0",
			change:  func(f *fixture, _ *detect.Result) { f.http.err = errors.New("connection refused") },
			wantErr: []string{"health check api /health: connection refused"},
		},
		{
			name: "no container for the health check", app: "upshift-demo", from: "1.0.0", version: "1.1.0",
			change:  func(_ *fixture, det *detect.Result) { delete(det.Containers, "api") },
			wantErr: []string{"health check: no api container"},
		},
		{
			name: "detection fails", app: "upshift-demo", from: "1.0.0", version: "1.1.0",
			change:  func(f *fixture, _ *detect.Result) { f.det.err = errFake },
			wantErr: []string{"fake failure"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			noRetry(t)
			f := newFixture(t, c.app, c.from)
			after := f.atVersion(c.version)
			f.det.res = after
			if c.change != nil {
				c.change(f, after)
			}
			err := (&verifyStep{env: f.env, hop: c.version, version: c.version}).Run(context.Background(), f.sink)
			if c.wantErr != nil {
				wantErr(t, err, c.wantErr...)
				if f.env.Current() != c.from {
					t.Errorf("Current() %s after a failed verify", f.env.Current())
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\nlog:\n%s", err, f.sink.text())
			}
			if f.env.Current() != c.version {
				t.Errorf("Current() %s", f.env.Current())
			}
			if !f.sink.has("✓ the app runs") || !f.sink.has("✓ api GET :") {
				t.Errorf("log:\n%s", f.sink.text())
			}
		})
	}
}

func TestVerifyHTTPAddress(t *testing.T) {
	noRetry(t)
	f := newFixture(t, "upshift-demo", "1.0.0")
	f.det.res = f.atVersion("1.1.0")
	if err := (&verifyStep{env: f.env, hop: "1.1.0", version: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
		t.Fatal(err)
	}
	// The container's address on its network (api is the second service).
	if !equalStrings(f.http.urls, []string{"http://172.18.0.3:8080/health"}) {
		t.Errorf("urls %v", f.http.urls)
	}
}

// Verify tries again while the stack settles (one retry: about a second).
func TestVerifyRetries(t *testing.T) {
	f := newFixture(t, "upshift-demo", "1.0.0")
	starting := f.atVersion("1.1.0")
	starting.Report.Services[1].Health = "starting"
	f.det.seq = []*detect.Result{starting, f.atVersion("1.1.0")}
	if err := (&verifyStep{env: f.env, hop: "1.1.0", version: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
		t.Fatal(err)
	}
	if f.det.n != 2 || f.env.Current() != "1.1.0" {
		t.Errorf("detected %d times, current %s", f.det.n, f.env.Current())
	}
}

// A cancelled verify says so. It does not say which check was failing
// (see NOTES-h13c.md: verify.go drops lastErr when the context ends).
func TestVerifyCancelled(t *testing.T) {
	f := newFixture(t, "upshift-demo", "1.0.0")
	f.det.res = f.atVersion("1.0.0")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := (&verifyStep{env: f.env, hop: "1.1.0", version: "1.1.0"}).Run(ctx, f.sink)
	wantErr(t, err, "verify 1.1.0", "deadline exceeded")
}
