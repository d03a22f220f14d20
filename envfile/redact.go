package envfile

import (
	"sort"
	"unicode"
	"unicode/utf8"
)

// Secret lengths that change how a value is matched.
const (
	// MinSecretLen: shorter values are ignored entirely. Masking "1" or
	// "ab" everywhere would wreck every line, and they are not secrets
	// worth the name.
	MinSecretLen = 4
	// WholeTokenLen: shorter values are masked only as a whole token, so a
	// real app's shipped password "1234" is hidden in "pw=1234" but not
	// inside the timestamp "08.571234994".
	WholeTokenLen = 8
)

// Redactor hides secret values in text shown to the admin (logs, errors,
// diffs). It is the one redactor of upshift; build it once per set of
// secrets and reuse it.
//
// The rules:
//   - Every secret is matched in ONE left-to-right pass over the text; at
//     each position the longest secret that matches wins, and matches that
//     overlap merge into one mask, so a secret containing or overlapping
//     another never leaves a fragment of either.
//   - A secret of WholeTokenLen (8) bytes or more is masked wherever it
//     occurs, even inside a word.
//   - A secret of MinSecretLen (4) to 7 bytes is masked only as a whole
//     token: the character before and the one after it are not letters or
//     digits (or are the edges of the text). "1234" is masked in
//     `pw=1234 `, `"1234"` and `u:1234@db`, but not in `id=12345` or
//     `08.571234994`; "hunter" (6 bytes) stays in `xhunterx`.
//   - Secrets shorter than MinSecretLen, and empty ones, are ignored.
//   - The mask is "***". The pass repeats on its own result until nothing
//     changes, so a mask next to other text never forms a new secret and
//     redacting twice changes nothing.
//
// A nil *Redactor returns text unchanged.
type Redactor struct {
	// byFirst lists, per first byte, the secrets starting with it, longest
	// first.
	byFirst [256][]string
	any     bool
}

// NewRedactor builds a Redactor for secrets; duplicates, empty and too
// short values are dropped.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	seen := map[string]bool{}
	for _, s := range secrets {
		if len(s) < MinSecretLen || seen[s] {
			continue
		}
		seen[s] = true
		r.byFirst[s[0]] = append(r.byFirst[s[0]], s)
		r.any = true
	}
	for i := range r.byFirst {
		l := r.byFirst[i]
		sort.SliceStable(l, func(a, b int) bool { return len(l[a]) > len(l[b]) })
	}
	return r
}

// Redact returns s with every secret replaced by "***" (see Redactor).
func (r *Redactor) Redact(s string) string {
	if r == nil || !r.any {
		return s
	}
	for {
		out, changed := r.pass(s)
		if !changed {
			return out
		}
		s = out
	}
}

// pass masks s once; each change shortens the text, so repeating ends.
func (r *Redactor) pass(s string) (string, bool) {
	var out []byte
	copied := 0 // s[:copied] is in out
	end := -1   // one past the current masked run; -1 when none
	for i := 0; i < len(s); i++ {
		if n := r.matchAt(s, i); n > 0 {
			if end < 0 || i > end {
				if end >= 0 {
					out = append(out, mask...)
					copied = end
				}
				out = append(out, s[copied:i]...)
				copied = i
				end = i + n
			} else if i+n > end {
				end = i + n
			}
		}
	}
	if end < 0 {
		return s, false
	}
	out = append(out, mask...)
	out = append(out, s[end:]...)
	return string(out), true
}

// matchAt returns the length of the longest secret that may be masked at
// s[i:], or 0.
func (r *Redactor) matchAt(s string, i int) int {
	for _, sec := range r.byFirst[s[i]] {
		if len(s)-i < len(sec) || s[i:i+len(sec)] != sec {
			continue
		}
		if len(sec) >= WholeTokenLen || wholeToken(s, i, i+len(sec)) {
			return len(sec)
		}
	}
	return 0
}

// wholeToken reports whether s[start:end] has no letter or digit right
// before or after it.
func wholeToken(s string, start, end int) bool {
	if start > 0 {
		if c, _ := utf8.DecodeLastRuneInString(s[:start]); isWordRune(c) {
			return false
		}
	}
	if end < len(s) {
		if c, _ := utf8.DecodeRuneInString(s[end:]); isWordRune(c) {
			return false
		}
	}
	return true
}

func isWordRune(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) }

// Redact replaces the secrets in text with "***"; see Redactor for the
// rules. Build a Redactor instead when redacting many texts.
func Redact(text string, secrets []string) string {
	return NewRedactor(secrets...).Redact(text)
}
