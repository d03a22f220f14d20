package envfile

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// keyedList merges environment, labels, build args (- KEY=value lists or
// KEY: value mappings, either side in either form) key by key, and writes
// the result in the admin's form. Values compare as compose reads them:
// PORT: 5001 and - PORT=5001 are the same.
func (m *composeMerge) keyedList(path []string, b, t, o *yaml.Node) (*yaml.Node, bool) {
	orig := map[*yaml.Node]keyedSource{} // normalized value -> the node it came from
	var nb *yaml.Node
	if b != nil {
		var ok bool
		if nb, ok = normalizeKeyed(b, orig); !ok {
			return nil, false
		}
	}
	nt, ok1 := normalizeKeyed(t, orig)
	no, ok2 := normalizeKeyed(o, orig)
	if !ok1 || !ok2 {
		return nil, false
	}
	merged := m.mapping(path, nb, nt, no)
	if o.Kind == yaml.MappingNode {
		out := *o
		out.Content = make([]*yaml.Node, len(merged.Content))
		for i, n := range merged.Content {
			if src, ok := orig[n]; ok && !src.item {
				n = src.node
			}
			out.Content[i] = n
		}
		return &out, true
	}
	out := *o
	out.Content = nil
	for i := 0; i+1 < len(merged.Content); i += 2 {
		k, v := merged.Content[i], merged.Content[i+1]
		if src, ok := orig[v]; ok && src.item {
			out.Content = append(out.Content, src.node)
			continue
		}
		if v.Kind != yaml.ScalarNode || k.Value == "<<" {
			return nil, false // a merge key or alias has no list form
		}
		item := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k.Value}
		if v.ShortTag() != "!!null" {
			item.Value += "=" + v.Value
		}
		out.Content = append(out.Content, item)
	}
	return &out, true
}

// keyedSource is where a normalized value came from: a list item
// ("KEY=value", item true) or a mapping's value node.
type keyedSource struct {
	node *yaml.Node
	item bool
}

// normalizeKeyed turns a keyed list or mapping into a mapping of string
// (or null) scalars; orig maps each new value node back to its source
// (the list item, or the mapping's value node).
func normalizeKeyed(n *yaml.Node, orig map[*yaml.Node]keyedSource) (*yaml.Node, bool) {
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, it := range n.Content {
			if it.Kind != yaml.ScalarNode {
				return nil, false
			}
			k, v, hasValue := strings.Cut(it.Value, "=")
			if mapGet(out, k) != nil || k == "" {
				return nil, false // a key twice: compose's reading is not obvious
			}
			val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
			if !hasValue {
				val.Tag, val.Value = "!!null", ""
			}
			orig[val] = keyedSource{node: it, item: true}
			out.Content = append(out.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, val)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.ScalarNode && v.ShortTag() != "!!null" {
				c := *v
				c.Tag, c.Style = "!!str", 0
				orig[&c] = keyedSource{node: v}
				v = &c
			}
			out.Content = append(out.Content, k, v)
		}
	default:
		return nil, false
	}
	return out, true
}
