package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// logRing keeps the last lines of one step's log. Memory is bounded by its
// capacity; rendering only touches the lines on screen, so View costs the
// same with 1k or 1M lines of history.
type logRing struct {
	lines []string
	start int // index of the oldest line once the ring is full
	total int // lines ever appended (to say how many were dropped)
}

func newLogRing(capacity int) *logRing {
	if capacity <= 0 {
		capacity = DefaultLogLines
	}
	return &logRing{lines: make([]string, 0, capacity)}
}

// Append adds one line, dropping the oldest when full.
func (r *logRing) Append(line string) {
	line = cleanLine(line)
	r.total++
	if len(r.lines) < cap(r.lines) {
		r.lines = append(r.lines, line)
		return
	}
	r.lines[r.start] = line
	r.start = (r.start + 1) % len(r.lines)
}

// Len is the number of lines kept.
func (r *logRing) Len() int { return len(r.lines) }

// Dropped is how many old lines no longer fit.
func (r *logRing) Dropped() int { return r.total - len(r.lines) }

// Line returns the i-th kept line, 0 being the oldest.
func (r *logRing) Line(i int) string {
	return r.lines[(r.start+i)%len(r.lines)]
}

// Tail returns up to n of the newest lines.
func (r *logRing) Tail(n int) []string {
	n = min(n, r.Len())
	out := make([]string, 0, n)
	for i := r.Len() - n; i < r.Len(); i++ {
		out = append(out, r.Line(i))
	}
	return out
}

// cleanLine removes what would break the layout: escape sequences, tabs and
// other control characters a container may print.
func cleanLine(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	s = ansi.Strip(s)
	s = strings.ReplaceAll(s, "\t", "    ")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// logPane shows one ring with scroll-back. offset counts lines up from the
// newest; follow keeps the newest line in view as lines arrive.
type logPane struct {
	ring   *logRing
	offset int
	follow bool
}

func newLogPane() logPane { return logPane{follow: true} }

// Scroll moves the view; positive n goes back in time.
func (p *logPane) Scroll(n, height int) {
	if p.ring == nil {
		return
	}
	maxOff := max(0, p.ring.Len()-height)
	p.offset = max(0, min(maxOff, p.offset+n))
	p.follow = p.offset == 0
}

// Appended keeps the same lines in view while the admin reads back and new
// lines arrive below.
func (p *logPane) Appended(n int) {
	if !p.follow {
		p.offset += n
	}
}

// Follow jumps to the newest line and stays there.
func (p *logPane) Follow() { p.offset, p.follow = 0, true }

// Render draws exactly height lines of at most width cells.
func (p *logPane) Render(width, height int) string {
	if height <= 0 {
		return ""
	}
	var b strings.Builder
	n := 0
	if p.ring != nil {
		p.offset = min(p.offset, max(0, p.ring.Len()-height))
		end := p.ring.Len() - p.offset
		start := max(0, end-height)
		for i := start; i < end; i++ {
			if n > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(ansi.Truncate(p.ring.Line(i), width, "…"))
			n++
		}
	}
	for ; n < height; n++ {
		if n > 0 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func ansiTruncate(s string, w int) string { return ansi.Truncate(s, w, "…") }
