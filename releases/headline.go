package releases

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// HeadlineMax is the longest headline, in characters.
const HeadlineMax = 120

var (
	leadMarkRe = regexp.MustCompile(`(?i)^(?:[\s⚠️🚨❗‼️*_>\-]|\[!\w+\]|\[(?:breaking|important|warning|attention|removed|deprecated)\])+|^(?:breaking(?: changes?)?|important|attention|warning|caution|heads[- ]up|note|notice|action required|注意|警告|重要)\s*[:：!\-–—]\s*`)
	ccRe       = regexp.MustCompile(`^([a-z]+)(?:\(([^)]*)\))?!?:\s*`)
	prRefRe    = regexp.MustCompile(`(?i)(?:\s+@[\w-]+)+\s*$|\s+by @[\w-]+(?:\s+(?:and|&) @[\w-]+)*(?:\s+in\s+\S+)?|\s+in https?://\S+|\s*\(\[?#\d+\]?(?:\([^)]*\))?\)|\s+\[?#\d+\]?$|\s*\(https?://\S+\)$`)
	leadWordRe = regexp.MustCompile(`(?i)^(?:breaking|important|attention|warning|caution|heads|note|notice|action|注意|警告|重要)`)
	mdEscapeRe = regexp.MustCompile("\\\\([\\\\`*_{}\\[\\]()#+\\-.!<>&|])")
	subjectRe  = regexp.MustCompile("[`/_.()]|[a-z][A-Z]")
)

// makeHeadline gives one line that stands alone: the block's first
// sentence without markers and PR links, prefixed with the heading it sits
// under when that heading names its subject (an endpoint, a setting).
func makeHeadline(b Block) string {
	p := b.Plain
	if !hasLetters(p) {
		p = codeHeadline(b)
	}
	p = cleanLead(p)
	s := leadSentence(p)
	if subj := subjectHeading(b); subj != "" && !strings.Contains(strings.ToLower(s), strings.ToLower(stripInlineMarkup(subj))) {
		if runeLen(subj) <= 60 && (runeLen(s)+runeLen(subj)+2 <= HeadlineMax || len(strings.Fields(s)) < 10) {
			s = subj + ": " + s
		}
	}
	if strings.TrimSpace(s) == "" {
		// Nothing left after the markers: fall back to the raw words.
		s = stripInlineMarkup(b.Plain)
		if strings.TrimSpace(s) == "" {
			s = stripInlineMarkup(firstLine(strings.TrimSpace(b.Text + "\n" + b.Code)))
		}
		if strings.TrimSpace(s) == "" {
			s = "(see the text)"
		}
	}
	return truncateRunes(shorten(s), HeadlineMax)
}

var purposeRe = regexp.MustCompile(`(?i)\s+(?:to support|in order to|so that|which (?:is|are|was|were|means|allows|lets)|, (?:so|which|because)|because|to improve|to prevent|to avoid|to allow|to enable|for better)\b.*$`)

// shorten drops the purpose clause of a headline that is too long, before
// it is cut: the change itself comes first.
func shorten(s string) string {
	if runeLen(s) <= HeadlineMax {
		return s
	}
	if t := purposeRe.ReplaceAllString(s, ""); runeLen(t) >= 40 {
		s = t
	}
	return s
}

func cleanLead(p string) string {
	p = strings.TrimSpace(p)
	for range 3 {
		if r, _ := utf8.DecodeRuneInString(p); unicode.IsLetter(r) && !leadWordRe.MatchString(p) {
			break
		}
		q := strings.TrimSpace(leadMarkRe.ReplaceAllString(p, ""))
		if q == p {
			break
		}
		p = q
	}
	if m := ccRe.FindStringSubmatch(p); m != nil && ccType(m[1]) {
		p = p[len(m[0]):]
		if m[2] != "" && !strings.Contains(strings.ToLower(p), strings.ToLower(m[2])) {
			p = m[2] + ": " + p
		}
	}
	if strings.ContainsAny(p, "@#(") || strings.Contains(p, "http") {
		p = prRefRe.ReplaceAllString(p, "")
	}
	p = strings.ReplaceAll(p, "::", ":")
	if strings.Contains(p, "\\") {
		p = mdEscapeRe.ReplaceAllString(p, "$1")
	}
	p = strings.TrimSpace(p)
	if r := []rune(p); len(r) > 0 && unicode.IsLower(r[0]) && !strings.ContainsAny(strings.Fields(p)[0], "0123456789_./`") {
		p = string(unicode.ToUpper(r[0])) + string(r[1:])
	}
	return p
}

func ccType(t string) bool {
	switch t {
	case "feat", "fix", "chore", "refactor", "perf", "build", "ci", "docs", "style", "test", "revert", "deps", "security":
		return true
	}
	return false
}

// leadSentence is the first sentence, and the next ones while they fit.
func leadSentence(p string) string {
	out, rest := cutSentence(p)
	for rest != "" {
		next, after := cutSentence(rest)
		if runeLen(out)+runeLen(next)+1 > HeadlineMax {
			break
		}
		out, rest = out+" "+next, after
	}
	return out
}

var abbrevRe = regexp.MustCompile(`(?i)(?:e\.g|i\.e|etc|vs|incl|approx|v\d+|\d)$`)

func cutSentence(p string) (string, string) {
	for i, r := range p {
		switch r {
		case '。', '！', '；':
			return strings.TrimSpace(p[:i+len(string(r))]), strings.TrimSpace(p[i+len(string(r)):])
		case '.', '!', '?', ';':
			if i+1 < len(p) && p[i+1] != ' ' {
				continue
			}
			if r == '.' && abbrevRe.MatchString(p[max(0, i-8):i]) {
				continue
			}
			return strings.TrimSpace(p[:i+1]), strings.TrimSpace(p[i+1:])
		}
	}
	return strings.TrimSpace(p), ""
}

// subjectHeading is the heading under the nearest class heading (or the
// deepest when none is classified) that names a thing: an endpoint, a
// setting, a component.
func subjectHeading(b Block) string {
	// Inside an admonition only its own headings name the subject.
	from := 0
	if b.Admonition != "" && b.Admonition != "quote" {
		from = b.admonHeads
	}
	i := len(b.headings) - 1
	if i < from || i < 0 {
		return ""
	}
	h := b.headings[i].text
	if classifyHeading(h) != secNone {
		return ""
	}
	// A version heading names the subject only as a table key ("v3.0"
	// of an upgrade table); in a changelog it is the note itself.
	if _, _, _, ok := headingVersion(h); ok && !b.headings[i].pseudo {
		return ""
	}
	if subjectRe.MatchString(h) {
		return h
	}
	// A plain heading names the subject when a flagged heading is above it
	// ("Breaking changes" › "Search index").
	for k := i - 1; k >= 0; k-- {
		if classifyHeading(b.headings[k].text).flagged() {
			return h
		}
	}
	return ""
}

func truncateRunes(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := n - 1
	for i := cut; i > n/2; i-- {
		if r[i] == ' ' {
			cut = i
			break
		}
	}
	return strings.TrimRight(string(r[:cut]), " ,;:") + "…"
}

// words of a text for near-duplicate tests.
func wordSet(s string) map[string]bool {
	out := map[string]bool{}
	for _, f := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' }) {
		out[f] = true
	}
	return out
}

func similar(a, b string, threshold float64) bool {
	wa, wb := wordSet(a), wordSet(b)
	if len(wa) == 0 || len(wb) == 0 {
		return false
	}
	inter := 0
	for w := range wa {
		if wb[w] {
			inter++
		}
	}
	union := len(wa) + len(wb) - inter
	small := min(len(wa), len(wb))
	return float64(inter)/float64(union) >= threshold || small >= 6 && float64(inter)/float64(small) >= 0.95
}

// mergeInto folds w into a near-duplicate warning of out (same version,
// same words); it returns the index merged into, or -1.
func mergeInto(out []Warning, w Warning) int {
	for i := range out {
		o := &out[i]
		// Parallel items of one list differ in a word or two; the same
		// item in a summary and in the details is a near copy.
		threshold := 0.7
		if slices.Equal(o.Section, w.Section) {
			threshold = 0.9
		}
		if o.Version != w.Version || !similar(o.Text, w.Text, threshold) && !similar(o.Headline, w.Headline, threshold) && !sameRequirement(*o, w) {
			continue
		}
		if len(w.Text) > len(o.Text) && o.Kind == w.Kind {
			o.Text = w.Text
		}
		if w.Kind == KindRequiredStop {
			o.Kind = KindRequiredStop
		}
		o.Renames = appendNew(o.Renames, w.Renames...)
		o.Requires = appendNew(o.Requires, w.Requires...)
		o.Stops = appendNew(o.Stops, w.Stops...)
		if w.Confidence == ConfidenceHigh {
			o.Confidence = ConfidenceHigh
		}
		return i
	}
	return -1
}

// sameRequirement: "requires PHP 8.4" and "removed support for PHP 8.3"
// of one release are one thing to know.
func sameRequirement(a, b Warning) bool {
	if a.Kind != KindRequirement && b.Kind != KindRequirement {
		return false
	}
	names := func(w Warning) []string {
		var out []string
		for _, r := range w.Requires {
			out = append(out, strings.ToLower(r.Name))
		}
		return out
	}
	mentions := func(w Warning, names []string) bool {
		t := strings.ToLower(w.Text)
		for _, n := range names {
			if strings.Contains(t, "support for "+n) || strings.Contains(t, "supports "+n) || slices.Contains(names, n) && len(w.Requires) > 0 && slices.Contains(names, strings.ToLower(w.Requires[0].Name)) {
				return true
			}
		}
		return false
	}
	return mentions(b, names(a)) || mentions(a, names(b))
}

// codeHeadline names a lone code block by the heading above it and its
// first command ("Upgrade to 3.4.0: docker pull simplelogin/app:3.4.0").
func codeHeadline(b Block) string {
	cmd := ""
	for _, l := range strings.Split(b.Code, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "//") || strings.HasPrefix(l, "--") {
			continue
		}
		cmd = strings.TrimPrefix(l, "$ ")
		break
	}
	if cmd == "" {
		cmd = strings.TrimSpace(strings.TrimLeft(firstLine(strings.TrimSpace(b.Code)), "#/- "))
	}
	if n := len(b.headings); n > 0 {
		return b.headings[n-1].text + ": run `" + cmd + "`"
	}
	return "Run `" + cmd + "`"
}
