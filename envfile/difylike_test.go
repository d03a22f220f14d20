package envfile

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The Dify-like fixture is generated (never copied from Dify): a template of
// several hundred keys in commented sections, a next template that adds,
// removes, renames keys and changes defaults, and an admin's .env with
// edited values, keys only it has, and keys the admin deleted.
// Regenerate with UPSHIFT_REGEN_FIXTURES=1 go test ./envfile -run DifyLike.

var difyRenames = []Rename{{From: "SECTION03_KEY004", To: "SECTION03_RENAMED004"}, {From: "SECTION07_OLD_TOKEN", To: "SECTION07_API_TOKEN"}}

type difyFixture struct{ base, theirs, ours []byte }

func genDifyLike() difyFixture {
	rng := rand.New(rand.NewPCG(7, 7))
	type kv struct{ key, raw, comment string }
	var sections [][]kv
	value := func(s, k int) string {
		switch (s*31 + k) % 9 {
		case 0:
			return fmt.Sprintf("'quoted value %d'", k)
		case 1:
			return fmt.Sprintf("\"double %d with $${NOT_EXPANDED}\"", k)
		case 2:
			return ""
		case 3:
			return fmt.Sprintf("${SECTION%02d_KEY000:-fallback%d}", s, k)
		case 4:
			return fmt.Sprintf("postgres://user:pw%d@db:5432/app", k)
		case 5:
			return "true"
		default:
			return fmt.Sprint(rng.IntN(10000))
		}
	}
	for s := range 24 {
		var sec []kv
		for k := range 18 {
			key := fmt.Sprintf("SECTION%02d_KEY%03d", s, k)
			c := ""
			if k%3 == 0 {
				c = fmt.Sprintf("# %s sets option %d of section %d.\n# Default is fine for most installs.\n", key, k, s)
			}
			sec = append(sec, kv{key, value(s, k), c})
		}
		if s == 7 {
			sec = append(sec, kv{"SECTION07_OLD_TOKEN", "changeme-token", "# Token for the old API.\n"})
		}
		if s == 11 {
			sec = append(sec, kv{"SECTION11_CERT", "\"-----BEGIN CERT-----\nMIIBfake\nline2\n-----END CERT-----\"", "# A multi-line value.\n"})
		}
		sections = append(sections, sec)
	}
	render := func(secs [][]kv) []byte {
		var b strings.Builder
		b.WriteString("# ------------------------------\n# Generated Dify-like template.\n# ------------------------------\n\n")
		for i, sec := range secs {
			fmt.Fprintf(&b, "# ------------------------------\n# Section %d\n# ------------------------------\n\n", i)
			for j, e := range sec {
				b.WriteString(e.comment)
				prefix := ""
				if j%17 == 5 {
					prefix = "export "
				}
				fmt.Fprintf(&b, "%s%s=%s", prefix, e.key, e.raw)
				if j%11 == 4 && !strings.Contains(e.raw, "\n") {
					b.WriteString(" # inline note")
				}
				b.WriteString("\n")
				if e.comment != "" {
					b.WriteString("\n")
				}
			}
			b.WriteString("\n")
		}
		return []byte(b.String())
	}
	base := render(sections)

	// The next version's template.
	next := make([][]kv, 0, len(sections)+2)
	for s, sec := range sections {
		var ns []kv
		for k, e := range sec {
			switch {
			case e.key == "SECTION03_KEY004":
				e.key = "SECTION03_RENAMED004"
			case e.key == "SECTION07_OLD_TOKEN":
				e.key = "SECTION07_API_TOKEN"
			case (s*7+k)%23 == 0: // removed from the template
				continue
			case (s*5+k)%13 == 0: // changed default
				e.raw = fmt.Sprintf("new-default-%d-%d", s, k)
			}
			ns = append(ns, e)
			if (s+k)%29 == 0 {
				ns = append(ns, kv{fmt.Sprintf("SECTION%02d_ADDED%03d", s, k), fmt.Sprintf("added-%d", k), "# Added in the next version.\n"})
			}
		}
		next = append(next, ns)
		if s == 12 {
			var fresh []kv
			for k := range 12 {
				fresh = append(fresh, kv{fmt.Sprintf("NEWFEATURE_KEY%02d", k), fmt.Sprintf("nf%d", k), "# New feature setting.\n"})
			}
			next = append(next, fresh)
		}
	}
	theirs := render(next)

	// The admin's .env: the old template with edits, deletions and extras.
	ours := make([][]kv, 0, len(sections)+1)
	for s, sec := range sections {
		var os []kv
		for k, e := range sec {
			switch {
			case (s*11+k)%37 == 0 && !strings.HasPrefix(e.key, "SECTION07_OLD") && e.key != "SECTION03_KEY004":
				continue // the admin deleted it
			case (s*3+k)%7 == 0 || e.key == "SECTION03_KEY004" || e.key == "SECTION07_OLD_TOKEN":
				e.raw = fmt.Sprintf("admin-%d-%d", s, k)
			}
			os = append(os, e)
		}
		ours = append(ours, os)
	}
	var extras []kv
	for k := range 15 {
		extras = append(extras, kv{fmt.Sprintf("ADMIN_ONLY_%02d", k), fmt.Sprintf("admin-only-%d", k), ""})
	}
	ours = append(ours, extras)
	return difyFixture{base, theirs, render(ours)}
}

func loadDifyLike(t testing.TB) difyFixture {
	t.Helper()
	dir := filepath.Join("testdata", "difylike")
	if os.Getenv("UPSHIFT_REGEN_FIXTURES") == "1" {
		fx := genDifyLike()
		_ = os.MkdirAll(dir, 0o755)
		for name, data := range map[string][]byte{"base.env.example": fx.base, "theirs.env.example": fx.theirs, "ours.env": fx.ours} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%v (regenerate with UPSHIFT_REGEN_FIXTURES=1)", err)
		}
		return data
	}
	return difyFixture{read("base.env.example"), read("theirs.env.example"), read("ours.env")}
}

func TestDifyLikeFixtureIsCurrent(t *testing.T) {
	fx, gen := loadDifyLike(t), genDifyLike()
	if string(fx.base) != string(gen.base) || string(fx.theirs) != string(gen.theirs) || string(fx.ours) != string(gen.ours) {
		t.Fatal("testdata/difylike differs from the generator: regenerate with UPSHIFT_REGEN_FIXTURES=1")
	}
	for _, data := range [][]byte{fx.base, fx.theirs, fx.ours} {
		checkEquivalent(t, data)
	}
}

func TestDifyLikeMergeLosesNothing(t *testing.T) {
	fx := loadDifyLike(t)
	base, _ := Parse(fx.base)
	theirs, _ := Parse(fx.theirs)
	ours, _ := Parse(fx.ours)
	if n := len(theirs.Keys()); n < 300 {
		t.Fatalf("fixture too small: %d keys", n)
	}
	r, err := Merge(fx.base, fx.theirs, fx.ours, difyRenames)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := Parse(r.Merged)
	if err != nil {
		t.Fatal(err)
	}
	checkEquivalent(t, r.Merged)
	renamedTo := map[string]string{}
	for _, rn := range difyRenames {
		renamedTo[rn.From] = rn.To
	}
	text := string(r.Merged)
	for _, k := range ours.Keys() {
		ov, _ := valueOf(ours, k)
		target := k
		if to, ok := renamedTo[k]; ok {
			target = to
		}
		mv, ok := valueOf(merged, target)
		switch {
		case !ok && slices.Contains(r.Summary.Deprecated, k):
			if !strings.Contains(text, "# "+k+"=") && !strings.Contains(text, "# export "+k+"=") {
				t.Errorf("deprecated %s is not kept as a comment", k)
			}
		case !ok:
			t.Errorf("admin key %s lost", k)
		case !ov.equal(mv):
			bv, _ := valueOf(base, k)
			if !ov.equal(bv) {
				t.Errorf("admin value of %s changed: %q → %q", k, ov.lit, mv.lit)
			}
		}
	}
	for _, k := range theirs.Keys() {
		if !merged.Has(k) && !slices.Contains(r.Summary.Removed, k) && !slices.Contains(r.Summary.Conflicts, k) {
			t.Errorf("template key %s missing", k)
		}
	}
	s := r.Summary
	t.Logf("keys: base %d, theirs %d, ours %d, merged %d; added %d, kept %d, changed default %d, renamed %d, deprecated %d, custom %d, removed by admin %d, conflicts %d, unchanged %d",
		len(base.Keys()), len(theirs.Keys()), len(ours.Keys()), len(merged.Keys()),
		len(s.Added), len(s.Kept), len(s.ChangedDefault), len(s.Renamed), len(s.Deprecated), len(s.Custom), len(s.Removed), len(s.Conflicts), s.Unchanged)
	if len(s.Added) == 0 || len(s.ChangedDefault) == 0 || len(s.Renamed) != 2 || len(s.Deprecated) == 0 || len(s.Custom) != 15 || len(s.Conflicts) == 0 {
		t.Errorf("fixture does not exercise every rule: %+v", s)
	}
	// Resolving every conflict either way still verifies.
	for _, theirsWins := range []bool{false, true} {
		r2, _ := Merge(fx.base, fx.theirs, fx.ours, difyRenames)
		if err := r2.ResolveAll(theirsWins); err != nil {
			t.Fatal(err)
		}
	}
	// Two-way never overwrites an admin value.
	r2, err := Merge(nil, fx.theirs, fx.ours, difyRenames)
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := Parse(r2.Merged)
	for _, k := range ours.Keys() {
		target := k
		if to, ok := renamedTo[k]; ok {
			target = to
		}
		ov, _ := valueOf(ours, k)
		if mv, ok := valueOf(m2, target); !ok || !mv.equal(ov) {
			t.Errorf("two-way: %s changed or lost", k)
		}
	}
}

func BenchmarkParseMergeDifyLike(b *testing.B) {
	fx := loadDifyLike(b)
	b.SetBytes(int64(len(fx.base) + len(fx.theirs) + len(fx.ours)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Merge(fx.base, fx.theirs, fx.ours, difyRenames); err != nil {
			b.Fatal(err)
		}
	}
}
