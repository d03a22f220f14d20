package envfile

// TOML: github.com/pelletier/go-toml/v2, the maintained TOML 1.0 library
// for Go. Its document API does not keep comments, so the merge decides on
// values read by toml.Unmarshal and edits the admin's text in place using
// the byte ranges of go-toml's unstable parser: comments, order and layout
// survive. Arrays of tables ([[x]]) are kept as the admin wrote them and
// not merged.

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

type tomlKV struct {
	path             []string // full dotted path
	table            []string // the [table] it sits under
	start, end       int      // key start .. value end
	keyStart, keyEnd int      // the written key (all parts)
	valStart         int
}

type tomlDoc struct {
	src     string
	values  map[string]any
	kvs     []tomlKV
	tables  map[string]int // header path -> offset just past its line
	byPath  map[string]int // dotted path -> index in kvs
	rootEnd int            // where the root section ends (first header line)
}

func parseTOML(data []byte, what string) (*tomlDoc, error) {
	d := &tomlDoc{src: string(data), tables: map[string]int{}, byPath: map[string]int{}, rootEnd: len(data)}
	if err := toml.Unmarshal(data, &d.values); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	opaque := false
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			var path []string
			first := -1
			it := e.Key()
			for it.Next() {
				k := it.Node()
				if first < 0 {
					first = int(k.Raw.Offset)
				}
				path = append(path, string(k.Data))
			}
			if first >= 0 && lineStart(d.src, first) < d.rootEnd {
				d.rootEnd = lineStart(d.src, first)
			}
			table, opaque = path, e.Kind == unstable.ArrayTable
			if !opaque && first >= 0 {
				d.tables[strings.Join(path, ".")] = lineEndIncl(d.src, first)
			}
		case unstable.KeyValue:
			if opaque {
				continue
			}
			kv := tomlKV{table: table, start: -1}
			it := e.Key()
			for it.Next() {
				k := it.Node()
				if kv.start < 0 {
					kv.start, kv.keyStart = int(k.Raw.Offset), int(k.Raw.Offset)
				}
				kv.keyEnd = int(k.Raw.Offset + k.Raw.Length)
				kv.path = append(kv.path, string(k.Data))
			}
			kv.path = append(append([]string{}, table...), kv.path...)
			kv.end = int(e.Raw.Offset + e.Raw.Length)
			eq := strings.IndexByte(d.src[kv.keyEnd:kv.end], '=')
			if kv.start < 0 || eq < 0 {
				continue
			}
			kv.valStart = skipFunc(d.src, kv.keyEnd+eq+1, func(r rune) bool { return r == ' ' || r == '\t' })
			d.byPath[strings.Join(kv.path, ".")] = len(d.kvs)
			d.kvs = append(d.kvs, kv)
		default:
		}
	}
	if err := p.Error(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return d, nil
}

// canonical is a value's comparable encoding (JSON of what toml reads).
func (d *tomlDoc) canonical(path []string) (string, bool) {
	var cur any = d.values
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = m[k]; !ok {
			return "", false
		}
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return fmt.Sprint(cur), true
	}
	return string(b), true
}

func (d *tomlDoc) tree() *tree {
	root := &tree{sub: map[string]*tree{}, leaf: map[string]string{}}
	for _, kv := range d.kvs {
		t := root
		for i, k := range kv.path {
			if i == len(kv.path)-1 {
				if !t.has(k) {
					t.keys = append(t.keys, k)
				}
				t.leaf[k], _ = d.canonical(kv.path)
				break
			}
			if t.sub[k] == nil {
				if _, isLeaf := t.leaf[k]; isLeaf {
					break
				}
				t.keys = append(t.keys, k)
				t.sub[k] = &tree{sub: map[string]*tree{}, leaf: map[string]string{}}
			}
			t = t.sub[k]
		}
	}
	return root
}

func mergeTOML(base, theirs, ours []byte, renames []Rename) (MergeResult, error) {
	var b *tomlDoc
	var err error
	if base != nil {
		if b, err = parseTOML(base, "old template"); err != nil {
			return MergeResult{}, err
		}
	}
	t, err := parseTOML(theirs, "new template")
	if err != nil {
		return MergeResult{}, err
	}
	o, err := parseTOML(ours, "current config")
	if err != nil {
		return MergeResult{}, err
	}
	sp := newStructPlan()
	for _, rn := range renames {
		fi, inO := o.byPath[rn.From]
		_, toInO := o.byPath[rn.To]
		from, to := strings.Split(rn.From, "."), strings.Split(rn.To, ".")
		if len(from) != len(to) || strings.Join(from[:len(from)-1], ".") != strings.Join(to[:len(to)-1], ".") {
			return MergeResult{}, fmt.Errorf("rename %s → %s: structured configs can rename a key within its section only", rn.From, rn.To)
		}
		if inO && !toInO && len(o.kvs[fi].path)-len(o.kvs[fi].table) == 1 {
			sp.renamed[rn.To] = rn.From
		}
	}
	var bt *tree
	if b != nil {
		bt = b.tree()
	}
	sp.decideTree(nil, bt, t.tree(), o.tree(), base == nil)
	r := MergeResult{TwoWay: base == nil, Conflicts: sp.conflicts}
	r.rerender = func(r *MergeResult) error {
		out, err := renderTOML(r, sp, o, t)
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

func renderTOML(r *MergeResult, sp *structPlan, o, t *tomlDoc) ([]byte, error) {
	ed := &editor{f: &File{src: o.src}, nl: lineEnding(o.src)}
	for to, from := range sp.renamed {
		kv := o.kvs[o.byPath[from]]
		ed.add(kv.keyStart, kv.keyEnd, tomlKey(to[strings.LastIndexByte(to, '.')+1:]))
	}
	var appendix strings.Builder
	newTables := map[string]bool{}
	for _, p := range sp.order {
		switch r.structEffective(sp, p) {
		case takeTheirs:
			oi, ok := o.byPath[p]
			if from, renamed := sp.renamed[p]; renamed {
				oi, ok = o.byPath[from]
			}
			ti, tok := t.byPath[p]
			if ok && tok {
				ed.add(o.kvs[oi].valStart, o.kvs[oi].end, t.src[t.kvs[ti].valStart:t.kvs[ti].end])
			}
		case addTheirs:
			if ti, ok := t.byPath[p]; ok {
				tomlAdd(ed, &appendix, newTables, o, t, ti)
				continue
			}
			for ti, kv := range t.kvs { // a whole new table
				if strings.HasPrefix(strings.Join(kv.path, "."), p+".") {
					tomlAdd(ed, &appendix, newTables, o, t, ti)
				}
			}
		case deprecate:
			if oi, ok := o.byPath[p]; ok {
				kv := o.kvs[oi]
				ls := lineStart(o.src, kv.start)
				le := lineEndIncl(o.src, kv.end)
				body := strings.TrimSuffix(o.src[ls:le], "\n")
				trail := o.src[ls+len(body) : le]
				ed.add(ls, le, fmt.Sprintf("# upshift: %s is not in the new template any more; kept here, commented out.%s%s%s", p, ed.nl, commentLines(body), trail))
			}
		case keepOurs, leaveOut:
		}
	}
	if appendix.Len() > 0 {
		text := appendix.String()
		if o.src != "" && !strings.HasSuffix(o.src, "\n") {
			text = ed.nl + text
		}
		ed.add(len(o.src), len(o.src), text)
	}
	out, err := ed.apply()
	if err != nil {
		return nil, err
	}
	if err := verifyTOML(r, sp, o, t, out); err != nil {
		return nil, err
	}
	return out, nil
}

// tomlAdd inserts the template's key ti into the admin's text: after the
// template's previous key when the admin has it, else at the top of its
// table, else in a new [table] at the end.
func tomlAdd(ed *editor, appendix *strings.Builder, newTables map[string]bool, o, t *tomlDoc, ti int) {
	tkv := t.kvs[ti]
	table := strings.Join(tkv.table, ".")
	text := tomlAddText(t, tkv, ed.nl)
	at := -1
	for j := ti - 1; j >= 0; j-- {
		if strings.Join(t.kvs[j].table, ".") != table {
			break
		}
		if oi, ok := o.byPath[strings.Join(t.kvs[j].path, ".")]; ok && strings.Join(o.kvs[oi].table, ".") == table {
			at = lineEndIncl(o.src, o.kvs[oi].end)
			break
		}
	}
	if at < 0 {
		if table == "" {
			at = o.rootEnd
		} else if end, ok := o.tables[table]; ok {
			at = end
		}
	}
	switch {
	case newTables[table]: // a table this merge appends
		appendix.WriteString(text)
	case at >= 0:
		if at == len(o.src) && o.src != "" && !strings.HasSuffix(o.src, "\n") {
			text = ed.nl + text
		}
		ed.add(at, at, text)
	default:
		fmt.Fprintf(appendix, "%s[%s]%s%s", ed.nl, table, ed.nl, text)
		newTables[table] = true
	}
}

// tomlAddText is the template's comment block and key line(s) for kv.
func tomlAddText(t *tomlDoc, kv tomlKV, nl string) string {
	ls := lineStart(t.src, kv.start)
	at := ls
	for at > 0 {
		prev := lineStart(t.src, at-1)
		if !strings.HasPrefix(strings.TrimSpace(t.src[prev:at]), "#") {
			break
		}
		at = prev
	}
	text := t.src[at:lineEndIncl(t.src, kv.end)]
	if !strings.HasSuffix(text, "\n") {
		text += nl
	}
	return text
}

func tomlKey(k string) string {
	bare := k != "" && !strings.ContainsFunc(k, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' && r != '-'
	})
	if bare {
		return k
	}
	b, _ := json.Marshal(k)
	return string(b)
}

// verifyTOML re-reads the merged text and checks every decision holds.
func verifyTOML(r *MergeResult, sp *structPlan, o, t *tomlDoc, out []byte) error {
	m, err := parseTOML(out, "merged config")
	if err != nil {
		return fmt.Errorf("internal error: the merged TOML does not parse (%w); nothing was written. Please report this", err)
	}
	for _, p := range sp.order {
		path := strings.Split(p, ".")
		got, ok := m.canonical(path)
		var want string
		var present bool
		switch r.structEffective(sp, p) {
		case takeTheirs, addTheirs:
			want, present = t.canonical(path)
		case deprecate, leaveOut:
			present = false
		case keepOurs:
			from := path
			if f, renamed := sp.renamed[p]; renamed {
				from = strings.Split(f, ".")
			}
			want, present = o.canonical(from)
		}
		if ok != present || got != want {
			return fmt.Errorf("internal error: the merged TOML would read %s differently from what the merge decided; nothing was written. Please report this", p)
		}
	}
	return nil
}
