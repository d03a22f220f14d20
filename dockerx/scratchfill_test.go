package dockerx

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// TestScratchFill: Fill runs between the create and the first start, its
// helper sees the server's volume and is gone afterwards; a Fill that
// fails leaves no part of the scratch server.
func TestScratchFill(t *testing.T) {
	ctx, eng := testEngine(t)
	spec := ScratchSpec{Image: testenv.PostgresImage(), DataDir: "/srv/filled", Env: []string{"POSTGRES_PASSWORD=x"}, Purpose: "test"}
	spec.Fill = func(ctx context.Context, s *Scratch) error {
		if c, err := eng.Inspect(ctx, s.ID); err != nil || c.State == "running" {
			t.Errorf("Fill on a container %q (%v): want created, not started", c.State, err)
		}
		return s.RunOnVolumes(ctx, []string{"/bin/sh", "-c", "echo filled > /srv/filled/f && chown -R 999:999 /srv/filled"}, "test-fill")
	}
	sc, err := eng.StartScratch(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sc.Remove(ctx) }()
	if out, err := testenv.Docker("exec", sc.ID, "sh", "-c", "cat /srv/filled/f; ls -ln /srv/filled/f"); err != nil || !strings.HasPrefix(out, "filled\n") || !strings.Contains(out, " 999 ") {
		t.Errorf("the volume after Fill (%v): %s", err, out)
	}
	if n := len(strings.Fields(runParts(t, sc.RunID))); n != 3 {
		t.Errorf("parts after the fill: %s (the helper must be gone)", runParts(t, sc.RunID))
	}
	if err := sc.Remove(ctx); err != nil {
		t.Fatal(err)
	}

	run := ""
	spec.Fill = func(ctx context.Context, s *Scratch) error {
		run = s.RunID
		return s.RunOnVolumes(ctx, []string{"/bin/sh", "-c", "echo no room >&2; exit 3"}, "test-fill")
	}
	_, err = eng.StartScratch(ctx, spec)
	if err == nil || !strings.Contains(err.Error(), "test-fill exited with 3: no room") {
		t.Fatalf("err %v", err)
	}
	if left := runParts(t, run); run == "" || left != "" {
		t.Errorf("a failed fill left %q of run %q", left, run)
	}
	stop := errors.New("stop here")
	spec.Fill = func(ctx context.Context, s *Scratch) error { run = s.RunID; return stop }
	if _, err := eng.StartScratch(ctx, spec); !errors.Is(err, stop) {
		t.Fatalf("err %v", err)
	}
	if left := runParts(t, run); left != "" {
		t.Errorf("a failed fill left %q", left)
	}
}

// testEngine connects to the test Docker engine for 2 minutes at most.
func testEngine(t *testing.T) (context.Context, *Engine) {
	t.Helper()
	testenv.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	eng, err := Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return ctx, eng
}
