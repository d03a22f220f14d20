package releases

import (
	"regexp"
	"strings"
)

// BlockKind is what a block of a note is.
type BlockKind string

// Block kinds.
const (
	BlockParagraph BlockKind = "paragraph"
	BlockItem      BlockKind = "item" // a list item (its own text, not its sub-items)
	BlockRow       BlockKind = "row"  // a table row
	BlockCode      BlockKind = "code" // code that follows no paragraph
)

// Block is one unit of a note: a paragraph, a list item, a table row or a
// lone code block, with the section path above it and the admonition
// around it. Text is the source text; Plain the same without markup.
type Block struct {
	Kind    BlockKind `json:"kind"`
	Section []string  `json:"section,omitempty"`
	Text    string    `json:"text"`
	Plain   string    `json:"plain"`
	Code    string    `json:"code,omitempty"`
	Lang    string    `json:"lang,omitempty"`
	// Admonition is the innermost admonition around the block
	// ("warning", "attention", "important", "note", "details", ...).
	Admonition string `json:"admonition,omitempty"`
	// Depth is the list nesting (0 outside lists, 1 for a top-level item).
	Depth   int  `json:"depth,omitempty"`
	Ordered bool `json:"ordered,omitempty"`
	// Parent is the index of the list item this one is nested in, or -1.
	Parent int `json:"parent"`
	// Header holds the header cells of a table row's table.
	Header   []string `json:"header,omitempty"`
	headings []heading
	// admonHeads is how many of headings sit outside the admonition.
	admonHeads int
}

// heading is one level of a block's section path.
type heading struct {
	text   string
	level  int
	pseudo bool // a bold line or admonition title, not a real heading
}

// Doc is a release note read into blocks, whatever its format.
type Doc struct {
	Format string  `json:"format"`
	Blocks []Block `json:"blocks"`
}

// Note formats.
const (
	FormatMarkdown = "markdown"
	FormatRST      = "rst"
)

// ParseNote reads a note body (Markdown with GFM, MyST, MDX, Docusaurus and
// MkDocs admonitions, HTML details; or reStructuredText) into blocks.
// format is FormatMarkdown, FormatRST or "" to guess.
func ParseNote(body, format string) Doc {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\t", "    ")
	_, body = splitFrontMatter(body)
	if format == "" {
		format = SniffFormat(body)
	}
	b := &treeBuilder{}
	if format == FormatRST {
		b.rst(strings.Split(body, "\n"), "")
	} else {
		format = FormatMarkdown
		b.markdownRegions(strings.Split(body, "\n"), "")
	}
	// Blocks under the same headings share one section slice.
	var last []heading
	var sec []string
	for i := range b.blocks {
		bl := &b.blocks[i]
		if i == 0 || !sameHeadings(bl.headings, last) {
			last, sec = bl.headings, nil
			for _, h := range bl.headings {
				sec = append(sec, h.text)
			}
		}
		bl.Section = sec
	}
	return Doc{Format: format, Blocks: b.blocks}
}

var (
	rstDirectiveRe = regexp.MustCompile(`^\s*\.\. [a-zA-Z][\w-]*::`)
	rstRoleRe      = regexp.MustCompile("(?:^|\\s):[a-z]+:`")
)

// SniffFormat guesses whether a note is reStructuredText: directives,
// roles, or heading underlines Markdown does not have (backticks, tildes,
// carets) or that match an over-line.
func SniffFormat(body string) string {
	lines := strings.Split(body, "\n")
	score := 0
	atx := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "#") && strings.HasPrefix(strings.TrimLeft(l, "#"), " ") {
			atx++
		}
		if strings.Contains(l, ".. ") && rstDirectiveRe.MatchString(l) {
			score += 2
		}
		if strings.Contains(l, ":`") && rstRoleRe.MatchString(l) {
			score++
		}
		// Grid tables are RST only.
		if strings.HasPrefix(l, "+-") && rstGridRe.MatchString(strings.TrimSpace(l)) {
			score += 2
		}
		if i > 0 && len(l) >= 3 && adornment(l) && strings.TrimSpace(lines[i-1]) != "" {
			c := strings.TrimSpace(l)[0]
			if !strings.ContainsRune("=-", rune(c)) && runeLen(strings.TrimSpace(l)) >= runeLen(strings.TrimSpace(lines[i-1])) {
				score += 2
			}
		}
	}
	if score >= 2 && score > atx {
		return FormatRST
	}
	return FormatMarkdown
}

func runeLen(s string) int { return len([]rune(s)) }

// treeBuilder accumulates blocks; heads is the current section path.
type treeBuilder struct {
	blocks    []Block
	heads     []heading
	admonBase int // len(heads) when the current admonition opened
	snap      []heading
}

func (b *treeBuilder) pushHeading(text string, level int, pseudo bool) {
	text = strings.TrimSpace(text)
	for len(b.heads) > 0 {
		top := b.heads[len(b.heads)-1]
		if top.level > level || (top.level == level) {
			b.heads = b.heads[:len(b.heads)-1]
			continue
		}
		break
	}
	if text != "" {
		b.heads = append(b.heads, heading{text: text, level: level, pseudo: pseudo})
	}
}

// level of a pseudo-heading: just below the deepest real heading.
func (b *treeBuilder) pseudoLevel() int {
	for i := len(b.heads) - 1; i >= 0; i-- {
		if !b.heads[i].pseudo {
			return b.heads[i].level*10 + 5
		}
	}
	return 5
}

func sameHeadings(a, b []heading) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (b *treeBuilder) add(bl Block) int {
	// Blocks share a copy of the headings until they change.
	if !sameHeadings(b.snap, b.heads) {
		b.snap = append([]heading(nil), b.heads...)
	}
	bl.headings = b.snap
	bl.admonHeads = min(b.admonBase, len(b.heads))
	b.blocks = append(b.blocks, bl)
	return len(b.blocks) - 1
}

// adornment: a line of one repeated punctuation character ("=====",
// "-----", "```“"), as RST headings and Markdown setext headings use.
func adornment(l string) bool {
	t := strings.TrimRight(l, " ")
	if len(t) < 3 || !strings.ContainsRune("=-~^\"'`*+#:.<>_", rune(t[0])) {
		return false
	}
	return strings.Trim(t, t[:1]) == ""
}

// splitFrontMatter takes YAML front matter ("---" lines around "key:
// value" lines, as static-site release pages have) off a body.
func splitFrontMatter(body string) (fields map[string]string, rest string) {
	if !strings.HasPrefix(body, "---\n") {
		return nil, body
	}
	end := strings.Index(body[4:], "\n---")
	if end < 0 {
		return nil, body
	}
	head := body[4 : 4+end]
	fields = map[string]string{}
	for _, l := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "-") {
			fields[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
		} else if !ok && strings.TrimSpace(l) != "" && !strings.HasPrefix(strings.TrimSpace(l), "-") {
			return nil, body
		}
	}
	rest = body[4+end+4:]
	rest = strings.TrimPrefix(rest, "-")
	return fields, strings.TrimLeft(rest, "\n")
}
