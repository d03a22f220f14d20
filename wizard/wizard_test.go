package wizard

import "testing"

func TestUnwrap(t *testing.T) {
	in := "This release adds the `word_count` column. The\n  backfill takes a second.\n\nSecond paragraph."
	if got, want := unwrap(in), "This release adds the `word_count` column. The backfill takes a second.\n\nSecond paragraph."; got != want {
		t.Fatalf("unwrap = %q", got)
	}
	code := "Run:\n```sql\nDELETE FROM x;\n```"
	if unwrap(code) != code {
		t.Fatal("code blocks must keep their lines")
	}
}
