package releases

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

// VersionedSource serves one Markdown note per known version, read by a
// function; the built-in demo is VersionedSource{demo.Versions,
// demo.ReleaseNotes} (wired by the caller, so that this package does not
// depend on the demo and its Docker code).
type VersionedSource struct {
	Versions []string
	Read     func(version string) ([]byte, error)
}

// Notes returns the notes of every version, in the given order.
func (s VersionedSource) Notes(ctx context.Context) ([]Note, error) {
	var out []Note
	for _, v := range s.Versions {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := s.Read(v)
		if err != nil {
			return nil, fmt.Errorf("built-in release notes of %s: %w", v, err)
		}
		title, body := splitTitle(string(data))
		out = append(out, Note{Version: v, Title: title, Body: body})
	}
	return out, nil
}

// SourceOptions tune SourceFor.
type SourceOptions struct {
	// NotesPath is --notes FILE|DIR; it overrides the profile.
	NotesPath string
	// ProjectDir resolves relative dir/changelog paths of the profile.
	ProjectDir string
	// GitHub settings; empty values keep NewGitHub's defaults.
	GitHubBaseURL string
	GitHubToken   string
	CacheDir      string
	HTTPClient    *http.Client
	Log           func(string)
	// Builtins maps release_notes.builtin names ("upshift-demo") to sources.
	Builtins map[string]Source
}

// SourceFor returns where the notes of the app come from: --notes when
// given, else the profile's release_notes.
func SourceFor(p *profile.Profile, o SourceOptions) (Source, error) {
	if o.NotesPath != "" {
		return Local(o.NotesPath)
	}
	if p == nil {
		return nil, fmt.Errorf("no profile and no --notes: pass --notes FILE|DIR")
	}
	rel := func(s string) string {
		if filepath.IsAbs(s) || o.ProjectDir == "" {
			return s
		}
		return filepath.Join(o.ProjectDir, s)
	}
	n := p.Notes
	switch {
	case n.Builtin != "":
		if src, ok := o.Builtins[n.Builtin]; ok {
			return src, nil
		}
		return nil, fmt.Errorf("profile %s: built-in release notes %q are not available here; pass --notes FILE|DIR", p.Name, n.Builtin)
	case n.Dir != "":
		return DirSource{Dir: rel(n.Dir)}, nil
	case n.Changelog != "":
		return FileSource{Path: rel(n.Changelog)}, nil
	case n.GitHub != "":
		g, err := NewGitHub(n.GitHub)
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", p.Name, err)
		}
		if o.GitHubBaseURL != "" {
			g.BaseURL = o.GitHubBaseURL
		}
		if o.GitHubToken != "" {
			g.Token = o.GitHubToken
		}
		if o.CacheDir != "" {
			g.CacheDir = o.CacheDir
		}
		g.Client, g.Log = o.HTTPClient, o.Log
		return g, nil
	}
	return nil, fmt.Errorf("profile %s names no release-notes source: pass --notes FILE|DIR (a changelog or a directory of <version>.md files)", p.Name)
}
