package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
	"go.yaml.in/yaml/v3"
)

// renderCompose writes the merged tree in the admin's layout. yaml.v3
// re-encodes a whole document (blank lines dropped, lists re-indented,
// folded scalars re-flowed), so the text is rebased: the line edits from
// the admin's file re-encoded (E0) to the merged tree encoded (E1) are
// applied to the admin's own text, as a three-way text merge of E0, the
// admin's file and E1. Where that is not possible the plain encoding is
// used. Either way the output must re-parse to the merged tree.
func renderCompose(ours []byte, oursDoc, merged *yaml.Node, added [][]string) ([]byte, error) {
	if sameNode(oursDoc.Content[0], merged) {
		return ours, nil
	}
	indent := yamlIndent(ours)
	fresh, err := parseYAML(ours, "your compose file")
	if err != nil {
		return nil, err
	}
	e0, err := encodeCompose(fresh, indent)
	if err != nil {
		return nil, err
	}
	doc := *oursDoc
	doc.Content = []*yaml.Node{merged}
	e1, err := encodeCompose(&doc, indent)
	if err != nil {
		return nil, err
	}
	if rebased, ok := rebaseText(e0, string(ours), e1); ok && verifyCompose([]byte(rebased), merged) == nil {
		if spaced := spaceOut(rebased, ours, added); spaced != rebased && verifyCompose([]byte(spaced), merged) == nil {
			return []byte(spaced), nil
		}
		return []byte(rebased), nil
	}
	if err := verifyCompose([]byte(e1), merged); err != nil {
		var clash anchorClash
		if errors.As(err, &clash) {
			return nil, fmt.Errorf("your compose file and upstream's both define the anchor &%s for different blocks; nothing was written. Rename yours (and its *%s aliases), then merge again", string(clash), string(clash))
		}
		return nil, fmt.Errorf("internal error: the merged compose file does not read back as merged (%w); nothing was written. Please report this with the three files (secrets removed)", err)
	}
	return []byte(e1), nil
}

// spaceOut puts a blank line above each added service or top-level block
// (above its comment) when the admin's file separates its services so.
func spaceOut(text string, ours []byte, added [][]string) string {
	if !bytes.Contains(ours, []byte("\n\n")) || len(added) == 0 {
		return text
	}
	doc, err := parseYAML([]byte(text), "")
	if err != nil {
		return text
	}
	lines := strings.Split(text, "\n")
	var at []int
	for _, path := range added {
		m := doc.Content[0]
		for _, k := range path[:len(path)-1] {
			m = mapGet(m, k)
		}
		if m == nil {
			continue
		}
		i := yamlFind(m, path[len(path)-1])
		if i < 0 {
			continue
		}
		key := m.Content[i]
		line := key.Line - 1
		if key.HeadComment != "" {
			line -= strings.Count(key.HeadComment, "\n") + 1
		}
		if line > 0 && line < len(lines) && strings.TrimSpace(lines[line-1]) != "" {
			at = append(at, line)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(at)))
	for _, l := range at {
		lines = append(lines[:l], append([]string{""}, lines[l:]...)...)
	}
	return strings.Join(lines, "\n")
}

func encodeCompose(doc *yaml.Node, indent int) (string, error) {
	c := yamlCopy(doc)
	plainMergeKeys(c)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(indent)
	if err := enc.Encode(c); err != nil {
		return "", fmt.Errorf("render the merged compose file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("render the merged compose file: %w", err)
	}
	return b.String(), nil
}

// plainMergeKeys drops the explicit !!merge tag yaml.v3 would write before
// each "<<" key: the plain key resolves to the same merge.
func plainMergeKeys(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Value == "<<" && n.Tag == "!!merge" {
		n.Tag = ""
	}
	for _, c := range n.Content {
		plainMergeKeys(c)
	}
}

// rebaseText applies the line edits base→edited to other (base with other
// layout): where an edit of other's layout touches a merge edit, the merge
// edit wins there.
func rebaseText(base, other, edited string) (string, bool) {
	layout := udiff.Lines(base, other)
	changes := udiff.Lines(base, edited)
	var kept []udiff.Edit
	for _, l := range layout {
		clash := false
		for i, c := range changes {
			blankAtInsert := l.Start == l.End && c.Start == c.End && l.Start == c.Start && strings.TrimSpace(l.New) == ""
			if blankAtInsert { // the admin's blank line at a place upstream's block goes: keep it on both sides of the block
				changes[i].New = l.New + c.New
				break
			}
			if l.Start < c.End && c.Start < l.End || l.Start == c.Start && l.End == c.End {
				clash = true
				break
			}
		}
		if !clash {
			kept = append(kept, l)
		}
	}
	all, ok := udiff.Merge(changes, kept)
	if !ok {
		return "", false
	}
	out, err := udiff.Apply(base, all)
	if err != nil {
		return "", false
	}
	return out, true
}

// verifyCompose re-reads a merged file: it must parse into the same tree
// (structure, tags, values, anchors, aliases), resolve (every alias known,
// merge keys valid) and define each anchor once.
func verifyCompose(out []byte, want *yaml.Node) error {
	doc, err := parseCompose(out, "merged compose file")
	if err != nil {
		return err
	}
	if !sameNode(doc.Content[0], want) {
		return fmt.Errorf("the merged text reads as a different tree")
	}
	seen := map[string]bool{}
	var dup string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Anchor != "" {
			if seen[n.Anchor] {
				dup = n.Anchor
			}
			seen[n.Anchor] = true
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc)
	if dup != "" {
		return anchorClash(dup)
	}
	return nil
}

// anchorClash is an anchor the merged file would define twice.
type anchorClash string

func (a anchorClash) Error() string { return "anchor &" + string(a) + " is defined twice" }

// yamlSecrets lists values of secret-looking keys (KEY: value and
// - KEY=value) anywhere in a compose file, for Redact.
func yamlSecrets(doc *yaml.Node) []string {
	var out []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if v := n.Content[i+1]; v.Kind == yaml.ScalarNode && IsSecretKey(n.Content[i].Value) {
					out = appendSecret(out, v.Value)
				}
			}
		case yaml.SequenceNode:
			for _, it := range n.Content {
				if k, v, ok := strings.Cut(it.Value, "="); it.Kind == yaml.ScalarNode && ok && IsSecretKey(k) {
					out = appendSecret(out, v)
				}
			}
		case yaml.DocumentNode, yaml.ScalarNode, yaml.AliasNode:
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// yamlSecretLine is KEY: value or - KEY=value in a compose file.
var yamlSecretLine = regexp.MustCompile(`^(\s*(?:-\s+)?["']?)([A-Za-z0-9_.\-]+)(["']?\s*(?::\s+|=))(.*?)(\r?)$`)

// maskYAMLLines masks the values of secret-looking keys line by line
// (short ones Redact leaves alone included).
func maskYAMLLines(data []byte) []byte {
	if data == nil {
		return nil
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if m := yamlSecretLine.FindStringSubmatch(l); m != nil && IsSecretKey(m[2]) && strings.Trim(m[4], `'" `) != "" && !strings.HasPrefix(strings.TrimSpace(m[4]), "#") {
			lines[i] = m[1] + m[2] + m[3] + mask + m[5]
		}
	}
	return []byte(strings.Join(lines, "\n"))
}
