package releases

import (
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/releases/version"
)

// Seeds also live in testdata/fuzz/<FuzzName>.

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.2.3", "v1.0.0-rc.1+b", "2024.01.3", "release-7", "1.2", "", "v", "1.0.0-0.3.7", "1.0.0-x.7.z.92"} {
		f.Add(s, "1.0.0")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, errA := version.Parse(a)
		vb, errB := version.Parse(b)
		if errA != nil || errB != nil {
			_ = Compare(a, b)
			return
		}
		// Ordering is antisymmetric and String round-trips.
		if va.Compare(vb) != -vb.Compare(va) {
			t.Fatalf("Compare(%q,%q) not antisymmetric", a, b)
		}
		if va.Compare(va) != 0 {
			t.Fatalf("%q not equal to itself", a)
		}
		back, err := version.Parse(va.String())
		if err != nil || back.Compare(va) != 0 {
			t.Fatalf("String() of %q = %q does not parse back: %v", a, va.String(), err)
		}
		_, _ = version.ParseConstraint(">=" + a + " <" + b)
	})
}

func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"## Breaking changes\n- `A_B` has been renamed to `C_D`\n",
		"```{Attention}\n**Breaking Changes**\n - x\n```\n",
		"how to upgrade:\n1. stop\n```sql\nalter table x add y int;\n```\n",
		"> [!WARNING]\n> Run `x` by hand\n",
		"**注意：升级需要重新配置**\n- 需要 PostgreSQL 14 及以上\n",
		"<Warning>\nrequires Weaviate 1.27.0\n</Warning>\n",
		"```\nunclosed",
		"- a\n  - b:\n    - c\n",
		"Title\n=====\n\n.. warning::\n\n   ``A_B`` is removed.\n\n+---+---+\n| a | b |\n+===+===+\n| 1 | upgrade to 1.2 first |\n+---+---+\n",
		":::warning Title\nbody\n:::\n!!! danger \"x\"\n    y\n<details><summary>s</summary>\n\n- z\n</details>\n",
		"* feat(x)!: drop y\n\nBREAKING CHANGE: z\n",
		"====  ====\na     b\n====  ====\n1     2\n====  ====\n",
		"```{note}\n```{warning}\nx\n```\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, format := range []string{"", FormatRST} {
			ws := Extract(Note{Version: "1.0.0", Body: body, Format: format})
			for _, w := range ws {
				switch w.Kind {
				case KindBreaking, KindManualAction, KindRequirement, KindDeprecation, KindRequiredStop:
				default:
					t.Fatalf("unknown kind %q", w.Kind)
				}
				if strings.TrimSpace(w.Text) == "" {
					t.Fatal("empty warning text")
				}
				if n := len([]rune(w.Headline)); n > HeadlineMax || strings.TrimSpace(w.Headline) == "" {
					t.Fatalf("headline %q: %d characters", w.Headline, n)
				}
			}
			_ = Group(ws)
		}
	})
}

func FuzzChangelog(f *testing.F) {
	for _, s := range []string{
		"## [1.2.0] - 2024-01-01\n- x\n## [1.1.0]\n[1.2.0]: https://x\n",
		"# v1.2.0\n```\n# v1.1.0\n```\n",
		"# [1.2.1] - 2026-8-19\n## Webui [1.7.0]\n## [0.10.3] - 2025-9-22\n",
		"## [Unreleased]\n## 1.0\n",
		"# Release 1.0.0 (2024-1-1)\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		notes, err := ParseChangelog([]byte(text))
		if err != nil {
			return
		}
		for _, n := range notes {
			if _, err := version.Parse(n.Version); err != nil {
				t.Fatalf("note version %q does not parse: %v", n.Version, err)
			}
		}
		sorted, aside := SortNotes(notes)
		if len(sorted)+len(aside) != len(notes) {
			t.Fatal("SortNotes lost notes")
		}
	})
}
