package releases

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/releases/version"
)

var (
	atxHeadingRe = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	// A version heading: "[1.2.0] - 2024-01-01", "v1.2.0", "1.2.0",
	// "Release 1.2.0", "[1.2.1] - 学习更新 - 2026-8-19".
	versionHeadRe      = regexp.MustCompile(`^(?i:(?:release|version)[ \t]+)?(\[)?(v?\d+(?:\.\d+)*(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)(\])?(.*)$`)
	namedVersionHeadRe = regexp.MustCompile(`^((?:\d{4}-[\dX]{1,2}-[\dX]{1,2}[ \t]+)?)([A-Za-z][\w.-]*(?: [A-Za-z][\w.-]*){0,2})[ \t]+(v?\d+\.\d+(?:\.\d+)*(?:-?[0-9A-Za-z.-]+)?)((?:[ \t]*(?:\(.*\)|[-–—:][ \t].*))?)[ \t]*$`)
	notNameRe          = regexp.MustCompile(`(?i)\b(?:to|from|for|and|with|since|before|after|in|on|at|of|upgrade|upgrading|update|requires?|support|drop|dropped|remove|removed|than|is|are|was)\b`)
	dateRe             = regexp.MustCompile(`\d{4}-\d{1,2}-\d{1,2}`)
	linkRefRe          = regexp.MustCompile(`^ {0,3}\[([^\]]+)\]:[ \t]*(\S+)`)
	fenceRe            = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})")
)

// headingVersion reads a version heading; ok is false for other headings.
func headingVersion(text string) (ver, title, date string, ok bool) {
	text = strings.TrimSpace(text)
	if !strings.ContainsAny(text, "0123456789") {
		return "", "", "", false
	}
	if m := versionHeadRe.FindStringSubmatch(text); m != nil {
		if ver, title, date, ok = versionParts(m[1] != "", m[2], m[3] != "", m[4]); ok {
			return ver, title, date, ok
		}
	}
	// "Synapse 1.2.0 (2024-01-01)", "2024-09-06 FreshRSS 1.24.3": a name,
	// then the version and nothing but a date or a title after a dash.
	n := namedVersionHeadRe.FindStringSubmatch(text)
	if n == nil || notNameRe.MatchString(n[2]) {
		return "", "", "", false
	}
	return versionParts(false, n[3], false, " "+n[1]+n[4])
}

func versionParts(open bool, ver string, closeB bool, rest string) (string, string, string, bool) {
	if open != closeB {
		return "", "", "", false
	}
	if _, err := version.Parse(ver); err != nil {
		return "", "", "", false
	}
	if !open {
		// Unbracketed: "2 new features" is not a version heading.
		if !strings.Contains(ver, ".") {
			return "", "", "", false
		}
		if rest != "" && !strings.ContainsAny(rest[:1], " \t-–—(:") {
			return "", "", "", false
		}
	}
	date := ""
	if d := dateRe.FindString(rest); d != "" {
		date = d
		rest = strings.Replace(rest, d, "", 1)
	}
	title := strings.Trim(rest, " \t-–—():|[]")
	title = strings.TrimSpace(strings.ReplaceAll(title, " - ", " "))
	return ver, title, date, true
}

// ParseChangelog splits a Markdown changelog into notes, one per version
// heading (Keep a Changelog "## [1.2.0] - 2024-01-01", "# v1.2.0",
// "## 1.2.0", "# [1.2.1] - 2026-8-19"). Text before the first version
// heading and "[Unreleased]" sections are dropped; link definitions such as
// "[1.2.0]: https://..." become the note's URL. Notes keep file order.
func ParseChangelog(data []byte) ([]Note, error) {
	text := strings.TrimPrefix(strings.ReplaceAll(string(data), "\r\n", "\n"), "\ufeff")
	format := SniffFormat(text)
	lines := strings.Split(text, "\n")
	var notes []Note
	var body []string
	cur := -1 // index in notes, -1 before the first version or in Unreleased
	urls := map[string]string{}
	flush := func() {
		if cur >= 0 {
			notes[cur].Body = strings.TrimSpace(strings.Join(body, "\n"))
		}
		body = body[:0]
	}
	// heading handles a heading text; true when it opened or closed a note.
	heading := func(h string) bool {
		if ver, title, date, ok := headingVersion(h); ok {
			flush()
			notes = append(notes, Note{Version: ver, Title: title, Date: date, Format: format})
			cur = len(notes) - 1
			return true
		}
		if t := strings.ToLower(strings.Trim(strings.TrimSpace(h), "[]")); strings.HasPrefix(t, "unreleased") {
			flush()
			cur = -1
			return true
		}
		return false
	}
	fence := ""
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if fence != "" {
			// Only a line of fence characters closes ("```{include}" does not).
			if t := strings.TrimSpace(line); strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
				fence = ""
			}
			body = append(body, line)
			continue
		}
		if h, n, ok := adornedHeading(lines, i, format); ok {
			if heading(h) {
				i += n - 1
				continue
			}
		}
		if !strings.Contains(line, "```") && !strings.Contains(line, "~~~") {
			// no fence: skip the expression
		} else if m := fenceRe.FindStringSubmatch(line); m != nil && format == FormatMarkdown {
			fence = m[1]
			body = append(body, line)
			continue
		}
		if t := strings.TrimLeft(line, " "); strings.HasPrefix(t, "#") {
			if m := atxHeadingRe.FindStringSubmatch(line); m != nil && format == FormatMarkdown && heading(m[2]) {
				continue
			}
		}
		if !strings.HasPrefix(strings.TrimLeft(line, " "), "[") {
			// not a link definition
		} else if m := linkRefRe.FindStringSubmatch(line); m != nil {
			if _, err := version.Parse(m[1]); err == nil || strings.EqualFold(m[1], "unreleased") {
				urls[strings.TrimPrefix(strings.TrimPrefix(m[1], "v"), "V")] = m[2]
				continue
			}
		}
		body = append(body, line)
	}
	flush()
	if len(notes) == 0 {
		return nil, errors.New("no version headings found (expected headings such as \"## [1.2.0] - 2024-01-01\", \"# v1.2.0\", \"## 1.2.0\" or \"Version 1.2.0\" over a \"-----\" line)")
	}
	for i := range notes {
		key := strings.TrimPrefix(strings.TrimPrefix(notes[i].Version, "v"), "V")
		if u, ok := urls[key]; ok {
			notes[i].URL = u
		}
	}
	return notes, nil
}

// adornedHeading reads a setext (Markdown) or over/underlined (RST)
// heading at lines[i]: its text and how many lines it takes.
func adornedHeading(lines []string, i int, format string) (string, int, bool) {
	l := lines[i]
	if format == FormatRST && adornment(l) && i+2 < len(lines) && !blank(lines[i+1]) && strings.TrimSpace(lines[i+2]) == strings.TrimSpace(l) {
		return strings.TrimSpace(lines[i+1]), 3, true
	}
	if blank(l) || adornment(l) || indentOf(l) > 3 || i+1 >= len(lines) || !adornment(lines[i+1]) || indentOf(lines[i+1]) > 3 {
		return "", 0, false
	}
	if i > 0 && !blank(lines[i-1]) && !adornment(lines[i-1]) {
		return "", 0, false
	}
	u := strings.TrimSpace(lines[i+1])
	if format == FormatMarkdown && u[0] != '=' && u[0] != '-' {
		return "", 0, false
	}
	if t := strings.TrimSpace(l); listItemLineRe.MatchString(t) || runeLen(u)*10 < runeLen(t)*7 && format == FormatRST {
		return "", 0, false
	}
	return strings.TrimSpace(l), 2, true
}

var listItemLineRe = regexp.MustCompile(`^(?:[-*+]|\d{1,3}[.)])\s`)

// splitTitle takes a leading "# Title" line off a single note's body.
func splitTitle(body string) (title, rest string) {
	body = strings.TrimLeft(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	first, after, _ := strings.Cut(body, "\n")
	if m := atxHeadingRe.FindStringSubmatch(first); m != nil && len(m[1]) == 1 {
		return strings.TrimSpace(m[2]), strings.TrimSpace(after)
	}
	return "", strings.TrimSpace(body)
}

// FileSource reads one Markdown changelog file.
type FileSource struct{ Path string }

// Notes parses the changelog.
func (s FileSource) Notes(ctx context.Context) ([]Note, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(s.Path)
	if err != nil {
		return nil, fmt.Errorf("read release notes: %w", err)
	}
	notes, err := ParseChangelog(data)
	if err != nil {
		return nil, fmt.Errorf("release notes %s: %w", s.Path, err)
	}
	return notes, nil
}

// DirSource reads a directory of <version>.md files ("1.2.0.md",
// "v1.2.0.md"); other Markdown files in it are read as changelogs when they
// have version headings.
type DirSource struct{ Dir string }

// Notes reads every note in the directory.
func (s DirSource) Notes(ctx context.Context) ([]Note, error) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("read release notes: %w", err)
	}
	var notes []Note
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || !noteExt(ext) {
			continue
		}
		p := filepath.Join(s.Dir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read release notes: %w", err)
		}
		stem := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
		if _, err := version.Parse(stem); err == nil {
			title, body := splitTitle(string(data))
			notes = append(notes, Note{Version: stem, Title: title, Body: body, Format: formatOfExt(ext)})
			continue
		}
		if more, err := ParseChangelog(data); err == nil {
			notes = append(notes, more...)
		}
	}
	if len(notes) == 0 {
		return nil, fmt.Errorf("no release notes in %s: expected <version>.md files (e.g. 1.2.0.md) or a changelog with version headings", s.Dir)
	}
	return notes, nil
}

// Local returns the source for --notes PATH: a directory of <version>.md
// files, or one changelog file.
func Local(path string) (Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("release notes %s: %w", path, err)
	}
	if st.IsDir() {
		return DirSource{Dir: path}, nil
	}
	return FileSource{Path: path}, nil
}
