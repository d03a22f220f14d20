package upgrade

import (
	"context"
)

// gitLayer: placeholder until internal/gitrepo lands (same session).
type gitLayer struct{}

func (g *gitLayer) plan(ctx context.Context, from, to string) (map[string]fileChange, error) {
	return nil, nil
}
func (g *gitLayer) apply(ctx context.Context, log func(string)) error { return nil }
func (g *gitLayer) top() string                                       { return "" }
func (g *gitLayer) files() []string                                   { return nil }

// UseGit sets env up for a project directory that is a git clone.
func UseGit(env *Env) {}
