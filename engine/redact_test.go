package engine_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/pg"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/render"
	"github.com/seed-e7a9fb3b/upshift/steps"
	"github.com/seed-e7a9fb3b/upshift/upgrade"
)

// leakyStep prints and fails with the secrets in every form a tool might.
type leakyStep struct{ id string }

func (s leakyStep) Info() steps.StepInfo {
	return steps.StepInfo{ID: s.id, Name: "leak " + s.id, Explain: "DSN postgres://app:hunter2-long-db-password@db/app"}
}

func (s leakyStep) Run(_ context.Context, sink steps.Sink) error {
	sink.Log("connecting as app with password hunter2-long-db-password (user hunter)")
	sink.Log("secret=hunter; n9e password=1234;")
	sink.Log("2026-11-22 08.571234994 started, id=12345, port 51234")
	return errors.New("login failed for pw=hunter2-long-db-password and \"1234\"")
}

// Secrets never reach the printers (plain, JSON), the log file or the
// journal, and the text around them is not mangled: a short secret is
// masked as a whole token only. The TUI reads the same redacted stream.
func TestRunRedactsEverywhere(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, ".env")
	if err := os.WriteFile(env, []byte("APP_SECRET=hunter\nN9E_PASSWORD=1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	det := &detect.Result{
		Stack:   &detect.Stack{Invocation: dockerx.Project{Name: "leaky", WorkingDir: dir}, EnvFile: env},
		Profile: demoProfile(t),
		DB:      detect.DBTarget{Params: pg.Params{User: "app", Password: "hunter2-long-db-password"}},
	}
	s := engine.NewSession(nil, det, engine.Options{Upshift: "test"})
	uenv := &upgrade.Env{Start: det, Profile: det.Profile, Project: det.Stack.Invocation, BackupDir: filepath.Join(dir, "backups")}
	plan := &steps.Plan{From: "1.0.0", To: "1.1.0", Steps: []steps.Step{leakyStep{"1.1.0/a"}}}
	var plain, js, logf bytes.Buffer
	pp, jp := render.NewPlain(&plain), render.NewJSON(&js)
	res, err := s.Run(context.Background(), uenv, plan, 0, nil, []string{"1.1.0"}, engine.RunOptions{
		Emit:    func(ev steps.Event) { pp.Emit(ev); jp.Emit(ev) },
		LogFile: &logf,
		What:    "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	journals, _ := filepath.Glob(filepath.Join(dir, "backups", "runs", "*.jsonl"))
	if len(journals) != 1 {
		t.Fatalf("journals %v", journals)
	}
	jb, _ := os.ReadFile(journals[0])
	outputs := map[string]string{"plain": plain.String(), "json": js.String(), "log file": logf.String(), "journal": string(jb), "result": res.Error + res.Message}
	for name, out := range outputs {
		for _, frag := range []string{"hunter2", "long-db-password", "db-password"} {
			if strings.Contains(out, frag) {
				t.Errorf("%s leaks %q:\n%s", name, frag, out)
			}
		}
		for _, bad := range []string{"secret=hunter", "password=1234", `"1234"`, `\"1234\"`, "user hunter)"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s leaks a short secret as a whole token (%s):\n%s", name, bad, out)
			}
		}
	}
	for _, name := range []string{"plain", "json", "log file"} {
		for _, keep := range []string{"08.571234994", "id=12345", "port 51234"} {
			if !strings.Contains(outputs[name], keep) {
				t.Errorf("%s mangled %q (a short secret inside other text must stay):\n%s", name, keep, outputs[name])
			}
		}
	}
}

func demoProfile(t *testing.T) *profile.Profile {
	t.Helper()
	p := profile.Named("upshift-demo")
	if p == nil {
		t.Fatal("no upshift-demo profile")
	}
	return p
}
