package envfile

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, always round-trips, and agrees with
// compose-go; Set keeps the file parseable and reads back the value.
func FuzzParse(f *testing.F) {
	for _, c := range equivalenceCases {
		f.Add([]byte(c), "new value")
	}
	f.Fuzz(func(t *testing.T, data []byte, value string) {
		checkEquivalent(t, data)
		p, err := Parse(data)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Bytes(), data) {
			t.Fatalf("round trip changed %q", data)
		}
		for _, k := range p.Keys() {
			if _, inherited, _ := p.Literal(k); inherited || k == "" {
				continue
			}
			p.Set(k, value)
			if got, ok := p.Get(k); !ok || got != value {
				// Set may refuse when no encoding survives; the file must still parse.
				if _, err := Parse(p.Bytes()); err != nil {
					t.Fatalf("Set(%q, %q) broke the file: %v", k, value, err)
				}
			}
			break
		}
	})
}

// FuzzMerge: Merge never panics; when it succeeds the result parses and
// every admin key is still there (or commented out as deprecated).
func FuzzMerge(f *testing.F) {
	f.Add([]byte("A=1\nB=2\n"), []byte("A=1\nB=3\nC=4\n"), []byte("A=9\nB=2\nD=5\n"), true)
	f.Add([]byte("OLD=1\n"), []byte("# c\nNEW=2\n"), []byte("OLD='x' # y\n"), false)
	f.Add([]byte("A=\"m\nl\"\n"), []byte("A\n"), []byte("export A=\"m\nl\" B=1\n"), true)
	f.Fuzz(func(t *testing.T, base, theirs, ours []byte, threeWay bool) {
		if !threeWay {
			base = nil
		}
		r, err := Merge(base, theirs, ours, []Rename{{From: "OLD", To: "NEW"}})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("merge bug: %v\nbase %q\ntheirs %q\nours %q", err, base, theirs, ours)
			}
			return
		}
		m, err := Parse(r.Merged)
		if err != nil {
			t.Fatalf("merged file does not parse: %v", err)
		}
		o, _ := Parse(ours)
		for _, k := range o.Keys() {
			if !m.Has(k) && k != "OLD" && !slices.Contains(r.Summary.Deprecated, k) {
				t.Fatalf("admin key %q lost\nbase %q\ntheirs %q\nours %q\nmerged %q", k, base, theirs, ours, r.Merged)
			}
		}
		_ = r.Diff(ours, ".env")
		_ = r.ResolveAll(true)
	})
}
