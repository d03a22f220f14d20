package releases

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type corpusLabels struct {
	Notes []struct {
		File    string `yaml:"file"`
		Version string `yaml:"version"`
		Expect  []struct {
			Kind   Kind   `yaml:"kind"`
			Phrase string `yaml:"phrase"`
		} `yaml:"expect"`
	} `yaml:"notes"`
}

func norm(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// TestCorpusPrecisionRecall runs the extractor over hand-labelled notes
// written in the styles of Dify, Mattermost, SimpleLogin, Nightingale and
// MaiBot. A predicted warning is right when its kind equals a label's kind
// and its text contains the label's phrase; a label is found when some
// warning is right for it.
func TestCorpusPrecisionRecall(t *testing.T) {
	dir := filepath.Join("testdata", "corpus")
	data, err := os.ReadFile(filepath.Join(dir, "labels.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var labels corpusLabels
	if err := yaml.Unmarshal(data, &labels); err != nil {
		t.Fatal(err)
	}
	if len(labels.Notes) < 40 {
		t.Fatalf("corpus has %d notes, want at least 40", len(labels.Notes))
	}
	var tp, predicted, found, expected, negatives int
	for _, ln := range labels.Notes {
		body, err := os.ReadFile(filepath.Join(dir, ln.File))
		if err != nil {
			t.Fatal(err)
		}
		ws := Extract(Note{Version: ln.Version, Body: string(body)})
		if len(ln.Expect) == 0 {
			negatives++
		}
		predicted += len(ws)
		expected += len(ln.Expect)
		for _, w := range ws {
			ok := false
			for _, e := range ln.Expect {
				if w.Kind == e.Kind && strings.Contains(norm(w.Text), norm(e.Phrase)) {
					ok = true
				}
			}
			if ok {
				tp++
			} else {
				t.Logf("false positive in %s: %s %q", ln.File, w.Kind, w.Text)
			}
		}
		for _, e := range ln.Expect {
			ok := false
			for _, w := range ws {
				if w.Kind == e.Kind && strings.Contains(norm(w.Text), norm(e.Phrase)) {
					ok = true
				}
			}
			if ok {
				found++
			} else {
				t.Logf("missed in %s: %s %q (got %d warnings)", ln.File, e.Kind, e.Phrase, len(ws))
				for _, w := range ws {
					t.Logf("    got %s %q", w.Kind, w.Text)
				}
			}
		}
	}
	precision := float64(tp) / float64(max(predicted, 1))
	recall := float64(found) / float64(max(expected, 1))
	t.Logf("corpus: %d notes (%d with nothing to flag), %d labelled warnings, %d predicted; precision %.3f, recall %.3f",
		len(labels.Notes), negatives, expected, predicted, precision, recall)
	if precision < 0.9 || recall < 0.9 {
		t.Errorf("precision %.3f, recall %.3f: both must be at least 0.9", precision, recall)
	}
}
