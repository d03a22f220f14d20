package upgrade

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// composeDocs reads compose files once each and says where a service's
// key is set as compose reads them: a later -f file overrides an earlier
// one; within a file the service's own key wins, then what its merge keys
// bring (<<: *defaults, first of a list first), then the service it
// extends (same file or extends.file); a service may come from a file of
// a top-level include. An alias (image: *app) is followed to its anchor,
// so the edit lands where the value is written.
type composeDocs struct {
	read func(string) ([]byte, error)
	docs map[string]*yaml.Node
	body map[string][]byte // each file as read, which the nodes' lines are of
}

func newComposeDocs(read func(string) ([]byte, error)) *composeDocs {
	return &composeDocs{read: read, docs: map[string]*yaml.Node{}, body: map[string][]byte{}}
}

// keySite is where the files set one key of one service.
type keySite struct {
	File string
	Node *yaml.Node // the value as written (aliases followed)
	// Via says how the service reaches it ("the anchor &defaults",
	// "extends base in common.yml"), nearest first; empty when the
	// service sets it itself.
	Via []string
}

func (k keySite) via() string {
	if len(k.Via) == 0 {
		return ""
	}
	return " (through " + strings.Join(k.Via, ", ") + ")"
}

// maxComposeDepth bounds include/extends chains (and catches cycles).
const maxComposeDepth = 16

func (c *composeDocs) root(f string) (*yaml.Node, error) {
	if n, ok := c.docs[f]; ok {
		return n, nil
	}
	b, err := c.read(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("read %s: %w", f, err)
	}
	var root *yaml.Node
	if len(doc.Content) > 0 {
		root = deref(doc.Content[0])
	}
	c.docs[f], c.body[f] = root, b
	return root, nil
}

// serviceKey is where files (the -f list, in order) set key of service;
// ok is false when none does.
func (c *composeDocs) serviceKey(files []string, service, key string) (site keySite, ok bool, err error) {
	for _, f := range files {
		s, found, err := c.inFile(f, service, key, 0)
		if err != nil {
			return keySite{}, false, err
		}
		if found {
			site, ok = s, true
		}
	}
	return site, ok, nil
}

func (c *composeDocs) inFile(f, service, key string, depth int) (keySite, bool, error) {
	if depth > maxComposeDepth {
		return keySite{}, false, fmt.Errorf("%s: include or extends nest deeper than %d (a cycle?). Nothing was changed", f, maxComposeDepth)
	}
	root, err := c.root(f)
	if err != nil || root == nil {
		return keySite{}, false, err
	}
	svc, _ := lookupKey(lookupKeyNode(root, "services"), service)
	if svc == nil {
		incs, err := c.includes(f, root)
		if err != nil {
			return keySite{}, false, err
		}
		for _, inc := range incs {
			s, ok, err := c.inFile(inc, service, key, depth+1)
			if err != nil || ok {
				return s, ok, err
			}
		}
		return keySite{}, false, nil
	}
	if n, via := lookupKey(svc, key); n != nil {
		return keySite{File: f, Node: n, Via: via}, true, nil
	}
	ext, _ := lookupKey(svc, "extends")
	if ext == nil {
		return keySite{}, false, nil
	}
	base, file := "", f
	switch ext.Kind {
	case yaml.ScalarNode:
		base = ext.Value
	case yaml.MappingNode:
		if n := lookupKeyNode(ext, "service"); n != nil {
			base = n.Value
		}
		if n := lookupKeyNode(ext, "file"); n != nil {
			if strings.Contains(n.Value, "$") {
				return keySite{}, false, fmt.Errorf("%s: service %s extends a file named with a variable (%s), which upshift does not expand. Nothing was changed. Fix: name the file literally", f, service, n.Value)
			}
			file = relTo(f, n.Value)
		}
	case yaml.DocumentNode, yaml.SequenceNode, yaml.AliasNode:
	}
	if base == "" {
		return keySite{}, false, fmt.Errorf("%s: service %s extends no service. Nothing was changed", f, service)
	}
	s, ok, err := c.inFile(file, base, key, depth+1)
	if ok {
		where := "extends " + base
		if file != f {
			where += " in " + filepath.Base(file)
		}
		s.Via = append(s.Via, where)
	}
	return s, ok, err
}

// includes are the files of f's top-level include entries.
func (c *composeDocs) includes(f string, root *yaml.Node) ([]string, error) {
	inc := lookupKeyNode(root, "include")
	if inc == nil || inc.Kind != yaml.SequenceNode {
		return nil, nil
	}
	var out []string
	for _, e := range inc.Content {
		// An entry is a path, or a mapping whose path is one or a list.
		if e = deref(e); e.Kind == yaml.MappingNode {
			e = lookupKeyNode(e, "path")
		}
		if e == nil {
			continue
		}
		paths := []*yaml.Node{e}
		if e.Kind == yaml.SequenceNode {
			paths = e.Content
		}
		for _, p := range paths {
			if p = deref(p); p.Kind != yaml.ScalarNode {
				continue
			}
			if strings.Contains(p.Value, "$") {
				return nil, fmt.Errorf("%s: include %s is named with a variable, which upshift does not expand. Nothing was changed. Fix: name the file literally", f, p.Value)
			}
			out = append(out, relTo(f, p.Value))
		}
	}
	return out, nil
}

// tree is files and every file they reach through include and extends,
// each once, in reading order: the files an edit of a service's key may
// land in, and so the ones a backup must keep.
func (c *composeDocs) tree(files []string) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(f string, depth int)
	walk = func(f string, depth int) {
		if seen[f] || depth > maxComposeDepth {
			return
		}
		seen[f] = true
		out = append(out, f)
		root, err := c.root(f)
		if err != nil || root == nil {
			return
		}
		incs, _ := c.includes(f, root)
		for _, inc := range incs {
			walk(inc, depth+1)
		}
		svcs := lookupKeyNode(root, "services")
		if svcs == nil || svcs.Kind != yaml.MappingNode {
			return
		}
		for i := 1; i < len(svcs.Content); i += 2 {
			ext, _ := lookupKey(deref(svcs.Content[i]), "extends")
			if ext == nil || ext.Kind != yaml.MappingNode {
				continue
			}
			if n := lookupKeyNode(ext, "file"); n != nil && !strings.Contains(n.Value, "$") {
				walk(relTo(f, n.Value), depth+1)
			}
		}
	}
	for _, f := range files {
		walk(f, 0)
	}
	return out
}

// composeTree is the stack's compose files and every file they include
// or extend.
func (e *Env) composeTree() []string {
	return newComposeDocs(os.ReadFile).tree(e.Project.Files)
}

func relTo(f, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(filepath.Dir(f), p)
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxComposeDepth; i++ {
		n = n.Alias
	}
	return n
}

// lookupKeyNode is lookupKey without the path.
func lookupKeyNode(m *yaml.Node, key string) *yaml.Node {
	n, _ := lookupKey(m, key)
	return n
}

// lookupKey is the value of key in mapping m as YAML merges read it: m's
// own key first, then each merge key's mapping (<<: *a or <<: [*a, *b],
// the first of a list first). via names the anchors it went through.
func lookupKey(m *yaml.Node, key string) (*yaml.Node, []string) {
	return lookupKeyDepth(deref(m), key, 0)
}

func lookupKeyDepth(m *yaml.Node, key string, depth int) (*yaml.Node, []string) {
	if m == nil || m.Kind != yaml.MappingNode || depth > maxComposeDepth {
		return nil, nil
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Value == "<<" && (k.Tag == "!!merge" || k.Tag == "") {
			merges = append(merges, v)
			continue
		}
		if k.Value == key {
			var via []string
			if v.Kind == yaml.AliasNode {
				via = append(via, "the anchor &"+v.Value)
			}
			return deref(v), via
		}
	}
	for _, v := range merges {
		list := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			list = v.Content
		}
		for _, a := range list {
			if n, via := lookupKeyDepth(deref(a), key, depth+1); n != nil {
				if a.Kind == yaml.AliasNode {
					via = append(via, "the anchor &"+a.Value)
				}
				return n, via
			}
		}
	}
	return nil, nil
}

// replaceAt replaces old, at or after the node's column on the node's
// line (as parsed from lines), with value, keeping every other byte.
func replaceAt(lines [][]byte, n *yaml.Node, old, value string) error {
	i, col := n.Line-1, n.Column-1
	if i < 0 || i >= len(lines) || col < 0 || col > len(lines[i]) {
		return fmt.Errorf("%q at line %d is not where YAML says", old, n.Line)
	}
	line := lines[i]
	at := bytes.Index(line[col:], []byte(old))
	if at < 0 || old == "" {
		return fmt.Errorf("%q at line %d spans lines or is written escaped; edit it by hand", old, n.Line)
	}
	at += col
	lines[i] = append(append(append([]byte{}, line[:at]...), value...), line[at+len(old):]...)
	return nil
}

// sharers are the services of files (and what they include) whose key
// resolves to node: the services an edit of node changes.
func (c *composeDocs) sharers(files []string, node *yaml.Node, key string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range c.tree(files) {
		root, err := c.root(f)
		if err != nil || root == nil {
			continue
		}
		svcs := lookupKeyNode(root, "services")
		if svcs == nil || svcs.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(svcs.Content); i += 2 {
			name := svcs.Content[i].Value
			if seen[name] {
				continue
			}
			seen[name] = true
			if s, ok, err := c.serviceKey(files, name, key); err == nil && ok && s.Node == node {
				out = append(out, name)
			}
		}
	}
	return out
}
