package releases

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseChangelog(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		want  []Note // Version, Title, Date, URL checked; Body by prefix
		first string
	}{
		{
			"keep a changelog", "# Changelog\n\nAll notable changes.\n\n## [Unreleased]\n- wip\n\n## [1.2.0] - 2024-01-01\n### Added\n- x\n\n## [1.1.0] - 2023-12-01\n- y\n\n[1.2.0]: https://example.invalid/1.2.0\n",
			[]Note{{Version: "1.2.0", Date: "2024-01-01", URL: "https://example.invalid/1.2.0"}, {Version: "1.1.0", Date: "2023-12-01"}},
			"### Added",
		},
		{"v headings", "# v1.2.0\nfoo\n# v1.1.0\nbar\n", []Note{{Version: "v1.2.0"}, {Version: "v1.1.0"}}, "foo"},
		{"bare", "## 1.2.0\nfoo\n## 1.1.0 (2023-02-03)\n", []Note{{Version: "1.2.0"}, {Version: "1.1.0", Date: "2023-02-03"}}, "foo"},
		{
			"maibot 1.x", "# [1.2.1] - 2026-8-19\n## Webui [1.7.0]\n- a\n# [1.0.8] - 学习与Maisaka更新 - 2026-6-25\n**注意**\n## [0.10.3] - 2025-9-22\n### 🌟 主要功能更改\n",
			[]Note{{Version: "1.2.1", Date: "2026-8-19"}, {Version: "1.0.8", Title: "学习与Maisaka更新", Date: "2026-6-25"}, {Version: "0.10.3", Date: "2025-9-22"}},
			"## Webui [1.7.0]",
		},
		{"release word", "## Release 2.0.0\nx\n## Version 1.9\ny\n", []Note{{Version: "2.0.0"}, {Version: "1.9"}}, "x"},
		{"heading in code", "## 1.2.0\n```\n## 1.1.0\n```\n", []Note{{Version: "1.2.0"}}, "```"},
		{"not versions", "## 2 new features\n## 1.0.0\n", []Note{{Version: "1.0.0"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChangelog([]byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d notes %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Version != w.Version || g.Date != w.Date || g.URL != w.URL || (w.Title != "" && g.Title != w.Title) {
					t.Errorf("note %d = %+v, want %+v", i, g, w)
				}
			}
			if !strings.HasPrefix(got[0].Body, tt.first) {
				t.Errorf("first body = %q, want prefix %q", got[0].Body, tt.first)
			}
		})
	}
	if _, err := ParseChangelog([]byte("# Just a readme\nhello\n")); err == nil || !strings.Contains(err.Error(), "no version headings") {
		t.Errorf("err = %v", err)
	}
}

func TestLocalSources(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("1.0.0.md", "# App 1.0.0\n\nfirst\n")
	write("v1.1.0.md", "second\n")
	write("README.md", "# readme\n")
	write("notes.txt", "ignored")
	src, err := Local(dir)
	if err != nil {
		t.Fatal(err)
	}
	notes, err := src.Notes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 2 {
		t.Fatalf("notes = %+v", notes)
	}
	sorted, _ := SortNotes(notes)
	if sorted[0].Title != "App 1.0.0" || sorted[0].Body != "first" || sorted[1].Version != "v1.1.0" {
		t.Errorf("sorted = %+v", sorted)
	}
	cl := filepath.Join(dir, "CHANGELOG.md")
	write("CHANGELOG.md", "## [2.0.0]\nthird\n")
	src, err = Local(cl)
	if err != nil {
		t.Fatal(err)
	}
	notes, err = src.Notes(ctx)
	if err != nil || len(notes) != 1 || notes[0].Version != "2.0.0" {
		t.Fatalf("changelog notes = %+v, %v", notes, err)
	}
	if _, err := Local(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing path accepted")
	}
	empty := t.TempDir()
	if _, err := (DirSource{Dir: empty}).Notes(ctx); err == nil || !strings.Contains(err.Error(), "<version>.md") {
		t.Errorf("empty dir err = %v", err)
	}
}
