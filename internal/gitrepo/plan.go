package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/envfile"
)

// How a planned file gets its content after the checkout.
const (
	FromTag = "tag"    // not changed locally: the tag's version, written by the checkout
	Yours   = "yours"  // changed locally only: the admin's version, written back
	Merged  = "merged" // changed on both sides: merged three ways
)

// PlannedFile is one file the move to the tag changes or the admin changed.
// Paths are relative to the opened directory; nil contents are absent.
// FromTag files outside the opened directory (the app's source code in a
// clone) carry only their path: the checkout writes them, and a big
// release diff costs one git call.
type PlannedFile struct {
	Path   string
	How    string      // FromTag, Yours or Merged
	Mode   os.FileMode // the admin's permissions, kept (the executable bit follows the tag when the admin had not changed it)
	Base   []byte      // at HEAD
	Theirs []byte      // at the tag
	Ours   []byte      // in the work tree
	Result []byte      // after Apply
	Diff   string      // ours → result, secrets masked; "" when the admin's file does not change (FromTag files the admin never changed included)
}

// FileConflict is a file that cannot be carried across: what both sides did.
type FileConflict struct {
	Path    string
	Detail  string                    // both sides and the fix, values masked
	Compose []envfile.ComposeConflict // raw values: redact before printing
	Config  []envfile.Conflict        // raw values: redact before printing
}

func (c FileConflict) String() string { return c.Path + ": " + c.Detail }

// CheckoutPlan moves the work tree from HEAD to a tag with the admin's
// changes carried across. Nothing is changed until Apply.
type CheckoutPlan struct {
	repo       *Repo
	Tag        string
	TagCommit  string
	BaseCommit string // git merge-base of HEAD and the tag: the release the admin's changes are measured from
	PrevHead   string // the commit checked out before
	PrevBranch string // the branch checked out before ("" when detached)
	Files      []PlannedFile
	Conflicts  []FileConflict
	// Saved holds every file the admin changed (and any untracked file the
	// tag would start tracking) as it is now (nil: absent), relative to the
	// opened directory: with RestoreRef it is what Restore needs (the
	// checkout puts every other tracked file back). SavedModes holds their
	// permissions (Undo restores them too).
	Saved        map[string][]byte
	SavedModes   map[string]os.FileMode
	localChanges []string // git status at Plan: Apply refuses a work tree that changed since
}

// RestoreRef is what Restore checks out to undo Apply: the branch the work
// tree was on, else the commit.
func (p *CheckoutPlan) RestoreRef() string {
	if p.PrevBranch != "" {
		return p.PrevBranch
	}
	return p.PrevHead
}

// Plan works out the move to targetTag. The base of the three-way merges
// is the last commit HEAD and the tag share (the release the admin runs,
// git merge-base), so commits of the admin's own on top of a release count
// as the admin's changes, like uncommitted ones. For every file that
// differs between the base and the tag, or between the base and the work
// tree: base = the base's content, theirs = the tag's, ours = the work
// tree's. Unchanged by the admin → the tag's; changed by the admin only →
// the admin's; changed on both sides → compose files through
// envfile.MergeCompose, .env/.toml/.yaml through envfile.MergeConfigFile,
// others through git merge-file. It refuses (error, nothing changed) an
// unknown tag, a tag older than the checkout, a merge or rebase in
// progress and staged changes; conflicts are in the plan (Apply refuses
// them).
func (r *Repo) Plan(ctx context.Context, targetTag string) (*CheckoutPlan, error) {
	out, code, err := r.gitCode(ctx, nil, "rev-parse", "--verify", "--quiet", "refs/tags/"+targetTag+"^{commit}")
	if err != nil {
		return nil, err
	}
	if code != 0 || targetTag == "" {
		return nil, fmt.Errorf("%s has no tag %q; nothing was changed. Run git fetch --tags there, or check the version", r.top, targetTag)
	}
	p := &CheckoutPlan{repo: r, Tag: targetTag, TagCommit: strings.TrimSpace(string(out)), Saved: map[string][]byte{}, SavedModes: map[string]os.FileMode{}}
	if err := r.refuseUnsafe(ctx); err != nil {
		return nil, err
	}
	if p.PrevHead, err = r.Head(ctx); err != nil {
		return nil, err
	}
	p.PrevBranch = r.branch(ctx)
	mb, code, err := r.gitCode(ctx, nil, "merge-base", p.PrevHead, p.TagCommit)
	if err != nil || code != 0 {
		return nil, fmt.Errorf("%s: the checkout and tag %s share no history; nothing was changed. Is this a clone of the app's repository?", r.top, targetTag)
	}
	p.BaseCommit = strings.TrimSpace(string(mb))
	if p.BaseCommit == p.TagCommit && p.PrevHead != p.TagCommit {
		return nil, fmt.Errorf("%s: tag %s is older than the checkout (%s); nothing was changed. Moving back is a rollback (Restore), not an upgrade", r.top, targetTag, p.PrevHead)
	}
	diff, err := r.git(ctx, "diff", "--no-renames", "--name-status", "-z", p.BaseCommit, p.TagCommit, "--")
	if err != nil {
		return nil, err
	}
	added := map[string]bool{} // new in the tag
	paths := map[string]bool{}
	fields := strings.Split(string(diff), "\x00")
	for i := 0; i+1 < len(fields); i += 2 {
		paths[fields[i+1]] = true
		added[fields[i+1]] = fields[i] == "A"
	}
	committed, err := r.git(ctx, "diff", "--no-renames", "--name-only", "-z", p.BaseCommit, p.PrevHead, "--")
	if err != nil {
		return nil, err
	}
	local := map[string]bool{}
	for _, t := range strings.Split(string(committed), "\x00") {
		if t != "" {
			local[t], paths[t] = true, true
		}
	}
	tracked, _, err := r.status(ctx) // untracked files the tag does not track are never touched; planFile checks the ones it does
	if err != nil {
		return nil, err
	}
	for _, t := range tracked {
		local[t] = true
		paths[t] = true
	}
	p.localChanges = tracked
	sorted := make([]string, 0, len(paths))
	for t := range paths {
		sorted = append(sorted, t)
	}
	sort.Strings(sorted)
	for _, t := range sorted {
		if err := p.planFile(ctx, t, local[t], added[t]); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// planFile plans one path (relative to the top). A file the admin did not
// change outside the opened directory is the checkout's business: only its
// path is kept.
func (p *CheckoutPlan) planFile(ctx context.Context, top string, changedLocally, addedByTag bool) error {
	r := p.repo
	rel := r.dirPath(top)
	conflict := func(detail string) {
		p.Conflicts = append(p.Conflicts, FileConflict{Path: rel, Detail: detail})
	}
	inside := rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	if !changedLocally && !addedByTag && !inside {
		p.Files = append(p.Files, PlannedFile{Path: rel, How: FromTag})
		return nil
	}
	ours, mode, err := readOptional(filepath.Join(r.top, filepath.FromSlash(top)))
	if err != nil {
		return err
	}
	if !changedLocally && ours == nil && !inside {
		p.Files = append(p.Files, PlannedFile{Path: rel, How: FromTag})
		return nil
	}
	base, err := r.show(ctx, p.BaseCommit, top)
	if err != nil {
		return err
	}
	theirs, err := r.show(ctx, p.TagCommit, top)
	if err != nil {
		return err
	}
	if changedLocally || addedByTag && ours != nil { // the rest the checkout of RestoreRef puts back
		p.Saved[rel] = ours
		if ours != nil {
			p.SavedModes[rel] = mode
		}
	}
	f := PlannedFile{Path: rel, Base: base, Theirs: theirs, Ours: ours, Mode: mode}
	switch {
	case base == nil && !changedLocally && ours != nil && !bytes.Equal(ours, theirs):
		// Untracked (or ignored) here, tracked by the tag: the checkout would overwrite it.
		conflict(fmt.Sprintf("the tag %s starts tracking this file, and yours (not tracked now) differs; move yours aside (or make it equal to the tag's), then upgrade again", p.Tag))
		return nil
	case !changedLocally:
		f.How, f.Result = FromTag, theirs
	case bytes.Equal(base, theirs) || equalOrBothAbsent(ours, theirs):
		f.How, f.Result = Yours, ours
	case ours == nil:
		conflict(fmt.Sprintf("you deleted it and the tag %s changes it; restore it (git checkout -- %s) or delete it again after the upgrade", p.Tag, rel))
		return nil
	case theirs == nil:
		conflict(fmt.Sprintf("you changed it and the tag %s deletes it; move your version aside (git stash, or copy it and git checkout -- %s), then upgrade again", p.Tag, rel))
		return nil
	default:
		f.How = Merged
		if !p.merge(ctx, &f, base, theirs, ours) {
			return nil
		}
	}
	f.Diff = diffText(rel, ours, f.Result)
	p.Files = append(p.Files, f)
	return nil
}

// merge fills f.Result, or files a conflict and returns false.
func (p *CheckoutPlan) merge(ctx context.Context, f *PlannedFile, base, theirs, ours []byte) bool {
	name := filepath.Base(f.Path)
	if envfile.IsComposeFile(name) {
		res, err := envfile.MergeCompose(base, theirs, ours)
		if err != nil {
			fc := FileConflict{Path: f.Path, Compose: res.Conflicts}
			var lines []string
			for _, c := range res.Conflicts {
				c.File = f.Path
				lines = append(lines, c.Masked().String())
			}
			if len(lines) == 0 {
				lines = []string{err.Error()}
			}
			fc.Detail = strings.Join(lines, "\n")
			p.Conflicts = append(p.Conflicts, fc)
			return false
		}
		f.Result = res.Merged
		return true
	}
	if envfile.IsConfigFile(name) {
		res, err := envfile.MergeConfigFile(name, base, theirs, ours, nil)
		if err != nil {
			p.Conflicts = append(p.Conflicts, FileConflict{Path: f.Path, Detail: err.Error()})
			return false
		}
		if len(res.Conflicts) > 0 {
			fc := FileConflict{Path: f.Path, Config: res.Conflicts}
			var lines []string
			for _, c := range res.Conflicts {
				m := c.Masked()
				lines = append(lines, fmt.Sprintf("%s: changed on both sides: yours %q, the tag's %q. Fix: edit %s so that %s is %q (the tag's value) or put your value back after the upgrade", m.Key, m.Ours, m.Theirs, f.Path, m.Key, m.Theirs))
			}
			fc.Detail = strings.Join(lines, "\n")
			p.Conflicts = append(p.Conflicts, fc)
			return false
		}
		f.Result = res.Merged
		return true
	}
	out, n, err := p.repo.mergeFile(ctx, base, theirs, ours)
	if err != nil || n > 0 {
		detail := fmt.Sprintf("your changes and the tag %s's change the same lines (git merge-file: %d conflicts); make your edit again after the upgrade (git stash; upgrade; git stash pop), or undo it (git checkout -- %s)", p.Tag, n, f.Path)
		if err != nil {
			detail = fmt.Sprintf("cannot merge it (%v); undo your change (git checkout -- %s) or stash it, then upgrade again", err, f.Path)
		}
		p.Conflicts = append(p.Conflicts, FileConflict{Path: f.Path, Detail: detail})
		return false
	}
	f.Result = out
	return true
}

// mergeFile runs git merge-file on copies: merged text and conflict count.
func (r *Repo) mergeFile(ctx context.Context, base, theirs, ours []byte) ([]byte, int, error) {
	tmp, err := os.MkdirTemp("", "upshift-merge-*")
	if err != nil {
		return nil, 0, fmt.Errorf("merge: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	names := []string{filepath.Join(tmp, "ours"), filepath.Join(tmp, "base"), filepath.Join(tmp, "theirs")}
	for i, data := range [][]byte{ours, base, theirs} {
		if err := os.WriteFile(names[i], data, 0o600); err != nil {
			return nil, 0, fmt.Errorf("merge: %w", err)
		}
	}
	out, code, err := r.gitCode(ctx, nil, append([]string{"merge-file", "-p", "-L", "yours", "-L", "running release", "-L", "target release"}, names...)...)
	if err != nil {
		return nil, 0, err
	}
	return out, code, nil
}

// Apply checks the tag out (detached, forced: the plan holds every changed
// file) and writes the admin's and the merged files atomically, keeping
// modes. It refuses a plan with conflicts, or a work tree that changed
// since Plan, with nothing changed. If a write fails it restores the
// previous checkout and files.
func (p *CheckoutPlan) Apply(ctx context.Context) error {
	r := p.repo
	if len(p.Conflicts) > 0 {
		var lines []string
		for _, c := range p.Conflicts {
			lines = append(lines, c.String())
		}
		return fmt.Errorf("%d files cannot be carried across to %s; nothing was changed:\n%s", len(p.Conflicts), p.Tag, strings.Join(lines, "\n"))
	}
	head, err := r.Head(ctx)
	if err != nil {
		return err
	}
	if head != p.PrevHead {
		return fmt.Errorf("%s moved to %s since the plan; nothing was changed. Plan again", r.top, head)
	}
	if err := r.refuseUnsafe(ctx); err != nil {
		return err
	}
	tracked, _, err := r.status(ctx)
	if err != nil {
		return err
	}
	if !slices.Equal(tracked, p.localChanges) {
		return fmt.Errorf("%s: files changed since the plan (%s); nothing was changed. Plan again", r.top, strings.Join(tracked, ", "))
	}
	for rel, want := range p.Saved {
		got, _, err := readOptional(filepath.Join(r.dir, rel))
		if err != nil {
			return err
		}
		if !equalOrBothAbsent(got, want) {
			return fmt.Errorf("%s changed since the plan; nothing was changed. Plan again", rel)
		}
	}
	if _, err := r.git(ctx, "checkout", "--quiet", "--force", "--detach", p.TagCommit); err != nil {
		return fmt.Errorf("check out %s: %w", p.Tag, err)
	}
	for _, f := range p.Files {
		if f.How == FromTag {
			continue
		}
		if err := writeFile(filepath.Join(r.dir, f.Path), f.Result, p.modeAfter(ctx, f)); err != nil {
			if rerr := r.Restore(ctx, p.RestoreRef(), p.Saved); rerr != nil {
				return fmt.Errorf("%w; putting the previous checkout back failed too: %w", err, rerr)
			}
			return fmt.Errorf("%w; the previous checkout and files are back", err)
		}
	}
	return nil
}

// Restore undoes Apply: checks prevHead out (a branch or a commit, as
// CheckoutPlan.RestoreRef says) and writes every saved file back byte for
// byte (nil: removed).
func (r *Repo) Restore(ctx context.Context, prevHead string, files map[string][]byte) error {
	if _, err := r.git(ctx, "checkout", "--quiet", "--force", prevHead); err != nil {
		return fmt.Errorf("check out %s again: %w", prevHead, err)
	}
	var errs []error
	for rel, data := range files {
		path := filepath.Join(r.dir, rel)
		if err := writeFile(path, data, 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Undo is Restore with this plan's saved files and their permissions.
func (p *CheckoutPlan) Undo(ctx context.Context) error {
	if err := p.repo.Restore(ctx, p.RestoreRef(), p.Saved); err != nil {
		return err
	}
	var errs []error
	for rel, mode := range p.SavedModes {
		if err := os.Chmod(filepath.Join(p.repo.dir, rel), mode); err != nil {
			errs = append(errs, fmt.Errorf("restore the mode of %s: %w", rel, err))
		}
	}
	return errors.Join(errs...)
}

// modeAfter is the admin's permissions, with the executable bit the tag
// sets when the admin left it as the base had it.
func (p *CheckoutPlan) modeAfter(ctx context.Context, f PlannedFile) os.FileMode {
	if f.Ours == nil {
		return 0
	}
	mode := f.Mode
	headExec, tagExec := p.repo.executable(ctx, p.BaseCommit, f.Path), p.repo.executable(ctx, p.TagCommit, f.Path)
	if headExec != tagExec && (mode&0o100 != 0) == headExec {
		if tagExec {
			mode |= (mode & 0o444) >> 2
		} else {
			mode &^= 0o111
		}
	}
	return mode
}

// executable says whether git records path (relative to the opened
// directory) as executable at rev.
func (r *Repo) executable(ctx context.Context, rev, path string) bool {
	top, err := r.topPath(path)
	if err != nil {
		return false
	}
	out, err := r.git(ctx, "ls-tree", rev, "--", top)
	return err == nil && strings.HasPrefix(string(out), "100755 ")
}

// writeFile replaces path atomically; mode 0 keeps the current file's
// (0644 for a new file); data nil removes it.
func writeFile(path string, data []byte, mode os.FileMode) error {
	if data == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	if mode == 0 {
		mode = 0o644
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return envfile.WriteAtomic(path, data, mode)
}

func readOptional(path string) ([]byte, os.FileMode, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, st.Mode().Perm(), nil
}

func equalOrBothAbsent(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

func diffText(name string, before, after []byte) string {
	if bytes.Equal(before, after) {
		return ""
	}
	return envfile.FileDiff(before, after, name)
}
