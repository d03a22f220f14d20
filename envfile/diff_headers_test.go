package envfile

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestDiffHunkHeaders: in every hunk of a diff of random edits, the lines
// each header names are the lines the hunk shows, in the old file and in
// the new one (go-udiff alone got the new file's start wrong after a hunk
// that merged two changes).
func TestDiffHunkHeaders(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 300 {
		var a, b []string
		for i := range 20 + rng.IntN(60) {
			line := fmt.Sprintf("OPT_%d=%d", i, i)
			a = append(a, line)
			switch rng.IntN(12) {
			case 0: // removed
			case 1: // changed
				b = append(b, line+"0")
			case 2: // lines added after it
				b = append(b, line)
				for j := range 1 + rng.IntN(3) {
					b = append(b, fmt.Sprintf("ADDED_%d_%d=x", i, j))
				}
			default:
				b = append(b, line)
			}
		}
		if rng.IntN(4) == 0 {
			b = append([]string{"FIRST=1"}, b...)
		}
		old, next := strings.Join(a, "\n")+"\n", strings.Join(b, "\n")+"\n"
		d := maskedDiff([]byte(old), []byte(next), ".env", nil)
		if old == next {
			continue
		}
		checkHunks(t, trial, d, a, b)
	}
}

func checkHunks(t *testing.T, trial int, d string, a, b []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(d, "\n"), "\n")
	hunks := 0
	for i, l := range lines {
		m := hunkHeader.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		hunks++
		os, _ := strconv.Atoi(m[1])
		on, _ := strconv.Atoi(m[2])
		ns, _ := strconv.Atoi(m[3])
		nn, _ := strconv.Atoi(m[4])
		var olds, news []string
		for _, h := range lines[i+1:] {
			if strings.HasPrefix(h, "@@ ") {
				break
			}
			switch h[0] {
			case ' ':
				olds, news = append(olds, h[1:]), append(news, h[1:])
			case '-':
				olds = append(olds, h[1:])
			case '+':
				news = append(news, h[1:])
			}
		}
		if on != len(olds) || nn != len(news) {
			t.Fatalf("trial %d: %s counts %d/%d lines\n%s", trial, l, len(olds), len(news), d)
		}
		if on > 0 && strings.Join(a[os-1:os-1+on], "\n") != strings.Join(olds, "\n") {
			t.Fatalf("trial %d: %s: the old file's lines %d.. are not the hunk's\n%s", trial, l, os, d)
		}
		if nn > 0 && strings.Join(b[ns-1:ns-1+nn], "\n") != strings.Join(news, "\n") {
			t.Fatalf("trial %d: %s: the new file's lines %d.. are not the hunk's\n%s", trial, l, ns, d)
		}
	}
	if hunks == 0 {
		t.Fatalf("trial %d: no hunk in\n%s", trial, d)
	}
}
