package releases

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/releases/version"
)

func noteExt(ext string) bool {
	switch ext {
	case ".md", ".markdown", ".mdx", ".rst":
		return true
	}
	return false
}

func formatOfExt(ext string) string {
	if ext == ".rst" {
		return FormatRST
	}
	return ""
}

// newsfragmentRe names a Towncrier fragment: "123.removal",
// "456.breaking.md", "+abc.misc.rst", "789.feature.1".
var newsfragmentRe = regexp.MustCompile(`^[+\w-]+\.(removal|breaking|deprecation|deprecated|feature|bugfix|bugfixes|fix|doc|docs|misc|change|changed|added|removed|security|trivial|internal|dev|improvement|upgrade|migration)(?:\.\d+)?(?:\.md|\.rst|\.txt)?$`)

// newsfragmentTitles are the section titles Towncrier renders.
var newsfragmentTitles = map[string]string{
	"removal": "Deprecations and Removals", "deprecation": "Deprecations", "deprecated": "Deprecations",
	"breaking": "Breaking Changes", "feature": "Features", "bugfix": "Bugfixes", "bugfixes": "Bugfixes", "fix": "Bugfixes",
	"doc": "Improved Documentation", "docs": "Improved Documentation", "misc": "Misc", "change": "Changes", "changed": "Changes",
	"added": "Added", "removed": "Removed", "security": "Security", "trivial": "Misc", "internal": "Misc", "dev": "Misc",
	"improvement": "Improvements", "upgrade": "Upgrade notes", "migration": "Upgrade notes",
}

// ReadNotes reads notes for `upshift notes PATH`: a changelog, a single
// note (ver names its version when it has no version heading; a file named
// "1.2.0.md" names its own), a directory of <version>.md files or of
// Towncrier newsfragments (one note, version ver). With ver set and a
// changelog of many versions, only that version is kept.
func ReadNotes(path, ver string) ([]Note, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("release notes %s: %w", path, err)
	}
	var notes []Note
	if st.IsDir() {
		notes, err = readNotesDir(path, ver)
	} else {
		notes, err = readNotesFile(path, ver)
	}
	if err != nil {
		return nil, err
	}
	if ver != "" && len(notes) > 1 {
		want, perr := version.Parse(ver)
		kept := slices.DeleteFunc(slices.Clone(notes), func(n Note) bool {
			v, err := version.Parse(n.Version)
			return perr != nil || err != nil || !v.Equal(want)
		})
		if len(kept) == 0 && !st.IsDir() {
			// Version-like headings that are not this release's ("## 1.x
			// users"): the file is the note of the version asked for.
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read release notes: %w", err)
			}
			return []Note{singleNote(data, ver, strings.ToLower(filepath.Ext(path)))}, nil
		}
		if len(kept) == 0 {
			var have []string
			for _, n := range notes {
				have = append(have, n.Version)
			}
			return nil, fmt.Errorf("release notes %s have no version %s (they have %s)", path, ver, strings.Join(have, ", "))
		}
		notes = kept
	}
	return notes, nil
}

func readNotesFile(path, ver string) ([]Note, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read release notes: %w", err)
	}
	ext := strings.ToLower(filepath.Ext(path))
	base := filepath.Base(path)
	if m := newsfragmentRe.FindStringSubmatch(base); m != nil && !noteExt(ext) || m != nil && strings.Count(base, ".") >= 2 {
		return []Note{fragmentsNote([]fragment{{m[1], string(data)}}, ver)}, nil
	}
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	if _, err := version.Parse(stem); err == nil && ver == "" {
		ver = stem
	}
	fm, rest := splitFrontMatter(strings.ReplaceAll(string(data), "\r\n", "\n"))
	if fm != nil {
		data = []byte(rest)
		if t := fm["title"]; ver == "" && t != "" {
			if v, _, _, ok := headingVersion(t); ok {
				ver = v
			}
		}
	}
	if notes, err := ParseChangelog(data); err == nil {
		if len(notes) == 1 && ver != "" && !strings.EqualFold(strings.TrimPrefix(notes[0].Version, "v"), strings.TrimPrefix(ver, "v")) {
			// One stray version-like heading in a note of another version.
			return []Note{singleNote(data, ver, ext)}, nil
		}
		return notes, nil
	}
	return []Note{singleNote(data, ver, ext)}, nil
}

func singleNote(data []byte, ver, ext string) Note {
	title, body := splitTitle(string(data))
	return Note{Version: ver, Title: title, Body: body, Format: formatOfExt(ext)}
}

type fragment struct{ kind, text string }

// fragmentsNote renders Towncrier fragments as one Markdown note.
func fragmentsNote(fs []fragment, ver string) Note {
	var sb strings.Builder
	var order []string
	by := map[string][]string{}
	for _, f := range fs {
		t := newsfragmentTitles[f.kind]
		if _, ok := by[t]; !ok {
			order = append(order, t)
		}
		by[t] = append(by[t], strings.TrimSpace(f.text))
	}
	for _, t := range order {
		sb.WriteString("## " + t + "\n\n")
		for _, x := range by[t] {
			lines := strings.Split(x, "\n")
			sb.WriteString("- " + lines[0] + "\n")
			for _, l := range lines[1:] {
				sb.WriteString("  " + l + "\n")
			}
		}
		sb.WriteString("\n")
	}
	return Note{Version: ver, Body: sb.String()}
}

func readNotesDir(dir, ver string) ([]Note, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read release notes: %w", err)
	}
	var frags []fragment
	for _, e := range entries {
		if m := newsfragmentRe.FindStringSubmatch(e.Name()); m != nil && !e.IsDir() {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("read release notes: %w", err)
			}
			frags = append(frags, fragment{m[1], string(data)})
		}
	}
	if len(frags) > 0 {
		return []Note{fragmentsNote(frags, ver)}, nil
	}
	notes, err := DirSource{Dir: dir}.Notes(context.Background())
	if err != nil && ver != "" {
		// Notes without version headings ("upgrade.md", "migration.mdx"):
		// with --version they are that version's notes.
		var plain []Note
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.IsDir() || !noteExt(ext) && ext != ".txt" {
				continue
			}
			data, rerr := os.ReadFile(filepath.Join(dir, e.Name()))
			if rerr != nil {
				return nil, fmt.Errorf("read release notes: %w", rerr)
			}
			plain = append(plain, singleNote(data, ver, ext))
		}
		if len(plain) > 0 {
			return plain, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if len(notes) == 0 {
		return nil, errors.New("no release notes in " + dir)
	}
	return notes, nil
}
