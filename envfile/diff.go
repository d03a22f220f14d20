package envfile

import (
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
)

// Diff returns a unified diff from original (the admin's .env as it is) to
// the merged file, secrets masked; "" when nothing changes. name labels the
// file (".env").
func (r MergeResult) Diff(original []byte, name string) string {
	if string(original) == string(r.Merged) {
		return ""
	}
	var files []*File
	if r.plan != nil {
		files = []*File{r.plan.base, r.plan.theirs, r.plan.ours}
	}
	if f, err := Parse(original); err == nil {
		files = append(files, f)
	}
	if f, err := Parse(r.Merged); err == nil {
		files = append(files, f)
	}
	return maskedDiff(original, r.Merged, name, secretValues(files...))
}

func maskedDiff(before, after []byte, name string, secrets []string) string {
	a, b := string(MaskFile(before)), string(MaskFile(after))
	if a != "" && !strings.HasSuffix(a, "\n") {
		a += "\n"
	}
	if b != "" && !strings.HasSuffix(b, "\n") {
		b += "\n"
	}
	if a == b {
		return ""
	}
	return Redact(udiff.Unified("a/"+name, "b/"+name, a, b), secrets)
}

// Masked returns the merged file with secrets masked, for printing.
func (r MergeResult) Masked() []byte {
	var files []*File
	if r.plan != nil {
		files = []*File{r.plan.base, r.plan.theirs, r.plan.ours}
	}
	return []byte(Redact(string(MaskFile(r.Merged)), secretValues(files...)))
}
