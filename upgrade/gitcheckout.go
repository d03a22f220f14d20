package upgrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/internal/gitrepo"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

// The project directory as a git clone of the app's repository (Dify's
// docs: git clone, cd dify/docker): a hop checks the target's tag out and
// carries the admin's local edits across it, three ways per file. Used when
// the profile says apply.method git-checkout, or on its own when the clone
// has a tag for the running version.
type gitLayer struct {
	env      *Env
	repo     *gitrepo.Repo
	required bool  // method git-checkout
	openErr  error // why a required clone could not be opened
	plans    map[string]*gitrepo.CheckoutPlan
	pending  *gitrepo.CheckoutPlan
}

// UseGit sets env up for a project directory that is a git clone of the
// app with a tag per release.
func UseGit(env *Env) {
	required := env.Profile != nil && env.Profile.Apply.Method == profile.ApplyGitCheckout
	ctx := context.Background()
	repo, err := gitrepo.Open(ctx, env.Dir())
	if err != nil {
		if required {
			if errors.Is(err, gitrepo.ErrNotRepo) {
				err = fmt.Errorf("the profile applies versions by git checkout, but %s is not inside a git clone. Nothing was changed. Fix: clone the app's repository there, or use a profile whose apply method fits your files", env.Dir())
			}
			env.git = &gitLayer{env: env, required: true, openErr: err}
		}
		return
	}
	if !required {
		// A clone of something else (the admin's own config repository)
		// has no tag of the running version: leave it alone.
		if env.Start == nil || env.Start.Report.Version == "" {
			return
		}
		if _, err := repo.TagFor(ctx, env.tagFor(env.Start.Report.Version)); err != nil {
			return
		}
	}
	env.git = &gitLayer{env: env, repo: repo, required: required, plans: map[string]*gitrepo.CheckoutPlan{}}
}

func (g *gitLayer) top() string {
	if g.repo == nil {
		return g.env.Dir()
	}
	return g.repo.Dir()
}

// plan works out the checkout of to's tag with the admin's edits carried
// across. Files under the project directory are returned for the diff and
// written by the config step; the rest of the clone follows the tag.
func (g *gitLayer) plan(ctx context.Context, from, to string) (map[string]fileChange, error) {
	if g.openErr != nil {
		return nil, g.openErr
	}
	tag, err := g.repo.TagFor(ctx, g.env.tagFor(to))
	if err != nil {
		return nil, fmt.Errorf("%w. Nothing was changed", err)
	}
	p, err := g.repo.Plan(ctx, tag)
	if err != nil {
		return nil, err
	}
	if len(p.Conflicts) > 0 {
		red := g.env.Redactor()
		lines := make([]string, 0, len(p.Conflicts))
		for _, c := range p.Conflicts {
			lines = append(lines, red(c.String()))
		}
		return nil, &TemplateConflictError{File: filepath.Join(g.repo.Dir(), p.Conflicts[0].Path), Conflicts: lines, git: tag}
	}
	g.pending = p
	out := map[string]fileChange{}
	env := g.env.EnvPath()
	for _, f := range p.Files {
		abs := filepath.Join(g.repo.Dir(), f.Path)
		if abs == env || strings.HasPrefix(f.Path, "..") {
			continue // .env: merged by the config step; outside the project: follows the tag
		}
		if f.Result == nil {
			continue // removed by the tag: the checkout removes it
		}
		if string(f.Ours) == string(f.Result) {
			continue
		}
		out[abs] = fileChange{old: f.Ours, new: f.Result, why: whyGit}
	}
	return out, nil
}

// apply checks the planned tag out (the config step then writes the merged
// files) and keeps what undoes it with the restore point of the hop.
func (g *gitLayer) apply(ctx context.Context, log func(string)) error {
	p := g.pending
	if p == nil {
		return errors.New("the git checkout was not planned")
	}
	if err := g.saveUndo(p); err != nil {
		return err
	}
	if err := p.Apply(ctx); err != nil {
		return err
	}
	log("✓ checked out " + p.Tag + " in " + g.repo.Dir() + " (was " + shortRef(p.RestoreRef()) + "); your local changes are carried across")
	return nil
}

// gitUndo is what puts a clone back as it was before a hop: the ref and
// every file the hop changed, byte for byte.
type gitUndo struct {
	Dir   string            `json:"dir"`
	Ref   string            `json:"ref"`
	Files map[string][]byte `json:"files"`
}

func (g *gitLayer) undoPath(setID string) string {
	return filepath.Join(g.env.BackupDir, setID, "git-checkout.json")
}

// saveUndo writes the undo record into the hop's restore point (0600: the
// files may hold secrets).
func (g *gitLayer) saveUndo(p *gitrepo.CheckoutPlan) error {
	set := g.env.RestorePoint()
	if set == nil {
		return errors.New("no restore point for the git checkout. Nothing was changed")
	}
	b, err := json.Marshal(gitUndo{Dir: g.repo.Dir(), Ref: p.RestoreRef(), Files: p.Saved})
	if err != nil {
		return fmt.Errorf("the git undo record: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(g.undoPath(set.ID)), 0o700); err != nil {
		return fmt.Errorf("the git undo record: %w", err)
	}
	return envfile.WriteAtomic(g.undoPath(set.ID), b, 0o600)
}

// undo puts the clone back as it was before the hop of restore point setID
// (nothing to do when that hop never checked anything out).
func (g *gitLayer) undo(ctx context.Context, setID string, log func(string)) error {
	if g.repo == nil {
		return nil
	}
	b, err := os.ReadFile(g.undoPath(setID))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("the git undo record of %s: %w", setID, err)
	}
	var u gitUndo
	if err := json.Unmarshal(b, &u); err != nil {
		return fmt.Errorf("the git undo record of %s: %w", setID, err)
	}
	if err := g.repo.Restore(ctx, u.Ref, u.Files); err != nil {
		return err
	}
	log("✓ checked " + shortRef(u.Ref) + " out again in " + u.Dir + " with your files as they were")
	return nil
}

// files are those the checkout may change under the project directory
// that the admin changed (the backup holds them).
func (g *gitLayer) files() []string {
	if g.repo == nil {
		return nil
	}
	changed, err := g.repo.TrackedChanges(context.Background())
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(changed))
	for _, c := range changed {
		if !strings.HasPrefix(c, "..") {
			out = append(out, filepath.Join(g.repo.Dir(), c))
		}
	}
	return out
}

func shortRef(ref string) string {
	if len(ref) == 40 {
		return ref[:12]
	}
	return ref
}
