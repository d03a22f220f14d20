// Package gitrepo owns a compose directory that is a git clone of the
// app's repository (Dify's docs: git clone, then cd dify/docker): which
// commit and tag it is at, the admin's local changes, and moving the work
// tree to a release tag with those changes carried across (Plan, Apply)
// and back (Restore). It runs the git CLI (no pager, no prompts, LC_ALL=C,
// every call under a context with a timeout) and touches nothing outside
// the work tree. Untracked and ignored files (a .env usually is) are never
// touched by the checkout; only a file the target tag starts to track at
// the same path is checked, and refused if it differs.
package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrNotRepo says the directory is not inside a git work tree.
var ErrNotRepo = errors.New("not inside a git work tree")

// Repo is a git work tree seen from the directory that was opened (the
// compose directory); every path in this package's API is relative to it.
type Repo struct {
	dir       string // as opened, absolute
	top       string // the work tree's top
	FetchTags bool   // TagFor runs git fetch --tags when the tag is not known locally
	Timeout   time.Duration
}

const defaultTimeout = 2 * time.Minute

// Open finds the work tree dir belongs to; nil, ErrNotRepo when there is none.
func Open(ctx context.Context, dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("%s: git is not installed (%w); install git or upgrade with another apply method", dir, err)
	}
	r := &Repo{dir: abs, top: abs}
	out, err := r.git(ctx, "rev-parse", "--show-toplevel")
	if err != nil {
		if strings.Contains(err.Error(), "not a git repository") {
			return nil, ErrNotRepo
		}
		return nil, err
	}
	top := strings.TrimSpace(string(out))
	if top == "" {
		return nil, ErrNotRepo // inside .git itself
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		r.dir = real
	}
	if real, err := filepath.EvalSymlinks(top); err == nil {
		top = real
	}
	r.top = top
	return r, nil
}

// Dir is the directory the repository was opened at.
func (r *Repo) Dir() string { return r.dir }

// git runs git in the work tree's top and returns stdout; the error holds
// git's stderr.
func (r *Repo) git(ctx context.Context, args ...string) ([]byte, error) {
	out, code, err := r.gitCode(ctx, nil, args...)
	if err == nil && code != 0 {
		err = fmt.Errorf("git %s exited %d", strings.Join(args, " "), code)
	}
	return out, err
}

// gitCode is git with the exit code apart: code > 0 with a nil error is git
// answering "no" (diff --quiet, merge-file's conflict count).
func (r *Repo) gitCode(ctx context.Context, stdin []byte, args ...string) ([]byte, int, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	full := append([]string{"--no-pager", "-C", r.top, "-c", "core.quotepath=off"}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "GIT_PAGER=cat", "PAGER=cat", "GIT_OPTIONAL_LOCKS=0")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, -1, fmt.Errorf("git %s in %s: %w", strings.Join(args, " "), r.top, ctx.Err())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code := exit.ExitCode()
		if answers(args) && code < 128 {
			return stdout.Bytes(), code, nil
		}
		return stdout.Bytes(), code, fmt.Errorf("git %s in %s exited %d: %s", strings.Join(args, " "), r.top, code, strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		return nil, -1, fmt.Errorf("git %s in %s: %w", strings.Join(args, " "), r.top, err)
	}
	return stdout.Bytes(), 0, nil
}

// answers lists the commands whose exit code below 128 is an answer (diff
// --quiet, rev-parse --verify --quiet, merge-file's conflict count).
func answers(args []string) bool {
	return len(args) > 0 && (args[0] == "merge-file" || args[0] == "diff" || args[0] == "rev-parse" || args[0] == "symbolic-ref")
}

// topPath turns a path relative to the opened directory into one relative
// to the work tree's top (git's own paths).
func (r *Repo) topPath(rel string) (string, error) {
	p := filepath.Clean(filepath.Join(r.dir, rel))
	t, err := filepath.Rel(r.top, p)
	if err != nil || t == ".." || strings.HasPrefix(t, "../") {
		return "", fmt.Errorf("%s is outside the work tree %s", rel, r.top)
	}
	return filepath.ToSlash(t), nil
}

// dirPath turns a git path (relative to the top) into one relative to the
// opened directory.
func (r *Repo) dirPath(top string) string {
	p, err := filepath.Rel(r.dir, filepath.Join(r.top, filepath.FromSlash(top)))
	if err != nil {
		return top
	}
	return p
}

// Head is the commit checked out.
func (r *Repo) Head(ctx context.Context) (string, error) {
	out, err := r.git(ctx, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", fmt.Errorf("%s has no commit checked out: %w", r.dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// branch is the branch checked out, "" when HEAD is detached.
func (r *Repo) branch(ctx context.Context) string {
	out, code, err := r.gitCode(ctx, nil, "symbolic-ref", "--quiet", "--short", "HEAD")
	if err != nil || code != 0 {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// TagFor finds the tag of a release version: v1.2.3 or 1.2.3. It works on
// the local tags; with FetchTags it runs git fetch --tags first when none
// matches.
func (r *Repo) TagFor(ctx context.Context, version string) (string, error) {
	v := strings.TrimPrefix(version, "v")
	if v == "" {
		return "", fmt.Errorf("no version given")
	}
	find := func() string {
		for _, name := range []string{"v" + v, v} {
			if _, code, err := r.gitCode(ctx, nil, "rev-parse", "--verify", "--quiet", "refs/tags/"+name+"^{commit}"); err == nil && code == 0 {
				return name
			}
		}
		return ""
	}
	if t := find(); t != "" {
		return t, nil
	}
	if r.FetchTags {
		if _, err := r.git(ctx, "fetch", "--tags", "--quiet"); err != nil {
			return "", fmt.Errorf("no tag v%s or %s in %s, and fetching tags failed: %w", v, v, r.top, err)
		}
		if t := find(); t != "" {
			return t, nil
		}
	}
	return "", fmt.Errorf("no tag v%s or %s in %s: run git fetch --tags there (or check the version), then try again", v, v, r.top)
}

// Show is the content of path (relative to the opened directory) at rev;
// nil, nil when rev does not have it.
func (r *Repo) Show(ctx context.Context, rev, path string) ([]byte, error) {
	p, err := r.topPath(path)
	if err != nil {
		return nil, err
	}
	return r.show(ctx, rev, p)
}

func (r *Repo) show(ctx context.Context, rev, top string) ([]byte, error) {
	_, code, err := r.gitCode(ctx, nil, "rev-parse", "--verify", "--quiet", rev+":"+top)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, nil // absent at rev
	}
	out, err := r.git(ctx, "cat-file", "blob", rev+":"+top)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LocalChanges lists modified (or deleted) tracked files and untracked,
// not ignored ones, relative to the opened directory.
func (r *Repo) LocalChanges(ctx context.Context) ([]string, error) {
	tracked, untracked, err := r.status(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range append(tracked, untracked...) {
		out = append(out, r.dirPath(p))
	}
	sort.Strings(out)
	return out, nil
}

// TrackedChanges lists modified (or deleted) tracked files, relative to
// the opened directory: what a checkout would overwrite.
func (r *Repo) TrackedChanges(ctx context.Context) ([]string, error) {
	tracked, _, err := r.status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(tracked))
	for _, p := range tracked {
		out = append(out, r.dirPath(p))
	}
	sort.Strings(out)
	return out, nil
}

// status is git status split into tracked changes and untracked files,
// paths relative to the top.
func (r *Repo) status(ctx context.Context) (tracked, untracked []string, err error) {
	out, err := r.git(ctx, "status", "--porcelain=v1", "-z", "--untracked-files=all")
	if err != nil {
		return nil, nil, err
	}
	fields := strings.Split(string(out), "\x00")
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if len(f) < 4 {
			continue
		}
		xy, p := f[:2], f[3:]
		if xy == "??" {
			untracked = append(untracked, p)
			continue
		}
		tracked = append(tracked, p)
		if xy[0] == 'R' || xy[0] == 'C' {
			i++ // the source path follows
			if i < len(fields) && fields[i] != "" {
				tracked = append(tracked, fields[i])
			}
		}
	}
	return tracked, untracked, nil
}

// refuseUnsafe returns why a checkout must not happen now, with what to do.
func (r *Repo) refuseUnsafe(ctx context.Context) error {
	for _, name := range []string{"MERGE_HEAD", "rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD", "REVERT_HEAD"} {
		out, err := r.git(ctx, "rev-parse", "--git-path", name)
		if err != nil {
			return err
		}
		p := strings.TrimSpace(string(out))
		if !filepath.IsAbs(p) {
			p = filepath.Join(r.top, p)
		}
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s: a git %s is in progress; nothing was changed. Finish it or abort it (git merge --abort, git rebase --abort, git cherry-pick --abort), then upgrade again", r.top, strings.ToLower(strings.TrimSuffix(strings.SplitN(name, "_", 2)[0], "-merge")))
		}
	}
	_, code, err := r.gitCode(ctx, nil, "diff", "--cached", "--quiet")
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("%s: the git index has staged changes; nothing was changed. Commit them (git commit) or unstage them (git restore --staged .), then upgrade again", r.top)
	}
	return nil
}
