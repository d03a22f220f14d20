package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// A Docker context pointing at the same engine works with --context, for
// the SDK and every docker compose call.
func TestDockerContextFlag(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	name := testenv.UniqueName("ctx")
	if out, err := testenv.Docker("context", "create", name, "--docker", "host=unix:///var/run/docker.sock"); err != nil {
		t.Fatalf("docker context create: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = testenv.Docker("context", "rm", "-f", name) })
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_HOST=") && !strings.HasPrefix(kv, "DOCKER_CONTEXT=") {
			env = append(env, kv)
		}
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, s.Bin, args...)
		cmd.Dir, cmd.Env = s.Dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("detect", "--context", name, "--json"); err != nil || !strings.Contains(out, `"version": "1.0.0"`) {
		t.Fatalf("detect --context: %v\n%s", err, out)
	}
	out, err := run("upgrade", "--context", name, "--to", "1.1.0", "--yes", "--json")
	if err != nil {
		t.Fatalf("upgrade --context: %v\n%s", err, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "1.1.0" {
		t.Fatalf("result %+v", res)
	}
	if out, err := run("detect", "--context", "no-such-context-"+name); err == nil || !strings.Contains(out, "docker context ls") {
		t.Fatalf("an unknown context must be a clear error: %v\n%s", err, out)
	}
}
