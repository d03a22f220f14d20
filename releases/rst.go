package releases

import (
	"regexp"
	"strings"
)

var (
	rstDirRe      = regexp.MustCompile(`^\.\.\s+([a-zA-Z][\w:-]*)::\s*(.*)$`)
	rstListRe     = regexp.MustCompile(`^([-*+•]|#\.|\d{1,3}[.)]|\(\d{1,3}\)|[a-z][.)])\s+(.*)$`)
	rstGridRe     = regexp.MustCompile(`^\+[-=+]+\+\s*$`)
	rstSimpleRe   = regexp.MustCompile(`^=+(\s+=+)+\s*$`)
	rstRoleTextRe = regexp.MustCompile("(?::[a-z:]+:)?`([^`<]*?)\\s*(?:<[^>]*>)?`_{0,2}")
	rstDoubleRe   = regexp.MustCompile("``([^`]+)``")
	rstStrongRe   = regexp.MustCompile(`\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*`)
)

// rst reads reStructuredText lines into blocks.
func (b *treeBuilder) rst(lines []string, admon string) {
	r := &rstReader{b: b}
	r.blocks(lines, admon, 0, -1)
}

type rstReader struct {
	b      *treeBuilder
	styles []string // heading adornment styles in order of first use
}

func (r *rstReader) level(style string) int {
	for i, s := range r.styles {
		if s == style {
			return (i + 1) * 10
		}
	}
	r.styles = append(r.styles, style)
	return len(r.styles) * 10
}

func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

func blank(l string) bool { return strings.TrimSpace(l) == "" }

// dedent removes the common indentation of lines.
func dedent(lines []string) []string {
	min := -1
	for _, l := range lines {
		if blank(l) {
			continue
		}
		if n := indentOf(l); min < 0 || n < min {
			min = n
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) >= min && min > 0 {
			out[i] = l[min:]
		} else {
			out[i] = strings.TrimLeft(l, " ")
		}
	}
	return out
}

// indentedBlock returns lines after i that are blank or indented more
// than base, and the index after them.
func indentedBlock(lines []string, i, base int) ([]string, int) {
	j := i
	for j < len(lines) && (blank(lines[j]) || indentOf(lines[j]) > base) {
		j++
	}
	for j > i && blank(lines[j-1]) {
		j--
	}
	return lines[i:j], j
}

func isUnderline(l string) bool { return indentOf(l) == 0 && adornment(l) }

func (r *rstReader) blocks(lines []string, admon string, depth, parent int) {
	last := -1
	literal := false // the last paragraph ended in "::"
	for i := 0; i < len(lines); {
		l := lines[i]
		if blank(l) {
			i++
			continue
		}
		t := strings.TrimSpace(l)
		ind := indentOf(l)
		// Over- and underlined heading.
		if isUnderline(l) && i+2 < len(lines) && !blank(lines[i+1]) && strings.TrimSpace(lines[i+2]) == t {
			r.b.pushHeading(rstPlain(strings.TrimSpace(lines[i+1])), r.level("o"+t[:1]), false)
			i, last, literal = i+3, -1, false
			continue
		}
		// Underlined heading (the underline may be a little short).
		if ind == 0 && i+1 < len(lines) && isUnderline(lines[i+1]) && !isUnderline(l) && !rstGridRe.MatchString(l) &&
			runeLen(strings.TrimSpace(lines[i+1]))*10 >= runeLen(t)*7 && !rstSimpleRe.MatchString(lines[i+1]) {
			r.b.pushHeading(rstPlain(t), r.level(strings.TrimSpace(lines[i+1])[:1]), false)
			i, last, literal = i+2, -1, false
			continue
		}
		// An indented block: literal code after "::", else a block quote.
		if ind > 0 && depth == 0 || ind > 0 && literal {
			body, j := indentedBlock(lines, i, ind-1)
			if literal {
				code := strings.Join(dedent(body), "\n")
				if last >= 0 && r.b.blocks[last].Code == "" {
					r.b.blocks[last].Code = code
				} else {
					last = r.b.add(Block{Kind: BlockCode, Code: code, Admonition: admon, Depth: depth, Parent: parent})
				}
			} else {
				r.blocks(dedent(body), admon, depth, parent)
				last = -1
			}
			i, literal = j, false
			continue
		}
		if m := rstDirRe.FindStringSubmatch(t); m != nil {
			body, j := indentedBlock(lines, i+1, ind)
			body = dedent(body)
			for len(body) > 0 && strings.HasPrefix(strings.TrimSpace(body[0]), ":") {
				body = body[1:]
			}
			name := strings.ToLower(m[1])
			switch name {
			case "code-block", "code", "sourcecode", "prompt":
				code := strings.Join(body, "\n")
				lang := strings.ToLower(strings.TrimSpace(m[2]))
				if last >= 0 && r.b.blocks[last].Code == "" {
					r.b.blocks[last].Code, r.b.blocks[last].Lang = code, lang
				} else if last >= 0 {
					// Code after code belongs to the same paragraph.
					r.b.blocks[last].Code += "\n\n" + code
				} else {
					last = r.b.add(Block{Kind: BlockCode, Code: code, Lang: lang, Admonition: admon, Depth: depth, Parent: parent})
				}
			case "warning", "attention", "caution", "danger", "important", "note", "tip", "hint", "error", "seealso",
				"admonition", "deprecated", "versionchanged", "versionremoved", "versionadded", "topic", "sidebar":
				title := ""
				if name == "admonition" || name == "topic" || name == "sidebar" {
					title = m[2]
				} else if strings.TrimSpace(m[2]) != "" && !strings.HasPrefix(name, "version") && name != "deprecated" {
					body = append([]string{m[2]}, body...)
				}
				r.b.container(name, title, body, func(in []string, a string) { r.blocks(in, a, depth, parent) })
				last = -1
			default:
				last = -1
			}
			i, literal = j, false
			continue
		}
		if strings.HasPrefix(t, "..") && (t == ".." || strings.HasPrefix(t, ".. ")) {
			_, j := indentedBlock(lines, i+1, ind)
			i = j
			continue
		}
		if rstGridRe.MatchString(t) {
			j := i
			for j < len(lines) && (strings.HasPrefix(strings.TrimSpace(lines[j]), "+") || strings.HasPrefix(strings.TrimSpace(lines[j]), "|")) {
				j++
			}
			r.gridTable(lines[i:j], admon, depth, parent)
			i, last, literal = j, -1, false
			continue
		}
		if rstSimpleRe.MatchString(t) {
			j := r.simpleTable(lines, i, admon, depth, parent)
			i, last, literal = j, -1, false
			continue
		}
		if m := rstListRe.FindStringSubmatch(t); m != nil {
			content := ind + len(t) - len(m[2])
			first := []string{m[2]}
			j := i + 1
			for j < len(lines) && !blank(lines[j]) && indentOf(lines[j]) >= content && !rstListRe.MatchString(strings.TrimSpace(lines[j])) {
				first = append(first, strings.TrimSpace(lines[j]))
				j++
			}
			rest, k := indentedBlock(lines, j, ind)
			idx := r.b.add(Block{Kind: BlockItem, Text: strings.Join(first, "\n"), Plain: rstPlain(strings.Join(first, " ")), Admonition: admon, Depth: depth + 1, Ordered: !strings.ContainsAny(m[1][:1], "-*+•"), Parent: parent})
			if strings.HasSuffix(strings.TrimSpace(first[len(first)-1]), "::") {
				body, kk := indentedBlock(lines, j, content-1)
				if len(body) > 0 && !rstListRe.MatchString(strings.TrimSpace(body[0])) {
					r.b.blocks[idx].Code = strings.Join(dedent(body), "\n")
					rest, k = indentedBlock(lines, kk, ind)
				}
			}
			if len(rest) > 0 {
				r.blocks(dedent(rest), admon, depth+1, idx)
			}
			i, last, literal = k, idx, false
			continue
		}
		// Paragraph.
		j := i
		var para []string
		for j < len(lines) && !blank(lines[j]) && (j == i || indentOf(lines[j]) == ind) {
			if j > i && (isUnderline(lines[j]) || j+1 < len(lines) && isUnderline(lines[j+1]) && indentOf(lines[j]) == 0) {
				break
			}
			para = append(para, strings.TrimSpace(lines[j]))
			j++
		}
		if len(para) == 0 {
			para, j = []string{t}, i+1
		}
		txt := strings.Join(para, "\n")
		literal = strings.HasSuffix(txt, "::")
		last = r.b.add(Block{Kind: BlockParagraph, Text: txt, Plain: rstPlain(strings.Join(para, " ")), Admonition: admon, Depth: depth, Parent: parent})
		i = j
	}
}

// gridTable reads "+---+---+" tables. A two-column table is read as
// key and content ("v11.10" | notes with lists and code): the content is
// parsed as RST under the key, row spans ("|   +-----+") giving one key
// several entries. Wider tables give one block per row.
func (r *rstReader) gridTable(lines []string, admon string, depth, parent int) {
	if len(lines) == 0 {
		return
	}
	border := strings.TrimSpace(lines[0])
	var cols []int
	for i, c := range border {
		if c == '+' {
			cols = append(cols, i)
		}
	}
	n := max(len(cols)-1, 1)
	var header []string
	cells := make([][]string, n)
	cell := func(l string, k int) string {
		if len(cols) < 2 {
			return strings.Trim(l, "| ")
		}
		lo, hi := cols[k]+1, cols[k+1]
		if lo >= len(l) {
			return ""
		}
		return strings.TrimRight(l[lo:min(hi, len(l))], " ")
	}
	joined := func(k int) string { return rstPlain(strings.Join(strings.Fields(strings.Join(cells[k], " ")), " ")) }
	empty := func() bool {
		for k := range cells {
			if strings.TrimSpace(strings.Join(cells[k], "")) != "" {
				return false
			}
		}
		return true
	}
	// flush emits the current row; keepKey keeps a spanning first cell.
	flush := func(isHeader, keepKey bool) {
		if empty() {
			return
		}
		switch {
		case isHeader:
			header = nil
			for k := range cells {
				header = append(header, joined(k))
			}
		case n == 2:
			saved := append([]heading(nil), r.b.heads...)
			if key := joined(0); key != "" {
				r.b.pushHeading(key, r.b.pseudoLevel(), true)
			}
			r.blocks(dedent(cells[1]), admon, depth, parent)
			r.b.heads = saved
		default:
			var parts []string
			for k := range cells {
				parts = append(parts, joined(k))
			}
			r.b.add(tableRow(parts, header, admon, depth, parent))
		}
		for k := range cells {
			if !keepKey || k != 0 {
				cells[k] = nil
			}
		}
	}
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		if rstGridRe.MatchString(l) {
			flush(strings.Contains(l, "="), false)
			continue
		}
		// "|    +------+": the last column starts a new entry, the first spans.
		if n == 2 && len(l) > cols[1]+1 && l[cols[1]] == '+' && strings.Trim(strings.TrimSpace(l[cols[1]:]), "+-=") == "" {
			flush(false, true)
			continue
		}
		for k := range n {
			cells[k] = append(cells[k], cell(l, k))
		}
	}
	flush(false, false)
}

// simpleTable reads "=== ===" tables from lines[i]; returns the index after.
func (r *rstReader) simpleTable(lines []string, i int, admon string, depth, parent int) int {
	border := lines[i]
	var spans [][2]int
	in := false
	for k, c := range border {
		if c == '=' && !in {
			spans = append(spans, [2]int{k, len(border)})
			in = true
		} else if c != '=' && in {
			spans[len(spans)-1][1] = k
			in = false
		}
	}
	var rows [][]string
	borders := 1
	headerRows := -1
	j := i + 1
	for ; j < len(lines); j++ {
		l := lines[j]
		if rstSimpleRe.MatchString(strings.TrimSpace(l)) {
			borders++
			if borders == 2 && j+1 < len(lines) && !blank(lines[j+1]) {
				headerRows = len(rows)
				continue
			}
			j++
			break
		}
		if blank(l) {
			continue
		}
		cells := make([]string, len(spans))
		for k, s := range spans {
			lo, hi := s[0], s[1]
			if k == len(spans)-1 {
				hi = len(l)
			}
			if lo < len(l) {
				cells[k] = strings.TrimSpace(l[lo:min(hi, len(l))])
			}
		}
		if cells[0] == "" && len(rows) > 0 {
			for k := range cells {
				rows[len(rows)-1][k] = strings.TrimSpace(rows[len(rows)-1][k] + " " + cells[k])
			}
			continue
		}
		rows = append(rows, cells)
	}
	var header []string
	for k, row := range rows {
		for c := range row {
			row[c] = rstPlain(row[c])
		}
		if k < headerRows {
			header = row
			continue
		}
		r.b.add(tableRow(row, header, admon, depth, parent))
	}
	return j
}

// rstPlain strips inline RST markup, keeping literals in backticks.
func rstPlain(s string) string {
	s = rstDoubleRe.ReplaceAllString(s, "\x00$1\x00")
	s = rstRoleTextRe.ReplaceAllString(s, "$1")
	s = rstStrongRe.ReplaceAllString(s, "$1$2")
	s = strings.ReplaceAll(s, "\x00", "`")
	return strings.Join(strings.Fields(s), " ")
}
