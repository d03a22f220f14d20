package releases

// Block structure helpers: nesting, lead-ins, the text of a block.

import (
	"slices"
	"strings"
)

// descends reports whether block j is nested (at any depth) in item i.
func descends(bs []Block, j, i int) bool {
	for p := bs[j].Parent; p >= 0; p = bs[p].Parent {
		if p == i {
			return true
		}
		if p >= j {
			return false
		}
	}
	return false
}

func sameSection(a, b Block) bool { return slices.Equal(a.Section, b.Section) }

// leadIn returns the class a block opens for the blocks after it.
func leadIn(bs []Block, i int) section {
	b := bs[i]
	if s := leadInSection(b.Plain); s != secNone {
		return s
	}
	// "- Upgrade notes" with sub-items acts like a heading.
	if b.Kind == BlockItem && i+1 < len(bs) && bs[i+1].Parent == i && runeLen(b.Plain) <= 40 && !strings.ContainsAny(b.Plain, ".。,，") {
		return classifyHeading(b.Plain)
	}
	return secNone
}

// introParagraph returns the paragraph ending in a colon that the list
// holding item i follows directly, or -1.
func introParagraph(bs []Block, i int) int {
	if bs[i].Kind != BlockItem || bs[i].Ordered {
		return -1
	}
	for j := i - 1; j >= 0; j-- {
		switch {
		case bs[j].Kind == BlockItem && bs[j].Depth >= bs[i].Depth && sameSection(bs[j], bs[i]):
			continue
		case bs[j].Kind == BlockParagraph && bs[j].Depth == bs[i].Depth-1 && bs[j].Parent == bs[i].Parent && sameSection(bs[j], bs[i]) &&
			(strings.HasSuffix(strings.TrimSpace(bs[j].Plain), ":") || strings.HasSuffix(strings.TrimSpace(bs[j].Plain), "：")):
			return j
		}
		return -1
	}
	return -1
}

// containerItem: an item ending in a colon whose sub-items carry the
// content.
func containerItem(bs []Block, i int) bool {
	b := bs[i]
	t := strings.TrimRight(strings.TrimSpace(b.Plain), "*_ ")
	return b.Kind == BlockItem && i+1 < len(bs) && bs[i+1].Parent == i && runeLen(t) <= 80 &&
		(strings.HasSuffix(t, ":") || strings.HasSuffix(t, "："))
}

// headingClass is the class of the nearest classified heading above b,
// looking at headings[from:] only.
func headingClass(b Block, from int) section {
	for i := len(b.headings) - 1; i >= from; i-- {
		if s := classifyHeading(b.headings[i].text); s != secNone {
			return s
		}
	}
	return secNone
}

func indentText(s string, depth int) string {
	pad := strings.Repeat("  ", max(depth-1, 0))
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	lines[0] = pad + "- " + strings.TrimLeft(lines[0], " ")
	return strings.Join(lines, "\n")
}

// blockText is the block's source text plus its code in a fence.
func blockText(b Block) string {
	text := strings.TrimSpace(b.Text)
	code := strings.TrimSpace(b.Code)
	if code == "" {
		return text
	}
	return strings.TrimSpace(text + "\n```" + b.Lang + "\n" + code + "\n```")
}

func appendNew[T comparable](dst []T, src ...T) []T {
	for _, x := range src {
		if !slices.Contains(dst, x) {
			dst = append(dst, x)
		}
	}
	return dst
}
