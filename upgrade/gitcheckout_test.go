package upgrade

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestConfigGitCheckout: a project directory that is a clone of the app's
// repository, tags per release, the admin's edits in the work tree.
func TestConfigGitCheckout(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	const (
		v110 = "services:\n  api:\n    image: upshift-demo/app:${APP_VERSION}\n    ports:\n      - \"8080:8080\"\n    environment:\n      NOTES_PAGE_SIZE: \"20\"\n"
		v200 = "services:\n  api:\n    image: upshift-demo/app:${APP_VERSION}\n    ports:\n      - \"8080:8080\"\n    environment:\n      NOTES_PAGE_SIZE: \"50\"\n  scheduler:\n    image: upshift-demo/app:${APP_VERSION}\n    command: [\"scheduler\"]\n"
	)
	setup := func(t *testing.T, edit func(string) string) (*fixture, string, string) {
		f := newFixture(t, "upshift-demo", "1.1.0")
		p := *f.env.Profile
		p.Templates = nil // the files come from the clone
		f.env.Profile = &p
		f.env.BuiltinEnvTemplate = func(string) ([]byte, error) { return []byte("APP_VERSION=\nNOTES_SECRET=\n"), nil }
		dir, compose := f.env.Dir(), f.env.Project.Files[0]
		gitIn(t, dir, "init", "-q")
		writeFile(t, compose, v110)
		writeFile(t, dir+"/.gitignore", ".env\nbackups/\n")
		gitIn(t, dir, "add", "docker-compose.yml", ".gitignore")
		gitIn(t, dir, "commit", "-qm", "1.1.0")
		gitIn(t, dir, "tag", "1.1.0")
		writeFile(t, compose, v200)
		gitIn(t, dir, "commit", "-qam", "2.0.0")
		gitIn(t, dir, "tag", "2.0.0")
		gitIn(t, dir, "checkout", "-q", "--detach", "1.1.0")
		admin := edit(v110)
		writeFile(t, compose, admin)
		writeFile(t, f.env.EnvPath(), "APP_VERSION=1.1.0\nNOTES_SECRET=admin-secret-123\n")
		UseGit(f.env)
		if f.env.git == nil {
			t.Fatal("the clone was not recognised")
		}
		f.env.AddRestorePoint(testSet("s1", "1.1.0"))
		return f, compose, admin
	}
	t.Run("the tag is checked out with the admin's edit carried across; the restore puts everything back", func(t *testing.T) {
		f, compose, admin := setup(t, func(s string) string { return strings.Replace(s, `"8080:8080"`, `"9090:8080"`, 1) })
		s := &configStep{env: f.env, from: "1.1.0", to: "2.0.0"}
		diff, err := s.Prompt(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(diff, "+  scheduler:") {
			t.Errorf("diff:\n%s", diff)
		}
		if err := s.Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(compose)
		if got := string(b); !strings.Contains(got, `"9090:8080"`) || !strings.Contains(got, "scheduler:") || !strings.Contains(got, `NOTES_PAGE_SIZE: "50"`) {
			t.Errorf("compose after the checkout:\n%s", got)
		}
		if head := gitIn(t, f.env.Dir(), "describe", "--tags", "--exact-match"); head != "2.0.0" {
			t.Errorf("HEAD at %s", head)
		}
		if v := envValue(t, f.env.EnvPath(), "APP_VERSION"); v != "2.0.0" {
			t.Errorf("APP_VERSION=%q", v)
		}
		// The rollback's undo: the old checkout and the admin's file.
		if err := f.env.git.undo(context.Background(), "s1", f.sink.Log); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(compose); string(b) != admin {
			t.Errorf("compose after the undo:\n%s", b)
		}
		if head := gitIn(t, f.env.Dir(), "describe", "--tags", "--exact-match"); head != "1.1.0" {
			t.Errorf("HEAD after the undo at %s", head)
		}
		if st, err := os.Stat(f.env.BackupDir + "/s1/git-checkout.json"); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("undo record: %v", err)
		}
	})
	t.Run("a local edit the tag changed too stops before anything changes", func(t *testing.T) {
		f, compose, admin := setup(t, func(s string) string { return strings.Replace(s, `NOTES_PAGE_SIZE: "20"`, `NOTES_PAGE_SIZE: "30"`, 1) })
		_, err := (&configStep{env: f.env, from: "1.1.0", to: "2.0.0"}).Prompt(context.Background())
		wantErr(t, err, "cannot be carried onto 2.0.0", "Nothing was changed", "NOTES_PAGE_SIZE", `"30"`, `"50"`)
		if b, _ := os.ReadFile(compose); string(b) != admin {
			t.Errorf("compose changed:\n%s", b)
		}
		if head := gitIn(t, f.env.Dir(), "describe", "--tags", "--exact-match"); head != "1.1.0" {
			t.Errorf("HEAD moved to %s", head)
		}
	})
	t.Run("a clone without the running version's tag is not used", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.1.0")
		gitIn(t, f.env.Dir(), "init", "-q")
		writeFile(t, f.env.Dir()+"/x", "x")
		gitIn(t, f.env.Dir(), "add", "x")
		gitIn(t, f.env.Dir(), "commit", "-qm", "mine")
		UseGit(f.env)
		if f.env.git != nil {
			t.Error("the admin's own repository was taken for the app's clone")
		}
	})
}
