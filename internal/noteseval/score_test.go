package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScore scores two self-written sections: one caught and visible, one
// negative with a decoy that must not be reported.
func TestScore(t *testing.T) {
	dir := t.TempDir()
	note := "## [2.0.0]\n\n### Breaking changes\n- The `OLD_KEY` has been renamed to `NEW_KEY`.\n\n## [1.9.0]\n\n### Fixes\n- Fix a breaking change in the parser.\n"
	if err := os.WriteFile(filepath.Join(dir, "CHANGELOG.md"), []byte(note), 0o644); err != nil {
		t.Fatal(err)
	}
	set := &Labels{Sections: []Section{
		{App: "x", File: "CHANGELOG.md", Version: "2.0.0", MustKnow: true, Items: []Item{{Kinds: []string{"breaking"}, Anchors: []string{"OLD_KEY has been renamed"}}}},
		{App: "x", File: "CHANGELOG.md", Version: "1.9.0", Decoys: []string{"breaking change in the parser"}},
	}}
	r := score(set, dir, "")
	c := r.total
	if c.sections != 2 || c.items != 1 || c.caught != 1 || c.visible != 1 || c.tp != 1 || c.tn != 1 || c.decoysHit != 0 || c.kindsRight != 1 {
		t.Fatalf("counts %+v\n%s", c, strings.Join(r.notes, "\n"))
	}
	if l := c.line("TOTAL"); !strings.Contains(l, "1.00") {
		t.Errorf("line %q", l)
	}
}

func TestEmbeddedLabels(t *testing.T) {
	set, err := loadLabels("")
	if err != nil {
		t.Fatal(err)
	}
	apps := map[string]bool{}
	for _, s := range set.Sections {
		apps[s.App] = true
		if s.Source == "" || s.File == "" || s.Version == "" {
			t.Fatalf("section without source, file or version: %+v", s)
		}
		for _, it := range s.Items {
			for _, a := range it.Anchors {
				if n := len(strings.Fields(a)); n > 6 {
					t.Errorf("anchor %q has %d words, at most 6", a, n)
				}
			}
		}
	}
	if len(set.Sections) < 300 || len(apps) < 15 {
		t.Errorf("%d sections from %d apps, want at least 300 from 15", len(set.Sections), len(apps))
	}
}
