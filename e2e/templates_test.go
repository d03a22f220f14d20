package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// editCompose rewrites the demo stack's compose.yaml as an admin would and
// restarts the stack on it.
func editCompose(t *testing.T, s *testenv.Stack, edit func(string) string) string {
	t.Helper()
	p := filepath.Join(s.Dir, "compose.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	out := edit(string(b))
	if out == string(b) {
		t.Fatal("the edit changed nothing")
	}
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := s.Compose("up", "-d", "--wait", "--wait-timeout", "120"); err != nil {
		t.Fatalf("up after the edit: %v\n%s", err, o)
	}
	return out
}

func containerEnv(t *testing.T, container string) string {
	t.Helper()
	out, err := testenv.Docker("inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", container)
	if err != nil {
		t.Fatalf("inspect %s: %v\n%s", container, err, out)
	}
	return out
}

// TestComposeTemplateMerge: demo 1.1.0 → 2.0.0, whose compose.yaml adds the
// scheduler and changes a default, on a stack whose admin changed the api's
// published port and added an env var: the new service runs, the admin's
// port and env stay, the diff was shown. Then a run across a failing hop
// rolled back to its start puts the admin's compose file back byte for byte.
func TestComposeTemplateMerge(t *testing.T) {
	t.Parallel()
	s := testenv.StartDemo(t, "1.1.0")
	port := strconv.Itoa(testenv.FreePort(t))
	admin := editCompose(t, s, func(c string) string {
		c = strings.Replace(c, `"127.0.0.1:${API_PORT:-8080}:8080"`, `"127.0.0.1:`+port+`:8080" # my port`, 1)
		return strings.Replace(c, `      NOTES_PAGE_SIZE: "20"`+"\n", `      NOTES_PAGE_SIZE: "20"`+"\n"+`      ADMIN_NOTE: "kept by upshift"`+"\n", 1)
	})
	s.Port = port

	out, err := s.Run("upgrade", "--to", "2.0.0", "--yes", "--json")
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "2.0.0" {
		t.Fatalf("result %+v\n%s", res, out)
	}
	for _, want := range []string{`+  scheduler:`, `-      NOTES_PAGE_SIZE: \"20\"`, `+      NOTES_PAGE_SIZE: \"50\"`, "compose merge:"} {
		if !strings.Contains(out, want) {
			t.Errorf("the confirmation did not show %s", want)
		}
	}
	b, _ := os.ReadFile(filepath.Join(s.Dir, "compose.yaml"))
	merged := string(b)
	for _, want := range []string{`"127.0.0.1:` + port + `:8080" # my port`, `ADMIN_NOTE: "kept by upshift"`, `NOTES_PAGE_SIZE: "50"`, "scheduler:"} {
		if !strings.Contains(merged, want) {
			t.Errorf("compose after the upgrade lacks %s:\n%s", want, merged)
		}
	}
	if v, err := s.APIVersion(); err != nil || v != "2.0.0" {
		t.Errorf("api on the admin's port: %q %v", v, err)
	}
	if st := startedAt(t, s, "scheduler"); st == "scheduler=" {
		t.Error("the scheduler did not start")
	}
	if env := containerEnv(t, s.Container("api")); !strings.Contains(env, "ADMIN_NOTE=kept by upshift") || !strings.Contains(env, "NOTES_PAGE_SIZE=50") {
		t.Errorf("api env:\n%s", env)
	}
	waitFor(t, "the scheduler to write", func() bool {
		n, err := s.PSQL(`SELECT count(*) FROM notes WHERE body LIKE 'digest %'`)
		return err == nil && n != "0"
	})

	// A second stack: the whole path in one run, 2.1.0's migration fails on
	// duplicate notes, the run goes back to its start: the admin's 1.1.0
	// compose file byte for byte, no scheduler.
	s2 := testenv.StartDemo(t, "1.1.0")
	port2 := strconv.Itoa(testenv.FreePort(t))
	admin2 := editCompose(t, s2, func(c string) string {
		return strings.Replace(c, `"127.0.0.1:${API_PORT:-8080}:8080"`, `"127.0.0.1:`+port2+`:8080"`, 1)
	})
	s2.Port = port2
	if _, err := s2.PSQL(`INSERT INTO notes (body, word_count) VALUES ('same', 1), ('same', 1)`); err != nil {
		t.Fatal(err)
	}
	out, err = s2.Run(withoutRehearsal(t, s2, "upgrade", "--to", "2.1.0", "--yes", "--json", "--rollback-to", "start")...)
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit %d, want 3 (rolled back)\n%s", code, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeRolledBack || res.Reached != "1.1.0" {
		t.Fatalf("result %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(s2.Dir, "compose.yaml")); string(b) != admin2 {
		t.Errorf("compose after the rollback is not the admin's file byte for byte:\n%s", b)
	}
	if out, _ := testenv.Docker("ps", "-q", "--filter", "name="+s2.Container("scheduler")); strings.TrimSpace(out) != "" {
		t.Error("the scheduler of 2.0.0 still runs after the rollback to 1.1.0")
	}
	if v, err := s2.APIVersion(); err != nil || v != "1.1.0" {
		t.Errorf("api after the rollback %q %v", v, err)
	}
	_ = admin
}

// TestComposeTemplateConflict: the admin changed a setting the release
// changed too: the upgrade stops before anything is stopped or written,
// with both values.
func TestComposeTemplateConflict(t *testing.T) {
	t.Parallel()
	s := testenv.StartDemo(t, "1.1.0")
	admin := editCompose(t, s, func(c string) string {
		return strings.Replace(c, `NOTES_PAGE_SIZE: "20"`, `NOTES_PAGE_SIZE: "30"`, 1)
	})
	env, _ := os.ReadFile(filepath.Join(s.Dir, ".env"))
	api := startedAt(t, s, "api")
	out, err := s.Run("upgrade", "--to", "2.0.0", "--yes", "--json")
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	res := lastResult(t, out)
	if !res.Unchanged || !strings.Contains(res.Error, "Nothing was changed") || !strings.Contains(res.Error, `\"30\"`) && !strings.Contains(res.Error, `"30"`) || !strings.Contains(res.Error, `"50"`) {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(res.Error, "services.api.environment.NOTES_PAGE_SIZE") {
		t.Errorf("the conflict is not named: %s", res.Error)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir, "compose.yaml")); string(b) != admin {
		t.Errorf("compose changed:\n%s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir, ".env")); string(b) != string(env) {
		t.Errorf(".env changed")
	}
	if now := startedAt(t, s, "api"); now != api {
		t.Errorf("the api was restarted (%s → %s)", api, now)
	}
}

// TestGitCloneLayout: the demo directory as a clone with a tag per release
// and a local edit: a hop checks the tag out with the edit kept; a local
// edit the next tag changed too stops before any downtime.
func TestGitCloneLayout(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	t.Parallel()
	s := testenv.StartDemo(t, "1.1.0")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", s.Dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	compose := filepath.Join(s.Dir, "compose.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(compose, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c110, _ := demo.ComposeFor("1.1.0")
	c200, _ := demo.ComposeFor("2.0.0")
	c210 := strings.Replace(string(c200), `NOTES_PAGE_SIZE: "50"`, `NOTES_PAGE_SIZE: "60"`, 1)
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(s.Dir, ".gitignore"), []byte(".env\nupshift-backups/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ tag, body string }{{"v1.1.0", string(c110)}, {"v2.0.0", string(c200)}, {"v2.1.0", c210}} {
		write(r.body)
		git("add", "-A")
		git("commit", "-qm", r.tag)
		git("tag", r.tag)
	}
	git("checkout", "-q", "--detach", "v1.1.0")
	port := strconv.Itoa(testenv.FreePort(t))
	editCompose(t, s, func(c string) string {
		return strings.Replace(c, `"127.0.0.1:${API_PORT:-8080}:8080"`, `"127.0.0.1:`+port+`:8080" # mine`, 1)
	})
	s.Port = port

	out, err := s.Run("upgrade", "--to", "2.0.0", "--yes", "--json")
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "2.0.0" {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(out, "checked out v2.0.0") {
		t.Errorf("the checkout is not in the events:\n%s", out)
	}
	if tag := git("describe", "--tags", "--exact-match"); tag != "v2.0.0" {
		t.Errorf("HEAD at %s", tag)
	}
	b, _ := os.ReadFile(compose)
	if got := string(b); !strings.Contains(got, `"127.0.0.1:`+port+`:8080" # mine`) || !strings.Contains(got, "scheduler:") {
		t.Errorf("compose after the checkout:\n%s", got)
	}
	if v, err := s.APIVersion(); err != nil || v != "2.0.0" {
		t.Errorf("api %q %v", v, err)
	}

	// The admin sets the page size; v2.1.0 changed it too.
	edited := editCompose(t, s, func(c string) string {
		return strings.Replace(c, `NOTES_PAGE_SIZE: "50"`, `NOTES_PAGE_SIZE: "70"`, 1)
	})
	api := startedAt(t, s, "api")
	if _, err := s.PSQL(`DELETE FROM notes a USING notes b WHERE a.body = b.body AND a.id > b.id`); err != nil {
		t.Fatal(err)
	}
	out, err = s.Run(withoutRehearsal(t, s, "upgrade", "--to", "2.1.0", "--yes", "--json")...)
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	res := lastResult(t, out)
	if !res.Unchanged || !strings.Contains(res.Error, "cannot be carried onto v2.1.0") || !strings.Contains(res.Error, "70") || !strings.Contains(res.Error, "60") {
		t.Errorf("result %+v", res)
	}
	if tag := git("describe", "--tags", "--exact-match"); tag != "v2.0.0" {
		t.Errorf("HEAD moved to %s", tag)
	}
	if b, _ := os.ReadFile(compose); string(b) != edited {
		t.Errorf("compose changed:\n%s", b)
	}
	if now := startedAt(t, s, "api"); now != api {
		t.Errorf("the api was restarted (%s → %s)", api, now)
	}
}

// withoutRehearsal adds --no-rehearsal when this upshift has it (a test of
// what happens after the stop).
func withoutRehearsal(t *testing.T, s *testenv.Stack, args ...string) []string {
	t.Helper()
	help, _ := s.Run("upgrade", "--help")
	if strings.Contains(help, "--no-rehearsal") {
		return append(args, "--no-rehearsal")
	}
	return args
}
