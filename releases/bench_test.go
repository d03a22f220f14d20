package releases

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bigChangelog builds a changelog of about size bytes, newest first: one
// version in ten is a style fixture full of warnings, the others routine
// features and fixes; dense makes every version a fixture.
func bigChangelog(tb testing.TB, size int, dense bool) []byte {
	tb.Helper()
	var bodies []string
	for _, f := range []string{"myst-attention.md", "github-alerts.md", "conventional.md", "admin-steps.md", "negation.md", "scope.md", "docusaurus.mdx", "mkdocs-admonition.md"} {
		b, err := os.ReadFile(filepath.Join("testdata", "styles", f))
		if err != nil {
			tb.Fatal(err)
		}
		// Sub-headings one level below the version headings.
		bodies = append(bodies, strings.ReplaceAll(string(b), "\n## ", "\n### "))
	}
	var sb strings.Builder
	sb.WriteString("# Changelog\n\n")
	for i := 0; sb.Len() < size; i++ {
		body := routineNote(i)
		if dense || i%10 == 0 {
			body = bodies[i%len(bodies)]
		}
		fmt.Fprintf(&sb, "## [%d.%d.0] - 2026-01-01\n\n%s\n", 900-i/10, 9-i%10, body)
	}
	return []byte(sb.String())
}

// routineNote is a version of features and fixes, as most are.
func routineNote(i int) string {
	var sb strings.Builder
	sb.WriteString("### Features\n\n")
	for k := range 6 {
		fmt.Fprintf(&sb, "- Add an option to sort the feed entries by date in the list view (#%d) by @someone in https://github.com/example/app/pull/%d\n", i*10+k, i*10+k)
	}
	sb.WriteString("\n### Bug Fixes\n\n")
	for k := range 8 {
		fmt.Fprintf(&sb, "- Fixed an issue where the unread badge stayed after reading a thread on mobile (#%d)\n", i*20+k)
	}
	sb.WriteString("\n### Dependencies\n\n- Bump golang.org/x/net from 0.30.0 to 0.31.0\n")
	return sb.String()
}

// BenchmarkExtractChangelog reads a 1 MB changelog and extracts the
// warnings of every version: the budget is 50 ms.
func BenchmarkExtractChangelog(b *testing.B) { benchExtract(b, false) }

// BenchmarkExtractDense is the worst case: every version full of warnings.
func BenchmarkExtractDense(b *testing.B) { benchExtract(b, true) }

func benchExtract(b *testing.B, dense bool) {
	data := bigChangelog(b, 1<<20, dense)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		notes, err := ParseChangelog(data)
		if err != nil {
			b.Fatal(err)
		}
		_ = ExtractAll(notes)
	}
}
