package gitrepo

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Fixtures: a demo-like app repository whose compose directory is docker/.
const composeV1 = `# shop stack
services:
  api:
    image: example/shop-api:1.0.0
    environment:
      - WORKERS=2
    ports:
      - "8080:8080"

  db:
    image: postgres:15
`

var (
	composeV11 = strings.Replace(composeV1, "1.0.0", "1.1.0", 1)
	composeV2  = strings.Replace(strings.Replace(strings.Replace(composeV11, "1.1.0", "2.0.0", 1), "WORKERS=2", "WORKERS=4", 1),
		"  db:\n", "  scheduler:\n    image: example/shop-api:2.0.0\n    command: [\"scheduler\"]\n\n  db:\n", 1)
)

const (
	configV1  = "# app settings\nlog_level = \"info\"\ncache = 10\n"
	configV2  = "# app settings\nlog_level = \"warn\"\ncache = 10\ntimeout = 30\n"
	readmeV1  = "shop\n\nrun it with docker compose\n"
	readmeV2  = "shop\n\nrun it with docker compose up -d\n"
	envLocal  = "DB_PASSWORD=verysecretpassword\n"
	gitignore = ".env\n"
)

func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=upshift test", "-c", "user.email=test@upshift.invalid", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// newRepo builds a clone-like repository with tags 1.0.0, v1.1.0 and
// 2.0.0, checked out on branch main at 1.1.0, and returns its docker/ dir.
func newRepo(t *testing.T) (top, dir string) {
	t.Helper()
	top = t.TempDir()
	run(t, top, "init", "--quiet", "--initial-branch=main")
	dir = filepath.Join(top, "docker")
	commit := func(tag, compose, config, readme string) {
		write(t, filepath.Join(dir, "compose.yaml"), compose)
		write(t, filepath.Join(dir, "config", "app.toml"), config)
		write(t, filepath.Join(top, "README"), readme)
		write(t, filepath.Join(dir, ".gitignore"), gitignore)
		run(t, top, "add", "-A")
		run(t, top, "commit", "--quiet", "-m", "release "+tag)
		run(t, top, "tag", tag)
	}
	commit("1.0.0", composeV1, configV1, readmeV1)
	commit("v1.1.0", composeV11, configV1, readmeV1)
	commit("2.0.0", composeV2, configV2, readmeV2)
	run(t, top, "checkout", "--quiet", "-B", "main", "v1.1.0")
	write(t, filepath.Join(dir, ".env"), envLocal)
	return top, dir
}

// snapshot is HEAD and every file of the work tree, for byte-for-byte checks.
func snapshot(t *testing.T, top string) map[string]string {
	t.Helper()
	s := map[string]string{"HEAD": run(t, top, "rev-parse", "HEAD"), "branch": run(t, top, "rev-parse", "--abbrev-ref", "HEAD")}
	err := filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			info, _ := d.Info()
			s[p] = info.Mode().String() + "\n" + read(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openRepo(t *testing.T, dir string) *Repo {
	t.Helper()
	r, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestOpenAndQueries(t *testing.T) {
	ctx := context.Background()
	if r, err := Open(ctx, t.TempDir()); !errors.Is(err, ErrNotRepo) || r != nil {
		t.Fatalf("Open(not a repo) = %v, %v", r, err)
	}
	top, dir := newRepo(t)
	r := openRepo(t, dir)
	head, err := r.Head(ctx)
	if err != nil || head != run(t, top, "rev-parse", "v1.1.0^{commit}") {
		t.Errorf("Head = %s, %v", head, err)
	}
	for version, want := range map[string]string{"1.1.0": "v1.1.0", "v1.1.0": "v1.1.0", "2.0.0": "2.0.0", "v1.0.0": "1.0.0"} {
		if got, err := r.TagFor(ctx, version); err != nil || got != want {
			t.Errorf("TagFor(%s) = %q, %v; want %s", version, got, err, want)
		}
	}
	if _, err := r.TagFor(ctx, "9.9.9"); err == nil || !strings.Contains(err.Error(), "git fetch --tags") {
		t.Errorf("TagFor(unknown) = %v", err)
	}
	got, err := r.Show(ctx, "1.0.0", "compose.yaml")
	if err != nil || string(got) != composeV1 {
		t.Errorf("Show = %q, %v", got, err)
	}
	if got, err := r.Show(ctx, "1.0.0", "nope.yaml"); err != nil || got != nil {
		t.Errorf("Show(absent) = %q, %v", got, err)
	}
	if got, err := r.Show(ctx, "2.0.0", "../README"); err != nil || string(got) != readmeV2 {
		t.Errorf("Show(../README) = %q, %v", got, err)
	}
	write(t, filepath.Join(dir, "compose.yaml"), composeV11+"# mine\n")
	write(t, filepath.Join(dir, "notes.txt"), "mine\n")
	changes, err := r.LocalChanges(ctx)
	if want := []string{"compose.yaml", "notes.txt"}; err != nil || !reflect.DeepEqual(changes, want) {
		t.Errorf("LocalChanges = %v, %v; want %v (.env is ignored)", changes, err, want)
	}
}

// FetchTags finds a tag only the remote has.
func TestTagForFetch(t *testing.T) {
	ctx := context.Background()
	upstream, _ := newRepo(t)
	clone := t.TempDir()
	run(t, clone, "clone", "--quiet", "--no-tags", "--branch", "main", upstream, "app")
	r := openRepo(t, filepath.Join(clone, "app", "docker"))
	if _, err := r.TagFor(ctx, "2.0.0"); err == nil {
		t.Fatal("found a tag that is not fetched")
	}
	r.FetchTags = true
	if got, err := r.TagFor(ctx, "2.0.0"); err != nil || got != "2.0.0" {
		t.Errorf("TagFor with fetch = %q, %v", got, err)
	}
}

func TestPlanApplyRestore(t *testing.T) {
	ctx := context.Background()
	top, dir := newRepo(t)
	// The admin's edits: a port, an env var, a config value, a new file.
	compose := strings.Replace(composeV11, `"8080:8080"`, `"18080:8080"`, 1)
	compose = strings.Replace(compose, "      - WORKERS=2\n", "      - WORKERS=2\n      - BANNER=hello # mine\n", 1)
	write(t, filepath.Join(dir, "compose.yaml"), compose)
	write(t, filepath.Join(dir, "config", "app.toml"), strings.Replace(configV1, "cache = 10", "cache = 50 # more", 1))
	if err := os.Chmod(filepath.Join(dir, "config", "app.toml"), 0o600); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, ".gitignore"), gitignore+"backups/\n")      // changed locally only
	write(t, filepath.Join(dir, "compose.override.yaml"), "services: {}\n") // untracked, not ignored
	before := snapshot(t, top)

	r := openRepo(t, dir)
	p, err := r.Plan(ctx, "2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conflicts) != 0 {
		t.Fatalf("conflicts: %v", p.Conflicts)
	}
	how := map[string]string{}
	for _, f := range p.Files {
		how[f.Path] = f.How
	}
	if want := map[string]string{"compose.yaml": Merged, filepath.Join("config", "app.toml"): Merged, filepath.Join("..", "README"): FromTag, ".gitignore": Yours}; !reflect.DeepEqual(how, want) {
		t.Errorf("plan = %v, want %v", how, want)
	}
	if !reflect.DeepEqual(snapshot(t, top), before) {
		t.Fatal("Plan changed the work tree")
	}
	for _, f := range p.Files {
		if f.Path == filepath.Join("..", "README") && (f.Result != nil || f.Ours != nil) {
			t.Error("a file outside the directory the admin never changed should carry only its path")
		}
	}
	if err := p.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if head := run(t, top, "rev-parse", "HEAD"); head != run(t, top, "rev-parse", "2.0.0^{commit}") {
		t.Errorf("HEAD = %s, not at 2.0.0", head)
	}
	got := read(t, filepath.Join(dir, "compose.yaml"))
	for _, want := range []string{`"18080:8080"`, "- BANNER=hello # mine", "- WORKERS=4", "example/shop-api:2.0.0", "scheduler:", "# shop stack"} {
		if !strings.Contains(got, want) {
			t.Errorf("compose.yaml lacks %q:\n%s", want, got)
		}
	}
	cfg := read(t, filepath.Join(dir, "config", "app.toml"))
	if !strings.Contains(cfg, "cache = 50 # more") || !strings.Contains(cfg, `log_level = "warn"`) || !strings.Contains(cfg, "timeout = 30") {
		t.Errorf("app.toml:\n%s", cfg)
	}
	if st, _ := os.Stat(filepath.Join(dir, "config", "app.toml")); st.Mode().Perm() != 0o600 {
		t.Errorf("app.toml mode %v, want the admin's 0600", st.Mode().Perm())
	}
	if read(t, filepath.Join(top, "README")) != readmeV2 {
		t.Error("README not at the tag's version")
	}
	if read(t, filepath.Join(dir, ".env")) != envLocal {
		t.Error(".env (ignored) was touched")
	}
	if read(t, filepath.Join(dir, "compose.override.yaml")) != "services: {}\n" {
		t.Error("the admin's untracked file was touched")
	}
	if read(t, filepath.Join(dir, ".gitignore")) != gitignore+"backups/\n" {
		t.Error("the admin's .gitignore edit is gone")
	}

	if err := p.Undo(ctx); err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, top)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("Restore did not put everything back:\n got %v\nwant %v", after, before)
	}
}

func TestPlanRefuses(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, top, dir string)
		tag   string
		plan  string // error from Plan
		apply string // error from Apply (a conflict)
	}{
		{
			name: "conflicting compose edit",
			setup: func(t *testing.T, top, dir string) {
				write(t, filepath.Join(dir, "compose.yaml"), strings.Replace(composeV11, "WORKERS=2", "WORKERS=8", 1))
			},
			tag: "2.0.0", apply: `compose.yaml: services.api.environment.WORKERS: changed on both sides: running release "2", target release "4", yours "8"`,
		},
		{
			name: "conflicting config edit",
			setup: func(t *testing.T, top, dir string) {
				write(t, filepath.Join(dir, "config", "app.toml"), strings.Replace(configV1, "info", "debug", 1))
			},
			tag: "2.0.0", apply: `log_level: changed on both sides: yours "\"debug\"", the tag's "\"warn\""`,
		},
		{
			name: "conflicting text edit",
			setup: func(t *testing.T, top, dir string) {
				write(t, filepath.Join(top, "README"), strings.Replace(readmeV1, "compose", "compose (mine)", 1))
			},
			tag: "2.0.0", apply: "README: your changes and the tag 2.0.0's change the same lines",
		},
		{name: "unknown tag", tag: "3.0.0", plan: `no tag "3.0.0"`},
		{
			name: "staged changes",
			setup: func(t *testing.T, top, dir string) {
				write(t, filepath.Join(top, "README"), "x\n")
				run(t, top, "add", "README")
			},
			tag: "2.0.0", plan: "staged changes",
		},
		{
			name: "merge in progress",
			setup: func(t *testing.T, top, dir string) {
				write(t, filepath.Join(top, ".git", "MERGE_HEAD"), run(t, top, "rev-parse", "2.0.0")+"\n")
			},
			tag: "2.0.0", plan: "a git merge is in progress",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top, dir := newRepo(t)
			if tt.setup != nil {
				tt.setup(t, top, dir)
			}
			before := snapshot(t, top)
			r := openRepo(t, dir)
			p, err := r.Plan(ctx, tt.tag)
			if tt.plan != "" {
				if err == nil || !strings.Contains(err.Error(), tt.plan) || !strings.Contains(err.Error(), "nothing was changed") {
					t.Fatalf("Plan error = %v, want %q and nothing changed", err, tt.plan)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				err = p.Apply(ctx)
				if err == nil || !strings.Contains(err.Error(), tt.apply) || !strings.Contains(err.Error(), "nothing was changed") {
					t.Fatalf("Apply error = %v, want %q", err, tt.apply)
				}
			}
			if !reflect.DeepEqual(snapshot(t, top), before) {
				t.Error("the refusal changed the work tree")
			}
		})
	}
}

// A file the tag starts tracking where the admin has an untracked one.
func TestPlanUntrackedCollision(t *testing.T) {
	ctx := context.Background()
	top, dir := newRepo(t)
	run(t, top, "checkout", "--quiet", "2.0.0")
	write(t, filepath.Join(dir, "extra.yaml"), "a: 1\n")
	run(t, top, "add", "docker/extra.yaml")
	run(t, top, "commit", "--quiet", "-m", "extra")
	run(t, top, "tag", "2.1.0")
	run(t, top, "checkout", "--quiet", "main")
	write(t, filepath.Join(dir, "extra.yaml"), "a: 2\n")
	p, err := openRepo(t, dir).Plan(ctx, "2.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conflicts) != 1 || p.Conflicts[0].Path != "extra.yaml" || !strings.Contains(p.Conflicts[0].Detail, "starts tracking") {
		t.Fatalf("conflicts = %v", p.Conflicts)
	}
}

// An edit between Plan and Apply makes Apply refuse.
func TestApplyRefusesAChangedTree(t *testing.T) {
	ctx := context.Background()
	top, dir := newRepo(t)
	p, err := openRepo(t, dir).Plan(ctx, "2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(top, "README"), "edited after the plan\n")
	before := snapshot(t, top)
	if err := p.Apply(ctx); err == nil || !strings.Contains(err.Error(), "since the plan") {
		t.Fatalf("Apply = %v", err)
	}
	if !reflect.DeepEqual(snapshot(t, top), before) {
		t.Error("the refusal changed the work tree")
	}
}

// The executable bit follows the tag on a file the admin edited but did not chmod.
func TestApplyExecutableBit(t *testing.T) {
	ctx := context.Background()
	top, dir := newRepo(t)
	run(t, top, "checkout", "--quiet", "2.0.0")
	write(t, filepath.Join(dir, "start.sh"), "#!/bin/sh\necho start\n")
	run(t, top, "add", "docker/start.sh")
	run(t, top, "commit", "--quiet", "-m", "script")
	run(t, top, "tag", "2.1.0")
	write(t, filepath.Join(dir, "start.sh"), "#!/bin/sh\necho start\necho again\n")
	if err := os.Chmod(filepath.Join(dir, "start.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, top, "commit", "--quiet", "-am", "executable")
	run(t, top, "tag", "2.2.0")
	run(t, top, "checkout", "--quiet", "2.1.0")
	write(t, filepath.Join(dir, "start.sh"), "#!/bin/sh\n# mine\necho start\n")
	p, err := openRepo(t, dir).Plan(ctx, "2.2.0")
	if err != nil || len(p.Conflicts) > 0 {
		t.Fatalf("plan: %v %v", err, p.Conflicts)
	}
	if err := p.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "start.sh"))
	if err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("start.sh mode %v, want executable as the tag has it", st.Mode())
	}
	if got := read(t, filepath.Join(dir, "start.sh")); got != "#!/bin/sh\n# mine\necho start\necho again\n" {
		t.Errorf("start.sh = %q", got)
	}
}

// The admin's own commit on top of the release is carried like an
// uncommitted edit; the branch is untouched and comes back on Undo.
func TestPlanCarriesCommittedEdits(t *testing.T) {
	ctx := context.Background()
	top, dir := newRepo(t)
	write(t, filepath.Join(dir, "compose.yaml"), strings.Replace(composeV11, `"8080:8080"`, `"18080:8080"`, 1))
	write(t, filepath.Join(dir, "local.txt"), "mine\n")
	run(t, top, "add", "-A", "docker/compose.yaml", "docker/local.txt")
	run(t, top, "commit", "--quiet", "-m", "our port")
	write(t, filepath.Join(dir, "config", "app.toml"), strings.Replace(configV1, "cache = 10", "cache = 50", 1))
	before := snapshot(t, top)
	p, err := openRepo(t, dir).Plan(ctx, "2.0.0")
	if err != nil || len(p.Conflicts) > 0 {
		t.Fatalf("plan: %v %v", err, p.Conflicts)
	}
	if p.BaseCommit != run(t, top, "rev-parse", "v1.1.0^{commit}") {
		t.Errorf("base %s, want the release the admin runs", p.BaseCommit)
	}
	if err := p.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, "compose.yaml")); !strings.Contains(got, `"18080:8080"`) || !strings.Contains(got, "scheduler:") {
		t.Errorf("compose.yaml:\n%s", got)
	}
	if read(t, filepath.Join(dir, "local.txt")) != "mine\n" || !strings.Contains(read(t, filepath.Join(dir, "config", "app.toml")), "cache = 50") {
		t.Error("the admin's committed file or uncommitted edit is gone")
	}
	if err := p.Undo(ctx); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snapshot(t, top), before) {
		t.Error("Undo did not put the branch and files back")
	}
	// Moving back is refused.
	run(t, top, "checkout", "--quiet", "--force", "2.0.0")
	if _, err := openRepo(t, dir).Plan(ctx, "v1.1.0"); err == nil || !strings.Contains(err.Error(), "older than the checkout") {
		t.Errorf("Plan to an older tag = %v", err)
	}
}

// Files in the opened directory the admin never changed carry their
// contents, for the diff the admin confirms.
func TestPlanUnchangedFilesInside(t *testing.T) {
	_, dir := newRepo(t)
	p, err := openRepo(t, dir).Plan(context.Background(), "2.0.0")
	if err != nil || len(p.Conflicts) > 0 {
		t.Fatalf("plan: %v %v", err, p.Conflicts)
	}
	for _, f := range p.Files {
		if f.Path != "compose.yaml" {
			continue
		}
		if f.How != FromTag || string(f.Ours) != composeV11 || string(f.Result) != composeV2 || !strings.Contains(f.Diff, "+  scheduler:") {
			t.Errorf("compose.yaml planned as %+v", f)
		}
		if _, saved := p.Saved["compose.yaml"]; saved {
			t.Error("an unchanged file is in Saved (the checkout puts it back)")
		}
		return
	}
	t.Error("compose.yaml not in the plan")
}
