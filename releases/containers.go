package releases

import (
	"regexp"
	"strings"
)

var (
	anyFenceRe  = regexp.MustCompile("^\\s*(`{3,}|~{3,})(.*)$")
	mystOpenRe  = regexp.MustCompile("^\\s{0,3}(`{3,}|:{3,})\\s*\\{([a-zA-Z-]+)\\}\\s*(.*)$")
	colonOpenRe = regexp.MustCompile(`^\s{0,3}(:{3,})\s*([a-zA-Z]+)\s*(.*)$`)
	mkdocsRe    = regexp.MustCompile(`^(!!!|\?\?\?\+?)\s+([a-zA-Z-]+)(?:\s+"([^"]*)")?\s*$`)
	tagOpenRe   = regexp.MustCompile(`^\s{0,3}<(Warning|Caution|Danger|Important|Note|Tip|Info|Callout|Admonition|Alert|details)\b([^>]*)>(.*)$`)
	tagAttrRe   = regexp.MustCompile(`(?i)\b(type|title|variant|severity)\s*=\s*["'{]([^"'}]*)["'}]`)
	summaryRe   = regexp.MustCompile(`(?is)<summary[^>]*>(.*?)</summary>`)
	htmlTagRe   = regexp.MustCompile(`<[^>]+>`)
)

// markdownRegions cuts lines into plain Markdown and admonition
// containers (MyST and Docusaurus fences, MkDocs "!!!", MDX components,
// HTML <details>), parses the plain parts with goldmark and the
// containers recursively with their kind.
func (b *treeBuilder) markdownRegions(lines []string, admon string) {
	var plain []string
	flush := func() {
		if len(plain) > 0 {
			b.markdown([]byte(strings.Join(plain, "\n")), admon)
			plain = plain[:0]
		}
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		// Only lines opening with one of these can start a container or
		// a fence; the rest is plain Markdown.
		if t := strings.TrimLeft(l, " "); t == "" || !strings.ContainsRune("`:~!?<", rune(t[0])) {
			plain = append(plain, l)
			continue
		}
		if m := mystOpenRe.FindStringSubmatch(l); m != nil || colonOpenRe.MatchString(l) {
			marker, kind, title := "", "", ""
			if m != nil {
				marker, kind, title = m[1], m[2], m[3]
			} else {
				c := colonOpenRe.FindStringSubmatch(l)
				marker, kind, title = c[1], c[2], c[3]
			}
			j := i + 1
			var inner []string
			for ; j < len(lines); j++ {
				t := strings.TrimSpace(lines[j])
				if strings.HasPrefix(t, marker) && strings.Trim(t, marker[:1]) == "" {
					break
				}
				inner = append(inner, lines[j])
			}
			// MyST options (":class: x") open the body.
			for len(inner) > 0 && strings.HasPrefix(strings.TrimSpace(inner[0]), ":") && !strings.HasPrefix(strings.TrimSpace(inner[0]), ":::") {
				inner = inner[1:]
			}
			flush()
			b.container(kind, title, inner, func(in []string, a string) { b.markdownRegions(in, a) })
			i = j
			continue
		}
		if m := anyFenceRe.FindStringSubmatch(l); m != nil {
			// Ordinary code: pass through untouched, with its closing fence.
			marker := m[1]
			plain = append(plain, l)
			for i++; i < len(lines); i++ {
				plain = append(plain, lines[i])
				t := strings.TrimSpace(lines[i])
				if strings.HasPrefix(t, marker) && strings.Trim(t, marker[:1]) == "" {
					break
				}
			}
			continue
		}
		if m := mkdocsRe.FindStringSubmatch(l); m != nil {
			j := i + 1
			var inner []string
			for ; j < len(lines); j++ {
				if strings.TrimSpace(lines[j]) != "" && !strings.HasPrefix(lines[j], "    ") {
					break
				}
				inner = append(inner, strings.TrimPrefix(lines[j], "    "))
			}
			flush()
			b.container(m[2], m[3], inner, func(in []string, a string) { b.markdownRegions(in, a) })
			i = j - 1
			continue
		}
		if m := tagOpenRe.FindStringSubmatch(l); m != nil {
			tag, attrs := m[1], m[2]
			depth := 0
			var inner []string
			j := i
			rest := m[3]
			for ; j < len(lines); j++ {
				cur := lines[j]
				if j == i {
					cur = rest
				}
				depth += strings.Count(cur, "<"+tag)
				if j == i {
					depth++
				}
				closing := "</" + tag + ">"
				if k := strings.Index(cur, closing); k >= 0 && depth-strings.Count(cur, closing) <= 0 {
					inner = append(inner, cur[:k])
					break
				}
				depth -= strings.Count(cur, closing)
				inner = append(inner, cur)
			}
			kind, title := strings.ToLower(tag), ""
			for _, a := range tagAttrRe.FindAllStringSubmatch(attrs, -1) {
				if strings.EqualFold(a[1], "title") {
					title = a[2]
				} else {
					kind = strings.ToLower(a[2])
				}
			}
			if tag == "details" {
				joined := strings.Join(inner, "\n")
				if s := summaryRe.FindStringSubmatch(joined); s != nil {
					title = strings.TrimSpace(htmlTagRe.ReplaceAllString(s[1], ""))
					joined = strings.Replace(joined, s[0], "", 1)
				}
				inner = strings.Split(joined, "\n")
			}
			flush()
			b.container(kind, title, inner, func(in []string, a string) { b.markdownRegions(in, a) })
			i = j
			continue
		}
		plain = append(plain, l)
	}
	flush()
}

// container parses the inside of an admonition under its title.
func (b *treeBuilder) container(kind, title string, inner []string, parse func([]string, string)) {
	saved, savedBase := append([]heading(nil), b.heads...), b.admonBase
	b.admonBase = len(b.heads)
	kind = strings.ToLower(kind)
	title = strings.TrimSpace(strings.Trim(strings.TrimSpace(title), `"'`))
	if title != "" {
		b.pushHeading(title, b.pseudoLevel(), true)
	}
	parse(inner, kind)
	b.heads, b.admonBase = saved, savedBase
}
