package releases

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadNotes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	changelog := write("CHANGELOG.md", "# Changelog\n\n## 2.0.0\n\n### Breaking\n- `A_B` was removed.\n\n## 1.9.0\n\n- Faster.\n")
	single := write("note.md", "## Breaking changes\n\n- The `X_Y` key has been renamed to `X_Z`.\n")
	stray := write("stray.md", "## 1.x users\n\nUpgrade to 1.9.0 first.\n\n## 2.5.0 and later\n\nNothing.\n")
	front := write("site/2.2.10.md", "---\ntitle: App 2.2.10\ndate: 2025-06-23\n---\n\n* feat(config)!: remove `OLD_OPT`\n")
	write("plain/upgrade.mdx", "<Warning>\nBack up the database before upgrading.\n</Warning>\n")

	tests := []struct {
		name, path, ver string
		want            []string // versions
	}{
		{"changelog, all", changelog, "", []string{"2.0.0", "1.9.0"}},
		{"changelog, one", changelog, "2.0.0", []string{"2.0.0"}},
		{"single note with --version", single, "3.1.0", []string{"3.1.0"}},
		{"single note without", single, "", []string{""}},
		{"stray version headings", stray, "3.0.0", []string{"3.0.0"}},
		{"front matter and file name", front, "", []string{"2.2.10"}},
		{"dir of plain notes", filepath.Join(dir, "plain"), "4.0.0", []string{"4.0.0"}},
		{"towncrier", filepath.Join("testdata", "styles", "towncrier"), "1.9.0", []string{"1.9.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notes, err := ReadNotes(tt.path, tt.ver)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range notes {
				got = append(got, n.Version)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("versions %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("versions %q, want %q", got, tt.want)
				}
			}
			if tt.name != "changelog, all" && tt.name != "single note without" {
				if ws := ExtractAll(notes); len(ws) == 0 {
					t.Errorf("no warnings from %s", tt.path)
				}
			}
		})
	}
	if _, err := ReadNotes(filepath.Join(dir, "missing.md"), ""); err == nil {
		t.Error("a missing file must be an error")
	}
}
