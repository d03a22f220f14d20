package envfile

import (
	"fmt"
	"regexp"
	"strconv"
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
	return Redact(fixHunkHeaders(udiff.Unified("a/"+name, "b/"+name, a, b)), secrets)
}

// hunkHeader is a unified diff's "@@ -s,n +s,n @@" line.
var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$`)

// fixHunkHeaders rewrites the new file's line numbers in each hunk header
// from the old file's and the lines the hunks before it added and removed:
// go-udiff (v0.4.1) repeats the old file's start for the new file after a
// hunk that merged two changes, so the admin's "line 31" read as 27. The
// counts are recounted from the hunk's own lines.
func fixHunkHeaders(diff string) string {
	lines := strings.SplitAfter(diff, "\n")
	delta := 0
	for i := 0; i < len(lines); i++ {
		m := hunkHeader.FindStringSubmatch(strings.TrimSuffix(lines[i], "\n"))
		if m == nil {
			continue
		}
		oldStart, _ := strconv.Atoi(m[1])
		oldN, newN := 0, 0
		for _, l := range lines[i+1:] {
			if l == "" || strings.HasPrefix(l, "@@ ") {
				break
			}
			switch l[0] {
			case ' ':
				oldN++
				newN++
			case '-':
				oldN++
			case '+':
				newN++
			}
		}
		// The first line of the hunk in each file; a side with no lines
		// names the line before the hunk instead.
		first := oldStart
		if oldN == 0 {
			first++
		}
		newStart := first + delta
		if newN == 0 {
			newStart--
		}
		lines[i] = fmt.Sprintf("@@ -%d,%d +%d,%d @@%s\n", oldStart, oldN, newStart, newN, m[5])
		delta += newN - oldN
	}
	return strings.Join(lines, "")
}

// Masked returns the merged file with secrets masked, for printing.
func (r MergeResult) Masked() []byte {
	var files []*File
	if r.plan != nil {
		files = []*File{r.plan.base, r.plan.theirs, r.plan.ours}
	}
	return []byte(Redact(string(MaskFile(r.Merged)), secretValues(files...)))
}
