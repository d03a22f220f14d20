// Package releases owns release notes: where they come from (the GitHub
// Releases API with an on-disk cache, local files, Markdown and RST
// changelogs, Towncrier fragments, the built-in demo), how versions are
// ordered, the note front end (Markdown through goldmark, RST, MyST, MDX,
// Docusaurus and MkDocs admonitions, HTML details → blocks with their
// section path), what in a note the admin must know (breaking changes,
// manual actions, requirements, deprecations, required stops; one headline
// each) and the upgrade path through required stops. It never touches
// Docker or the database.
package releases

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/releases/version"
)

// Version is a parsed release version (see package version).
type Version = version.Version

// Parse reads a version such as "v1.2.0-rc.1", "1.2" or "2024.01.3".
func Parse(s string) (Version, error) {
	v, err := version.Parse(s)
	if err != nil {
		return Version{}, fmt.Errorf("not a version: %w", err)
	}
	return v, nil
}

// Compare orders two version strings; unparseable ones sort first, by text.
func Compare(a, b string) int {
	va, ea := version.Parse(a)
	vb, eb := version.Parse(b)
	switch {
	case ea != nil && eb != nil:
		return strings.Compare(a, b)
	case ea != nil:
		return -1
	case eb != nil:
		return 1
	}
	return va.Compare(vb)
}

// Note is the release note of one version.
type Note struct {
	Version string `json:"version"`
	Title   string `json:"title,omitempty"`
	Date    string `json:"date,omitempty"`
	Body    string `json:"body"` // Markdown, or reStructuredText when Format says so
	URL     string `json:"url,omitempty"`
	// Format is FormatMarkdown, FormatRST or empty (guessed from Body).
	Format string `json:"format,omitempty"`
}

// Source yields release notes.
type Source interface {
	Notes(ctx context.Context) ([]Note, error)
}

// Aside is a note whose version could not be parsed, and why.
type Aside struct {
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

// SortNotes orders notes oldest first and puts aside the ones whose version
// is not a version ("release-7", "main"), saying why. Duplicate versions
// keep the first note.
func SortNotes(notes []Note) (sorted []Note, aside []Aside) {
	type parsed struct {
		v Version
		n Note
	}
	var ps []parsed
	for _, n := range notes {
		v, err := version.Parse(n.Version)
		if err != nil {
			aside = append(aside, Aside{Version: n.Version, Reason: err.Error()})
			continue
		}
		ps = append(ps, parsed{v, n})
	}
	slices.SortStableFunc(ps, func(a, b parsed) int { return a.v.Compare(b.v) })
	for i, p := range ps {
		if i > 0 && ps[i-1].v.Equal(p.v) {
			aside = append(aside, Aside{Version: p.n.Version, Reason: "duplicate of " + ps[i-1].n.Version + ", kept the first"})
			continue
		}
		sorted = append(sorted, p.n)
	}
	return sorted, aside
}

// StaticSource serves a fixed list of notes (tests, already-loaded notes).
type StaticSource []Note

// Notes returns the notes.
func (s StaticSource) Notes(context.Context) ([]Note, error) { return slices.Clone(s), nil }
