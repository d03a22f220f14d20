package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Format is the syntax of a structured config file a profile lists.
type Format string

// Structured formats MergeConfig understands.
const (
	FormatYAML Format = "yaml"
	FormatTOML Format = "toml"
)

// FormatOf guesses a config file's format from its name.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return FormatYAML, nil
	case ".toml":
		return FormatTOML, nil
	}
	return "", fmt.Errorf("%s: unknown config format (want .yaml, .yml or .toml)", path)
}

// MergeConfig merges a structured config with the .env rules, key by key
// (dotted paths such as "server.port"; renames use the same paths): new
// template keys are added, admin values kept, untouched defaults follow the
// new template, conflicts listed (admin value kept), keys gone from the
// template kept with a note. base nil means a two-way merge. Lists are
// values: compared and replaced whole.
func MergeConfig(format Format, base, theirs, ours []byte, renames []Rename) (MergeResult, error) {
	switch format {
	case FormatYAML:
		return mergeYAML(base, theirs, ours, renames)
	case FormatTOML:
		return mergeTOML(base, theirs, ours, renames)
	}
	return MergeResult{}, fmt.Errorf("merge config: unknown format %q (want yaml or toml)", format)
}

// tree is the neutral view of a structured config the merge decides on:
// an ordered mapping whose values are scalars/lists (leaf) or subtrees.
type tree struct {
	keys []string
	sub  map[string]*tree
	leaf map[string]string // canonical encoding of a scalar or list
}

func (t *tree) has(k string) bool {
	if t == nil {
		return false
	}
	_, a := t.sub[k]
	_, b := t.leaf[k]
	return a || b
}

// lookup finds a dotted path.
func (t *tree) lookup(path []string) (leaf string, sub *tree, ok bool) {
	for i, k := range path {
		if t == nil {
			return "", nil, false
		}
		if i == len(path)-1 {
			if s, found := t.sub[k]; found {
				return "", s, true
			}
			l, found := t.leaf[k]
			return l, nil, found
		}
		t = t.sub[k]
	}
	return "", t, t != nil
}

// structPlan records what happens at each dotted path.
type structPlan struct {
	actions   map[string]action
	kinds     map[string]string
	order     []string
	renamed   map[string]string // to -> from
	conflicts []Conflict
}

func newStructPlan() *structPlan {
	return &structPlan{actions: map[string]action{}, kinds: map[string]string{}, renamed: map[string]string{}}
}

func (sp *structPlan) set(path string, a action, kind string) {
	sp.actions[path] = a
	sp.kinds[path] = kind
	sp.order = append(sp.order, path)
}

// decideTree applies the three-way rules to a tree level.
func (sp *structPlan) decideTree(prefix []string, b, t, o *tree, twoWay bool) {
	join := func(k string) string { return strings.Join(append(append([]string{}, prefix...), k), ".") }
	for _, k := range t.keys {
		p := join(k)
		oKey := k
		if from, ok := sp.renamed[p]; ok {
			oKey = from[strings.LastIndexByte(from, '.')+1:]
		}
		tLeaf, tIsLeaf := t.leaf[k]
		inO, inB := o.has(oKey), b.has(oKey) || b.has(k)
		bKey := oKey
		if !b.has(oKey) {
			bKey = k
		}
		if !tIsLeaf && (inO && o.sub[oKey] != nil || !inO && b.has(bKey) && b.sub[bKey] != nil) {
			var bs *tree
			if b != nil {
				bs = b.sub[bKey]
			}
			var os *tree
			if o != nil {
				os = o.sub[oKey]
			}
			sp.decideTree(append(append([]string{}, prefix...), k), bs, t.sub[k], os, twoWay)
			continue
		}
		oLeaf, bLeaf := "", ""
		if o != nil {
			oLeaf = o.leafOrTree(oKey)
		}
		if b != nil {
			bLeaf = b.leafOrTree(bKey)
		}
		if !tIsLeaf {
			tLeaf = t.leafOrTree(k)
		}
		switch {
		case inO && twoWay:
			sp.set(p, keepOurs, keptOrSameS(oLeaf, tLeaf))
		case inO && !inB:
			if oLeaf == tLeaf {
				sp.set(p, keepOurs, "unchanged")
			} else {
				sp.set(p, keepOurs, "conflict")
				sp.conflicts = append(sp.conflicts, Conflict{Key: p, Theirs: tLeaf, Ours: oLeaf, BaseMissing: true})
			}
		case inO && oLeaf == bLeaf:
			if tLeaf == bLeaf {
				sp.set(p, keepOurs, "unchanged")
			} else {
				sp.set(p, takeTheirs, "changed")
			}
		case inO:
			if tLeaf == bLeaf || tLeaf == oLeaf {
				sp.set(p, keepOurs, keptOrSameS(oLeaf, tLeaf))
			} else {
				sp.set(p, keepOurs, "conflict")
				sp.conflicts = append(sp.conflicts, Conflict{Key: p, Base: bLeaf, Theirs: tLeaf, Ours: oLeaf})
			}
		case inB && !twoWay && tLeaf == bLeaf:
			sp.set(p, leaveOut, "removed")
		case inB && !twoWay:
			sp.set(p, leaveOut, "conflict")
			sp.conflicts = append(sp.conflicts, Conflict{Key: p, Base: bLeaf, Theirs: tLeaf, OursMissing: true})
		default:
			sp.set(p, addTheirs, "added")
		}
	}
	if o == nil {
		return
	}
	for _, k := range o.keys {
		p := join(k)
		if t.has(k) || sp.isRenameSource(p) {
			continue
		}
		if !twoWay && b.has(k) {
			sp.set(p, deprecate, "deprecated")
		} else {
			sp.set(p, keepOurs, "custom")
		}
	}
}

func (sp *structPlan) isRenameSource(p string) bool {
	for _, from := range sp.renamed {
		if from == p {
			return true
		}
	}
	return false
}

func (t *tree) leafOrTree(k string) string {
	if l, ok := t.leaf[k]; ok {
		return l
	}
	if s, ok := t.sub[k]; ok {
		return s.canonical()
	}
	return ""
}

func (t *tree) canonical() string {
	var b strings.Builder
	b.WriteString("{")
	for _, k := range t.keys {
		b.WriteString(k + ":" + t.leafOrTree(k) + ",")
	}
	b.WriteString("}")
	return b.String()
}

func keptOrSameS(o, t string) string {
	if o == t {
		return "unchanged"
	}
	return "kept"
}

// effective is the action at path after conflict resolutions.
func (r *MergeResult) structEffective(sp *structPlan, path string) action {
	for _, c := range r.Conflicts {
		if c.Key == path && c.Resolution == TakeTheirs {
			if c.OursMissing {
				return addTheirs
			}
			return takeTheirs
		}
	}
	return sp.actions[path]
}

func (sp *structPlan) summary() Summary {
	var s Summary
	for to, from := range sp.renamed {
		s.Renamed = append(s.Renamed, Rename{From: from, To: to})
	}
	for _, p := range sp.order {
		switch sp.kinds[p] {
		case "conflict":
			s.Conflicts = append(s.Conflicts, p)
		case "added":
			s.Added = append(s.Added, p)
		case "changed":
			s.ChangedDefault = append(s.ChangedDefault, p)
		case "kept":
			s.Kept = append(s.Kept, p)
		case "removed":
			s.Removed = append(s.Removed, p)
		case "deprecated":
			s.Deprecated = append(s.Deprecated, p)
		case "custom":
			s.Custom = append(s.Custom, p)
		case "unchanged":
			s.Unchanged++
		}
	}
	sort.Slice(s.Renamed, func(i, j int) bool { return s.Renamed[i].To < s.Renamed[j].To })
	return s.nonNil()
}

// ---- YAML (go.yaml.in/yaml/v3: the YAML organisation's maintained
// continuation of gopkg.in/yaml.v3; its Node API keeps comments). ----

func parseYAML(data []byte, what string) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if doc.Kind == 0 { // empty file
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: the top level is not a mapping of keys; upshift merges key: value configs only", what)
	}
	return &doc, nil
}

func yamlTree(m *yaml.Node) *tree {
	t := &tree{sub: map[string]*tree{}, leaf: map[string]string{}}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i].Value, m.Content[i+1]
		if _, dup := t.sub[k]; dup {
			continue
		}
		t.keys = append(t.keys, k)
		if v.Kind == yaml.MappingNode {
			t.sub[k] = yamlTree(v)
		} else {
			t.leaf[k] = yamlCanonical(v)
		}
	}
	return t
}

// yamlCanonical encodes a value without comments or style, for comparison.
func yamlCanonical(n *yaml.Node) string {
	var v any
	if err := n.Decode(&v); err != nil {
		return n.Value
	}
	out, err := yaml.Marshal(v)
	if err != nil {
		return n.Value
	}
	return strings.TrimSpace(string(out))
}

func yamlFind(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// yamlAt returns the mapping holding the last element of path.
func yamlAt(root *yaml.Node, path []string) *yaml.Node {
	m := root
	for _, k := range path[:len(path)-1] {
		i := yamlFind(m, k)
		if i < 0 || m.Content[i+1].Kind != yaml.MappingNode {
			return nil
		}
		m = m.Content[i+1]
	}
	return m
}

func mergeYAML(base, theirs, ours []byte, renames []Rename) (MergeResult, error) {
	var bDoc *yaml.Node
	var err error
	if base != nil {
		if bDoc, err = parseYAML(base, "old template"); err != nil {
			return MergeResult{}, err
		}
	}
	tDoc, err := parseYAML(theirs, "new template")
	if err != nil {
		return MergeResult{}, err
	}
	if _, err := parseYAML(ours, "current config"); err != nil {
		return MergeResult{}, err
	}
	sp := newStructPlan()
	oTree := yamlTree(mustYAML(ours).Content[0])
	tTree := yamlTree(tDoc.Content[0])
	var bTree *tree
	if bDoc != nil {
		bTree = yamlTree(bDoc.Content[0])
	}
	for _, rn := range renames {
		from, to := strings.Split(rn.From, "."), strings.Split(rn.To, ".")
		if len(from) != len(to) || strings.Join(from[:len(from)-1], ".") != strings.Join(to[:len(to)-1], ".") {
			return MergeResult{}, fmt.Errorf("rename %s → %s: structured configs can rename a key within its section only", rn.From, rn.To)
		}
		_, _, inO := oTree.lookup(from)
		_, _, toInO := oTree.lookup(to)
		if inO && !toInO {
			sp.renamed[rn.To] = rn.From
		}
	}
	sp.decideTree(nil, bTree, tTree, oTree, base == nil)
	r := MergeResult{TwoWay: base == nil, Conflicts: sp.conflicts}
	r.rerender = func(r *MergeResult) error {
		out, err := renderYAML(r, sp, ours, tDoc)
		if err != nil {
			return err
		}
		r.Merged, r.Summary = out, sp.summary()
		return nil
	}
	if err := r.rerender(&r); err != nil {
		return MergeResult{}, err
	}
	return r, nil
}

func mustYAML(data []byte) *yaml.Node {
	doc, err := parseYAML(data, "")
	if err != nil {
		return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	return doc
}

func renderYAML(r *MergeResult, sp *structPlan, ours []byte, tDoc *yaml.Node) ([]byte, error) {
	doc := mustYAML(ours) // a fresh copy: renders never stack up
	root := doc.Content[0]
	troot := tDoc.Content[0]
	changed := false
	for to, from := range sp.renamed {
		fp := strings.Split(from, ".")
		if m := yamlAt(root, fp); m != nil {
			if i := yamlFind(m, fp[len(fp)-1]); i >= 0 {
				tp := strings.Split(to, ".")
				m.Content[i].Value = tp[len(tp)-1]
				changed = true
			}
		}
	}
	for _, p := range sp.order {
		path := strings.Split(p, ".")
		key := path[len(path)-1]
		m := yamlAt(root, path)
		tm := yamlAt(troot, path)
		if m == nil || tm == nil && sp.actions[p] != deprecate {
			continue
		}
		switch r.structEffective(sp, p) {
		case takeTheirs:
			i, ti := yamlFind(m, key), yamlFind(tm, key)
			if i >= 0 && ti >= 0 {
				m.Content[i+1] = yamlCopy(tm.Content[ti+1])
				changed = true
			}
		case addTheirs:
			ti := yamlFind(tm, key)
			if ti < 0 {
				continue
			}
			at := len(m.Content)
			for j := ti - 2; j >= 0; j -= 2 { // after the template's previous key, when the admin has it
				if oi := yamlFind(m, tm.Content[j].Value); oi >= 0 {
					at = oi + 2
					break
				}
			}
			pair := []*yaml.Node{yamlCopy(tm.Content[ti]), yamlCopy(tm.Content[ti+1])}
			m.Content = append(m.Content[:at], append(pair, m.Content[at:]...)...)
			changed = true
		case deprecate:
			if i := yamlFind(m, key); i >= 0 {
				note := "upshift: not in the new template any more; kept"
				if c := m.Content[i+1].LineComment; c != "" {
					note = strings.TrimPrefix(c, "#") + " — " + note
				}
				m.Content[i+1].LineComment = "# " + strings.TrimSpace(note)
				changed = true
			}
		case keepOurs, leaveOut:
		}
	}
	if !changed {
		return ours, nil
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(yamlIndent(ours))
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("render merged YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render merged YAML: %w", err)
	}
	return b.Bytes(), nil
}

func yamlCopy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = yamlCopy(x)
	}
	return &c
}

// yamlIndent keeps the admin's indentation width (2 when unknown).
func yamlIndent(data []byte) int {
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if n := len(line) - len(trimmed); n > 0 && trimmed != "" && !strings.HasPrefix(trimmed, "#") && !strings.HasPrefix(trimmed, "-") {
			return n
		}
	}
	return 2
}

var errNoRerender = errors.New("resolve: this merge result was not made by Merge or MergeConfig")
