package envfile

// Three-way merge of a docker compose file on YAML nodes: the admin's file
// is the document edited, upstream's changes (old release → new release)
// are applied to it path by path. Aliases and merge keys (<<: *shared-env)
// are merged as written, not resolved: a key upstream adds to an anchored
// x-shared-env block reaches every service that merges it, as it does
// upstream. Rendering and verification are in compose3_render.go.

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrComposeConflicts is wrapped by MergeCompose's error when the result
// has conflicts (listed in the result and in the message).
var ErrComposeConflicts = errors.New("the compose file was changed on both sides")

// MergeCompose merges the admin's compose file (ours) from upstream's file
// at the running release (base) to upstream's at the target (theirs). base
// nil means the running release's file is unknown: a two-way merge that
// only adds what theirs has and ours lacks. With conflicts it returns the
// result (Conflicts, Summary; Merged nil) and an error wrapping
// ErrComposeConflicts. Merged re-parses to exactly the tree the merge
// decided, or MergeCompose fails.
func MergeCompose(base, theirs, ours []byte) (ComposeMergeResult, error) {
	return MergeComposeWith(base, theirs, ours, ComposeOptions{})
}

// ComposeOptions are the admin's decisions on conflicts of an earlier
// MergeCompose.
type ComposeOptions struct {
	TakeTheirs []string // conflict paths (ComposeConflict.Path) that take upstream's version; "*" for all
}

// MergeComposeWith is MergeCompose with conflicts decided: each path in
// opts.TakeTheirs takes upstream's version (removed when upstream removed
// it); the others stay conflicts.
func MergeComposeWith(base, theirs, ours []byte, opts ComposeOptions) (ComposeMergeResult, error) {
	// yaml.v3 writes \n: merge on \n, give a \r\n file back as \r\n.
	original, crlf := ours, bytes.Contains(ours, []byte("\r\n"))
	lf := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	}
	base, theirs, ours = lf(base), lf(theirs), lf(ours)
	var docs [3]*yaml.Node
	for i, in := range []struct {
		data []byte
		what string
	}{{base, "upstream's compose file of the running release"}, {theirs, "upstream's compose file of the target release"}, {ours, "your compose file"}} {
		if i == 0 && base == nil {
			continue
		}
		d, err := parseCompose(in.data, in.what)
		if err != nil {
			return ComposeMergeResult{}, err
		}
		docs[i] = d
	}
	m := &composeMerge{twoWay: base == nil, takeTheirs: map[string]bool{}}
	for _, p := range opts.TakeTheirs {
		m.takeTheirs[p] = true
	}
	var broot *yaml.Node
	if docs[0] != nil {
		broot = docs[0].Content[0]
	}
	merged := m.node(nil, broot, docs[1].Content[0], docs[2].Content[0])
	r := ComposeMergeResult{Conflicts: m.conflicts, Summary: m.sum.nonNil(), TwoWay: m.twoWay}
	for _, d := range docs {
		r.secrets = append(r.secrets, yamlSecrets(d)...)
	}
	if len(m.conflicts) > 0 {
		msgs := make([]string, len(m.conflicts))
		for i, c := range m.conflicts {
			msgs[i] = c.Masked().String()
		}
		return r, fmt.Errorf("%w (%d conflicts; nothing was changed):\n%s", ErrComposeConflicts, len(m.conflicts), strings.Join(msgs, "\n"))
	}
	if merged == nil {
		merged = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	out, err := renderCompose(ours, docs[2], merged, m.addedBlocks)
	if err != nil {
		return ComposeMergeResult{}, err
	}
	switch {
	case bytes.Equal(out, ours):
		out = original
	case crlf:
		if withCR := bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n")); verifyCompose(withCR, merged) == nil {
			out = withCR
		}
	}
	r.Merged = out
	return r, nil
}

func parseCompose(data []byte, what string) (*yaml.Node, error) {
	doc, err := parseYAML(data, what)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil { // duplicate keys, unknown aliases
		return nil, fmt.Errorf("%s: %w; docker compose would refuse it too", what, err)
	}
	return doc, nil
}

type composeMerge struct {
	twoWay      bool
	addedBlocks [][]string // services and top-level blocks added, for layout
	takeTheirs  map[string]bool
	conflicts   []ComposeConflict
	sum         ComposeSummary
}

// node merges one path; nil arguments are absent, a nil result removes it.
func (m *composeMerge) node(path []string, b, t, o *yaml.Node) *yaml.Node {
	switch {
	case t == nil && o == nil:
		return nil
	case m.twoWay:
		return m.twoWayNode(path, t, o)
	case sameNode(t, o):
		return o
	case sameNode(o, b):
		m.record(path, b, t)
		return yamlCopy(t)
	case sameNode(t, b):
		if b != nil {
			m.sum.KeptAdmin = append(m.sum.KeptAdmin, joinPath(path))
		}
		return o
	}
	if t != nil && o != nil {
		if out, ok := m.both(path, b, t, o); ok {
			return out
		}
	}
	return m.conflict(path, b, t, o)
}

// both merges a path both sides changed; false when it cannot be merged.
func (m *composeMerge) both(path []string, b, t, o *yaml.Node) (*yaml.Node, bool) {
	key := ""
	if len(path) > 0 {
		key = path[len(path)-1]
	}
	inService := len(path) >= 3 && path[0] == "services"
	switch {
	case inService && keyedListKeys[key] && (isSeq(b) || isSeq(t) || isSeq(o)):
		return m.keyedList(path, b, t, o)
	case o.Kind == yaml.MappingNode && t.Kind == yaml.MappingNode && (b == nil || b.Kind == yaml.MappingNode):
		return m.mapping(path, b, t, o), true
	case inService && len(path) == 3 && key == "image":
		return m.image(path, b, t, o)
	case o.Kind == yaml.SequenceNode && t.Kind == yaml.SequenceNode && (b == nil || b.Kind == yaml.SequenceNode) && !orderedListKeys[key]:
		return m.sequence(b, t, o)
	}
	return nil, false
}

func (m *composeMerge) twoWayNode(path []string, t, o *yaml.Node) *yaml.Node {
	switch {
	case o == nil:
		m.record(path, nil, t)
		return yamlCopy(t)
	case t == nil || sameNode(t, o):
		return o
	case o.Kind == yaml.MappingNode && t.Kind == yaml.MappingNode:
		return m.mapping(path, nil, t, o)
	case len(path) >= 3 && path[0] == "services" && keyedListKeys[path[len(path)-1]]:
		if out, ok := m.keyedList(path, nil, t, o); ok {
			return out
		}
	}
	m.sum.KeptAdmin = append(m.sum.KeptAdmin, joinPath(path))
	return o
}

// record files a path that follows upstream under added, removed or changed.
func (m *composeMerge) record(path []string, b, t *yaml.Node) {
	p := joinPath(path)
	service := len(path) == 2 && path[0] == "services"
	switch {
	case t == nil && service:
		m.sum.ServicesRemoved = append(m.sum.ServicesRemoved, path[1])
	case t == nil:
		m.sum.Removed = append(m.sum.Removed, p)
	case b == nil && service:
		m.sum.ServicesAdded = append(m.sum.ServicesAdded, path[1])
		m.addedBlocks = append(m.addedBlocks, path)
	case b == nil:
		m.sum.Added = append(m.sum.Added, p)
		if len(path) == 1 {
			m.addedBlocks = append(m.addedBlocks, path)
		}
	default:
		m.sum.Changed = append(m.sum.Changed, p)
	}
}

// conflict files a conflict and keeps the admin's version, or takes
// upstream's when the caller decided so (ComposeOptions.TakeTheirs).
func (m *composeMerge) conflict(path []string, b, t, o *yaml.Node) *yaml.Node {
	p := joinPath(path)
	if m.takeTheirs[p] || m.takeTheirs["*"] {
		m.sum.Changed = append(m.sum.Changed, p)
		return yamlCopy(t)
	}
	m.conflicts = append(m.conflicts, ComposeConflict{
		Path: p, Base: nodeText(b), Theirs: nodeText(t), Ours: nodeText(o),
		BaseMissing: b == nil, TheirsMissing: t == nil, OursMissing: o == nil,
	})
	m.sum.Conflicts = append(m.sum.Conflicts, p)
	return o
}

// mapping merges key by key into a copy of the admin's mapping: its keys in
// its order, upstream's new keys after their upstream predecessor.
func (m *composeMerge) mapping(path []string, b, t, o *yaml.Node) *yaml.Node {
	out := *o
	out.Content = nil
	sub := func(k string) []string { return append(append([]string{}, path...), k) }
	for i := 0; i+1 < len(o.Content); i += 2 {
		k := o.Content[i].Value
		if v := m.node(sub(k), mapGet(b, k), mapGet(t, k), o.Content[i+1]); v != nil {
			out.Content = append(out.Content, o.Content[i], v)
		}
	}
	for j := 0; j+1 < len(t.Content); j += 2 {
		k := t.Content[j].Value
		if mapGet(o, k) != nil {
			continue
		}
		v := m.node(sub(k), mapGet(b, k), t.Content[j+1], nil)
		if v == nil {
			continue
		}
		at := insertAt(&out, t, j)
		pair := []*yaml.Node{yamlCopy(t.Content[j]), v}
		out.Content = append(out.Content[:at], append(pair, out.Content[at:]...)...)
	}
	return &out
}

// insertAt is where upstream's key t.Content[j] goes in out: after its
// upstream predecessor, else before its upstream successor, else at the end
// (an anchored block new upstream so stays above the services using it).
func insertAt(out, t *yaml.Node, j int) int {
	for p := j - 2; p >= 0; p -= 2 {
		if i := yamlFind(out, t.Content[p].Value); i >= 0 {
			return i + 2
		}
	}
	for s := j + 2; s+1 < len(t.Content); s += 2 {
		if i := yamlFind(out, t.Content[s].Value); i >= 0 {
			return i
		}
	}
	return len(out.Content)
}

// image merges repository and tag apart: an admin's registry mirror keeps
// upstream's new tag; an image set through a variable stays the admin's
// (the .env holds its version).
func (m *composeMerge) image(path []string, b, t, o *yaml.Node) (*yaml.Node, bool) {
	if o.Kind != yaml.ScalarNode || t.Kind != yaml.ScalarNode || b == nil || b.Kind != yaml.ScalarNode {
		return nil, false
	}
	if strings.Contains(o.Value, "$") {
		m.sum.KeptAdmin = append(m.sum.KeptAdmin, joinPath(path))
		return o, true
	}
	br, bt := splitImage(b.Value)
	tr, tt := splitImage(t.Value)
	or, ot := splitImage(o.Value)
	repo, ok1 := merge3(br, tr, or)
	tag, ok2 := merge3(bt, tt, ot)
	if !ok1 || !ok2 {
		return nil, false
	}
	out := *o
	out.Value = repo + tag
	m.sum.Changed = append(m.sum.Changed, joinPath(path))
	return &out, true
}

// splitImage splits "registry/app:1.2@sha256:…" into the repository and the
// rest (":1.2@sha256:…").
func splitImage(ref string) (repo, tag string) {
	end := len(ref)
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		end = i
	}
	if i := strings.LastIndexByte(ref[:end], ':'); i > strings.LastIndexByte(ref[:end], '/') {
		end = i
	}
	return ref[:end], ref[end:]
}

func merge3(b, t, o string) (string, bool) {
	switch {
	case t == o || o == b:
		return t, true
	case t == b:
		return o, true
	}
	return "", false
}

// orderedListKeys are lists whose order is their meaning (argv): merged
// whole, never as sets.
var orderedListKeys = map[string]bool{"command": true, "entrypoint": true, "test": true}

// keyedListKeys are lists of KEY=value that compose also takes as mappings.
var keyedListKeys = map[string]bool{"environment": true, "labels": true, "args": true, "sysctls": true, "annotations": true}

// sequence merges lists as sets: items upstream added are added (after
// their upstream predecessor), items upstream removed are removed, the
// admin's own kept. Lists with repeated items cannot be merged so.
func (m *composeMerge) sequence(b, t, o *yaml.Node) (*yaml.Node, bool) {
	bs, ok1 := itemSet(b)
	ts, ok2 := itemSet(t)
	os, ok3 := itemSet(o)
	if !ok1 || !ok2 || !ok3 {
		return nil, false
	}
	out := *o
	out.Content = nil
	for _, it := range o.Content {
		c := yamlCanonicalNode(it)
		if bs[c] && !ts[c] {
			continue // removed upstream
		}
		out.Content = append(out.Content, it)
	}
	for j, it := range t.Content {
		c := yamlCanonicalNode(it)
		if bs[c] || os[c] {
			continue
		}
		at := len(out.Content)
		for p := j - 1; p >= 0; p-- {
			if i := seqFind(&out, yamlCanonicalNode(t.Content[p])); i >= 0 {
				at = i + 1
				break
			}
		}
		out.Content = append(out.Content[:at], append([]*yaml.Node{yamlCopy(it)}, out.Content[at:]...)...)
	}
	return &out, true
}

func itemSet(n *yaml.Node) (map[string]bool, bool) {
	set := map[string]bool{}
	if n == nil {
		return set, true
	}
	for _, it := range n.Content {
		c := yamlCanonicalNode(it)
		if set[c] {
			return nil, false
		}
		set[c] = true
	}
	return set, true
}

func seqFind(n *yaml.Node, canon string) int {
	for i, it := range n.Content {
		if yamlCanonicalNode(it) == canon {
			return i
		}
	}
	return -1
}

func isSeq(n *yaml.Node) bool { return n != nil && n.Kind == yaml.SequenceNode }

func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	if i := yamlFind(m, key); i >= 0 {
		return m.Content[i+1]
	}
	return nil
}

func joinPath(path []string) string {
	if len(path) == 0 {
		return "(the whole file)"
	}
	return strings.Join(path, ".")
}

// sameNode compares values as written: kinds, resolved tags, values,
// anchors and alias names; comments and quoting styles aside.
func sameNode(a, b *yaml.Node) bool {
	if a == nil || b == nil {
		return a == b
	}
	return yamlCanonicalNode(a) == yamlCanonicalNode(b)
}

// yamlCanonicalNode encodes a node's structure without comments or style.
func yamlCanonicalNode(n *yaml.Node) string {
	var b strings.Builder
	writeCanonical(&b, n)
	return b.String()
}

func writeCanonical(b *strings.Builder, n *yaml.Node) {
	if n == nil {
		b.WriteString("~absent")
		return
	}
	if n.Anchor != "" {
		fmt.Fprintf(b, "&%q", n.Anchor)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			writeCanonical(b, c)
		}
	case yaml.AliasNode:
		fmt.Fprintf(b, "*%q", n.Value)
	case yaml.ScalarNode:
		fmt.Fprintf(b, "%s%q", n.ShortTag(), n.Value)
	case yaml.MappingNode, yaml.SequenceNode:
		fmt.Fprintf(b, "%s[", n.ShortTag())
		for _, c := range n.Content {
			writeCanonical(b, c)
			b.WriteByte(',')
		}
		b.WriteByte(']')
	}
}

// nodeText is a value for a conflict message: scalars as written, aliases
// as *name, the rest as one-line YAML.
func nodeText(n *yaml.Node) string {
	switch {
	case n == nil:
		return ""
	case n.Kind == yaml.ScalarNode:
		return n.Value
	case n.Kind == yaml.AliasNode:
		return "*" + n.Value
	}
	c := yamlCopy(n)
	flowStyle(c)
	out, err := yaml.Marshal(c)
	if err != nil {
		return yamlCanonicalNode(n)
	}
	return strings.TrimSpace(string(out))
}

func flowStyle(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	for _, c := range n.Content {
		flowStyle(c)
	}
}

// nonNil makes empty lists [] rather than null in JSON.
func (s ComposeSummary) nonNil() ComposeSummary {
	for _, l := range []*[]string{&s.ServicesAdded, &s.ServicesRemoved, &s.Added, &s.Removed, &s.Changed, &s.KeptAdmin, &s.Conflicts} {
		if *l == nil {
			*l = []string{}
		}
	}
	return s
}
