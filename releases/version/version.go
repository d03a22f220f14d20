// Package version parses and orders release versions the way admins write
// them: semver with or without a "v", pre-releases, build metadata, and
// calendar or short versions such as "1.2" or "2024.01.3". It owns nothing
// else and never touches I/O.
package version

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxComponent bounds each numeric part so that comparisons never overflow.
const maxComponent = 1 << 40

// Version is one parsed release version. The zero value is not a valid
// version; use Parse.
type Version struct {
	// Original is the text as written, e.g. "v1.2.0-rc.1".
	Original string
	// Nums holds the numeric release parts, at least three ("1.2" → 1 2 0).
	Nums []int64
	// Pre holds the dot-separated pre-release identifiers ("rc", "1").
	Pre []string
	// Build is the build metadata after "+"; it never affects ordering.
	Build string
}

// Parse reads a version. It accepts an optional "v"/"V" prefix, one to six
// numeric parts, an optional "-pre.release" and "+build". Anything else
// ("release-7", "latest", "main") is an error saying why.
func Parse(s string) (Version, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Version{}, errors.New("empty version")
	}
	if s[0] == 'v' || s[0] == 'V' {
		s = s[1:]
	}
	v := Version{Original: orig}
	if i := strings.IndexByte(s, '+'); i >= 0 {
		v.Build = s[i+1:]
		s = s[:i]
		if v.Build == "" || !validIdents(v.Build) {
			return Version{}, fmt.Errorf("%q: build metadata after '+' must be dot-separated letters, digits or '-'", orig)
		}
	}
	// PEP 440 style "1.157.0rc1", "2.0b2": the letters start a pre-release.
	if !strings.Contains(s, "-") {
		if i := strings.IndexFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }); i > 0 && s[i-1] >= '0' && s[i-1] <= '9' && strings.Contains(s[:i], ".") {
			s = s[:i] + "-" + s[i:]
		}
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		pre := s[i+1:]
		s = s[:i]
		if pre == "" || !validIdents(pre) {
			return Version{}, fmt.Errorf("%q: pre-release after '-' must be dot-separated letters, digits or '-'", orig)
		}
		v.Pre = strings.Split(pre, ".")
	}
	if s == "" {
		return Version{}, fmt.Errorf("%q: no version number (expected something like 1.2.3)", orig)
	}
	parts := strings.Split(s, ".")
	if len(parts) > 6 {
		return Version{}, fmt.Errorf("%q: too many numeric parts (%d)", orig, len(parts))
	}
	for _, p := range parts {
		if p == "" || !allDigits(p) {
			return Version{}, fmt.Errorf("%q: %q is not a number (expected something like 1.2.3)", orig, p)
		}
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n > maxComponent {
			return Version{}, fmt.Errorf("%q: number %q is too large", orig, p)
		}
		v.Nums = append(v.Nums, n)
	}
	for len(v.Nums) < 3 {
		v.Nums = append(v.Nums, 0)
	}
	return v, nil
}

// MustParse is Parse for constants in tests and tables; it returns the zero
// Version on error instead of panicking.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		return Version{}
	}
	return v
}

// IsZero reports whether v is the zero value (not parsed).
func (v Version) IsZero() bool { return len(v.Nums) == 0 }

// Major, Minor and Patch return the first three numeric parts.
func (v Version) Major() int64 { return v.num(0) }

// Minor returns the second numeric part.
func (v Version) Minor() int64 { return v.num(1) }

// Patch returns the third numeric part.
func (v Version) Patch() int64 { return v.num(2) }

// IsPrerelease reports whether v has a pre-release part.
func (v Version) IsPrerelease() bool { return len(v.Pre) > 0 }

func (v Version) num(i int) int64 {
	if i < len(v.Nums) {
		return v.Nums[i]
	}
	return 0
}

// String is the canonical form: no "v", at least three numeric parts,
// leading zeros dropped ("v1.2" → "1.2.0").
func (v Version) String() string {
	if v.IsZero() {
		return ""
	}
	var b strings.Builder
	for i, n := range v.Nums {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatInt(n, 10))
	}
	if len(v.Pre) > 0 {
		b.WriteByte('-')
		b.WriteString(strings.Join(v.Pre, "."))
	}
	if v.Build != "" {
		b.WriteByte('+')
		b.WriteString(v.Build)
	}
	return b.String()
}

// Compare returns -1, 0 or +1. Missing numeric parts count as 0, a
// pre-release sorts before its release, build metadata is ignored.
func (v Version) Compare(w Version) int {
	n := max(len(v.Nums), len(w.Nums))
	for i := range n {
		if c := cmpInt(v.num(i), w.num(i)); c != 0 {
			return c
		}
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return 1
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		if c := cmpIdent(v.Pre[i], w.Pre[i]); c != 0 {
			return c
		}
	}
	return cmpInt(int64(len(v.Pre)), int64(len(w.Pre)))
}

// Less reports whether v sorts before w.
func (v Version) Less(w Version) bool { return v.Compare(w) < 0 }

// Equal reports whether v and w have the same precedence.
func (v Version) Equal(w Version) bool { return v.Compare(w) == 0 }

// Same compares two version strings by meaning ("v1.2.0" is "1.2.0"); a
// string that is not a version is compared as text, without its "v".
func Same(a, b string) bool {
	va, errA := Parse(a)
	vb, errB := Parse(b)
	if errA != nil || errB != nil {
		return strings.TrimPrefix(a, "v") == strings.TrimPrefix(b, "v")
	}
	return va.Equal(vb)
}

// SameMinor reports whether v and w share major and minor.
func (v Version) SameMinor(w Version) bool {
	return v.Major() == w.Major() && v.Minor() == w.Minor()
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	default:
		return 0
	}
}

// cmpIdent orders pre-release identifiers as semver does: numbers
// numerically and before words, words in ASCII order.
func cmpIdent(a, b string) int {
	an, bn := allDigits(a), allDigits(b)
	switch {
	case an && bn:
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			return cmpInt(int64(len(a)), int64(len(b)))
		}
		return strings.Compare(a, b)
	case an:
		return -1
	case bn:
		return 1
	default:
		return strings.Compare(a, b)
	}
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validIdents(s string) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := range len(id) {
			c := id[i]
			ok := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-'
			if !ok {
				return false
			}
		}
	}
	return true
}
