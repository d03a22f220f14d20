package releases

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// mdParser reads GitHub-flavoured Markdown; autolinks are left out (the
// costliest part of GFM and no help in finding warnings).
var mdParser = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.TaskList)).Parser()

// markdown walks goldmark's AST of src.
func (b *treeBuilder) markdown(src []byte, admon string) {
	doc := mdParser.Parse(text.NewReader(src))
	w := &mdWalker{b: b, src: src}
	w.blocks(doc, admon, 0, -1)
}

type mdWalker struct {
	b    *treeBuilder
	src  []byte
	last int // block a following code block belongs to, or -1
}

func (w *mdWalker) blocks(parent ast.Node, admon string, depth, parentItem int) {
	w.last = -1
	for n := parent.FirstChild(); n != nil; n = n.NextSibling() {
		switch n := n.(type) {
		case *ast.Heading:
			w.b.pushHeading(w.inline(n), n.Level*10, false)
			w.last = -1
		case *ast.Paragraph, *ast.TextBlock:
			if t, ok := w.boldHeading(n); ok {
				w.b.pushHeading(t, w.b.pseudoLevel(), true)
				w.last = -1
				continue
			}
			raw := w.raw(n)
			if lines := lineList(raw); lines != nil {
				for _, l := range lines {
					w.last = w.b.add(Block{Kind: BlockItem, Text: l, Plain: mdLinkRe.ReplaceAllString(l, "$1"), Admonition: admon, Depth: depth + 1, Parent: parentItem})
				}
				continue
			}
			w.last = w.b.add(Block{Kind: BlockParagraph, Text: raw, Plain: w.inline(n), Admonition: admon, Depth: depth, Parent: parentItem})
		case *ast.List:
			start := len(w.b.blocks)
			w.list(n, admon, depth+1, parentItem)
			// Code right after a list belongs to its last item.
			w.last = -1
			for k := len(w.b.blocks) - 1; k >= start; k-- {
				if w.b.blocks[k].Parent == parentItem {
					w.last = k
					break
				}
			}
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			code, lang := w.code(n)
			if w.last >= 0 && w.b.blocks[w.last].Code == "" {
				w.b.blocks[w.last].Code, w.b.blocks[w.last].Lang = code, lang
				continue
			}
			w.last = w.b.add(Block{Kind: BlockCode, Code: code, Lang: lang, Admonition: admon, Depth: depth, Parent: parentItem})
		case *ast.Blockquote:
			a := admon
			if k := w.alert(n); k != "" {
				a = k
			} else if a == "" {
				a = "quote"
			}
			base := w.b.admonBase
			w.b.admonBase = len(w.b.heads)
			w.blocks(n, a, depth, parentItem)
			w.b.admonBase = base
			w.last = -1
		case *extast.Table:
			w.table(n, admon, depth, parentItem)
			w.last = -1
		case *ast.HTMLBlock:
			var sb strings.Builder
			for i := 0; i < n.Lines().Len(); i++ {
				seg := n.Lines().At(i)
				sb.Write(seg.Value(w.src))
			}
			t := strings.TrimSpace(htmlTagRe.ReplaceAllString(sb.String(), " "))
			if hasLetters(t) {
				w.last = w.b.add(Block{Kind: BlockParagraph, Text: strings.TrimSpace(sb.String()), Plain: strings.Join(strings.Fields(t), " "), Admonition: admon, Depth: depth, Parent: parentItem})
			}
		case *ast.ThematicBreak:
			w.last = -1
		}
	}
}

func (w *mdWalker) list(l *ast.List, admon string, depth, parentItem int) {
	for it := l.FirstChild(); it != nil; it = it.NextSibling() {
		var texts, plains []string
		var nested []ast.Node
		code, lang := "", ""
		for c := it.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Paragraph, *ast.TextBlock:
				texts = append(texts, w.raw(c))
				plains = append(plains, w.inline(c))
			case *ast.FencedCodeBlock, *ast.CodeBlock:
				cd, lg := w.code(c)
				if code != "" {
					code += "\n"
				}
				code += cd
				lang = lg
			case *ast.Heading:
				texts = append(texts, w.inline(c))
				plains = append(plains, w.inline(c))
			default:
				nested = append(nested, c)
			}
		}
		idx := w.b.add(Block{
			Kind: BlockItem, Text: strings.Join(texts, "\n\n"), Plain: strings.Join(plains, " "),
			Code: code, Lang: lang, Admonition: admon, Depth: depth, Ordered: l.IsOrdered(), Parent: parentItem,
		})
		for _, c := range nested {
			switch c := c.(type) {
			case *ast.List:
				w.list(c, admon, depth+1, idx)
			case *ast.Blockquote:
				a := admon
				if k := w.alert(c); k != "" {
					a = k
				}
				w.blocks(c, a, depth, idx)
			case *extast.Table:
				w.table(c, admon, depth, idx)
			}
		}
	}
}

func (w *mdWalker) table(t *extast.Table, admon string, depth, parentItem int) {
	var header []string
	for r := t.FirstChild(); r != nil; r = r.NextSibling() {
		var cells []string
		for c := r.FirstChild(); c != nil; c = c.NextSibling() {
			cells = append(cells, w.inline(c))
		}
		if _, ok := r.(*extast.TableHeader); ok {
			header = cells
			continue
		}
		w.b.add(tableRow(cells, header, admon, depth, parentItem))
	}
}

// tableRow makes a block of a table row: "header: cell; header: cell".
func tableRow(cells, header []string, admon string, depth, parent int) Block {
	var parts []string
	for _, c := range cells {
		if c = strings.TrimSpace(c); c != "" {
			parts = append(parts, c)
		}
	}
	t := strings.Join(parts, " | ")
	return Block{Kind: BlockRow, Text: t, Plain: t, Header: header, Admonition: admon, Depth: depth, Parent: parent}
}

var alertKindRe = regexp.MustCompile(`^\s*\[!([A-Za-z]+)\]`)

// alert returns the kind of a GitHub alert ("> [!WARNING]") and drops the
// marker from its first paragraph.
func (w *mdWalker) alert(q *ast.Blockquote) string {
	p := q.FirstChild()
	if p == nil {
		return ""
	}
	if _, ok := p.(*ast.Paragraph); !ok {
		return ""
	}
	m := alertKindRe.FindStringSubmatch(w.raw(p))
	if m == nil {
		return ""
	}
	// Drop the marker: the paragraph's first line is "[!WARNING]".
	lines := p.Lines()
	if lines.Len() > 0 {
		first := lines.At(0)
		if strings.TrimSpace(string(first.Value(w.src))) == m[0] || strings.HasPrefix(strings.TrimSpace(string(first.Value(w.src))), m[0]) {
			rest := text.NewSegments()
			for i := 1; i < lines.Len(); i++ {
				rest.Append(lines.At(i))
			}
			after := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(first.Value(w.src))), m[0]))
			if after == "" {
				p.SetLines(rest)
				// Inline children of the marker line go too.
				for c := p.FirstChild(); c != nil; {
					next := c.NextSibling()
					if t, ok := c.(*ast.Text); ok && t.Segment.Start < first.Stop {
						p.RemoveChild(p, c)
					} else if c.Kind() != ast.KindText && nodeStart(c) < first.Stop {
						p.RemoveChild(p, c)
					}
					c = next
				}
			}
		}
	}
	return strings.ToLower(m[1])
}

func nodeStart(n ast.Node) int {
	if t, ok := n.(*ast.Text); ok {
		return t.Segment.Start
	}
	for c := n.FirstChild(); c != nil; c = c.FirstChild() {
		if t, ok := c.(*ast.Text); ok {
			return t.Segment.Start
		}
	}
	return 1 << 30
}

// boldHeading: a paragraph that is only a short bold phrase acts as a
// heading ("**Breaking Changes**"); a bold sentence is a paragraph.
func (w *mdWalker) boldHeading(n ast.Node) (string, bool) {
	c := n.FirstChild()
	if c == nil {
		return "", false
	}
	e, ok := c.(*ast.Emphasis)
	if !ok || e.Level < 2 {
		return "", false
	}
	rest := ""
	for s := c.NextSibling(); s != nil; s = s.NextSibling() {
		rest += w.inlineOf(s)
	}
	if strings.Trim(strings.TrimSpace(rest), ":：") != "" {
		return "", false
	}
	t := strings.TrimSpace(w.inline(e))
	t = strings.TrimRight(t, ":：")
	if t == "" || runeLen(t) > 40 || strings.ContainsAny(t, ",，。:：.!！") {
		return "", false
	}
	return t, true
}

func (w *mdWalker) raw(n ast.Node) string {
	lines := n.Lines()
	var parts []string
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		parts = append(parts, strings.TrimRight(string(seg.Value(w.src)), "\n"))
	}
	return strings.TrimSpace(strings.Join(parts, "\n"))
}

func (w *mdWalker) code(n ast.Node) (code, lang string) {
	lines := n.Lines()
	var sb strings.Builder
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		sb.Write(seg.Value(w.src))
	}
	if f, ok := n.(*ast.FencedCodeBlock); ok {
		if fs := strings.Fields(string(f.Language(w.src))); len(fs) > 0 {
			lang = strings.ToLower(fs[0])
		}
	}
	return strings.TrimRight(sb.String(), "\n"), lang
}

// inline renders a node's inline content as plain text (code spans keep
// their backticks: they mark keys and commands).
func (w *mdWalker) inline(n ast.Node) string {
	var sb strings.Builder
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		sb.WriteString(w.inlineOf(c))
	}
	return strings.Join(strings.Fields(sb.String()), " ")
}

func (w *mdWalker) inlineOf(n ast.Node) string {
	switch n := n.(type) {
	case *ast.Text:
		s := string(n.Segment.Value(w.src))
		if n.SoftLineBreak() || n.HardLineBreak() {
			s += " "
		}
		return s
	case *ast.String:
		return string(n.Value)
	case *ast.CodeSpan:
		var sb strings.Builder
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			sb.WriteString(w.inlineOf(c))
		}
		return "`" + sb.String() + "`"
	case *ast.AutoLink:
		return string(n.URL(w.src))
	case *ast.RawHTML:
		return ""
	case *ast.Image:
		return w.inline(n)
	}
	var sb strings.Builder
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		sb.WriteString(w.inlineOf(c))
	}
	return sb.String()
}

var mdLinkRe = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)

// lineList splits a paragraph whose lines are entries of their own (a
// changelog written one change a line, no list markers); nil for prose.
func lineList(raw string) []string {
	lines := strings.Split(raw, "\n")
	if len(lines) < 3 {
		return nil
	}
	dots, punct, lower := 0, 0, 0
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if runeLen(l) > 110 || l == "" {
			return nil
		}
		if r := []rune(l)[0]; unicode.IsLower(r) {
			lower++
		}
		if strings.HasSuffix(l, ".") {
			dots++
		}
		if strings.ContainsAny(l[len(l)-1:], ".,;:!?") {
			punct++
		}
	}
	if (punct == 0 || dots == len(lines)) && lower*2 < len(lines) {
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		return lines
	}
	return nil
}
