package envfile

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// render writes the merged file by editing ours in place.
func (r *MergeResult) render() error {
	if r.rerender != nil {
		return r.rerender(r)
	}
	p := r.plan
	ed := newEditor(p.ours)
	var sum Summary
	for to, from := range p.renamed {
		sum.Renamed = append(sum.Renamed, Rename{From: from, To: to})
	}
	sort.Slice(sum.Renamed, func(i, j int) bool { return sum.Renamed[i].To < sum.Renamed[j].To })
	for _, rn := range sum.Renamed {
		ed.rename(rn.From, rn.To, r.effective(rn.To) == takeTheirs, p.theirs)
	}
	anchor := -1
	var top []string
	for _, k := range p.order {
		a := r.effective(k)
		switch p.kinds[k] {
		case "conflict":
			sum.Conflicts = append(sum.Conflicts, k)
		case "added":
			sum.Added = append(sum.Added, k)
		case "changed":
			sum.ChangedDefault = append(sum.ChangedDefault, k)
		case "kept":
			sum.Kept = append(sum.Kept, k)
		case "removed":
			sum.Removed = append(sum.Removed, k)
		case "unchanged":
			sum.Unchanged++
		}
		switch a {
		case takeTheirs:
			if _, renamed := p.renamed[k]; !renamed {
				ed.takeValue(k, p.theirs, k)
			}
		case addTheirs:
			text := addText(p.theirs, k, ed.nl)
			if anchor < 0 {
				top = append(top, text)
			} else {
				ed.insertAfterLine(anchor, text)
			}
			continue
		case keepOurs, deprecate, leaveOut:
		}
		if a != leaveOut {
			if e, err := p.ours.entryFor(p.oursKey(k)); err == nil {
				anchor = e.end
			}
		}
	}
	if len(top) > 0 {
		ed.insertTop(strings.Join(top, ""))
	}
	for _, k := range p.oursOnly {
		switch p.kinds[k] {
		case "deprecated":
			sum.Deprecated = append(sum.Deprecated, k)
			ed.commentOut(k, fmt.Sprintf("# upshift: %s is not in the new template any more; kept here, commented out.", k))
		case "custom":
			sum.Custom = append(sum.Custom, k)
		}
	}
	merged, err := ed.apply()
	if err != nil {
		return err
	}
	if err := r.verify(merged); err != nil {
		return err
	}
	r.Merged, r.Summary = merged, sum.nonNil()
	return nil
}

// nonNil makes empty lists [] rather than null in JSON.
func (s Summary) nonNil() Summary {
	for _, l := range []*[]string{&s.Added, &s.Kept, &s.ChangedDefault, &s.Deprecated, &s.Custom, &s.Removed, &s.Conflicts} {
		if *l == nil {
			*l = []string{}
		}
	}
	if s.Renamed == nil {
		s.Renamed = []Rename{}
	}
	return s
}

// verify re-reads the merged file and checks every key holds what the
// decisions say: nothing silently lost or changed.
func (r *MergeResult) verify(merged []byte) error {
	p := r.plan
	got, err := Parse(merged)
	if err != nil {
		return fmt.Errorf("internal error: the merged .env does not parse (%w); nothing was written. Please report this with the three files (secrets removed)", err)
	}
	want := map[string]value{}
	for _, k := range p.ours.Keys() {
		want[k], _ = valueOf(p.ours, k)
	}
	for to, from := range p.renamed {
		want[to] = want[from]
		delete(want, from)
	}
	for _, k := range p.order {
		switch r.effective(k) {
		case takeTheirs, addTheirs:
			want[k], _ = valueOf(p.theirs, k)
		case keepOurs, deprecate, leaveOut:
		}
	}
	for _, k := range p.oursOnly {
		if r.effective(k) == deprecate {
			delete(want, k)
		}
	}
	delete(want, "")
	for k, w := range want {
		g, ok := valueOf(got, k)
		if !ok || !g.equal(w) {
			return fmt.Errorf("internal error: the merged .env would read %s differently from what the merge decided; nothing was written. Please report this with the three files (secrets removed)", k)
		}
	}
	for _, k := range got.Keys() {
		if _, ok := want[k]; !ok {
			return fmt.Errorf("internal error: the merged .env has an unexpected key %s; nothing was written. Please report this", k)
		}
	}
	return nil
}

// editor collects byte edits on the admin's file and applies them at once.
type editor struct {
	f     *File
	nl    string
	edits []edit
}

type edit struct {
	start, end int
	text       string
	seq        int
}

func newEditor(f *File) *editor {
	return &editor{f: f, nl: lineEnding(f.src)}
}

func (ed *editor) add(start, end int, text string) {
	ed.edits = append(ed.edits, edit{start: start, end: end, text: text, seq: len(ed.edits)})
}

func (ed *editor) apply() ([]byte, error) {
	sort.SliceStable(ed.edits, func(i, j int) bool {
		a, b := ed.edits[i], ed.edits[j]
		if a.start != b.start {
			return a.start < b.start
		}
		return (a.end == a.start) && (b.end != b.start)
	})
	var b strings.Builder
	if ed.f.bom {
		b.Write(utf8BOM)
	}
	src := ed.f.src
	pos := 0
	for _, e := range ed.edits {
		if e.start < pos {
			return nil, errors.New("internal error: overlapping edits in the merged .env; nothing was written. Please report this")
		}
		b.WriteString(src[pos:e.start])
		b.WriteString(e.text)
		pos = e.end
	}
	b.WriteString(src[pos:])
	return []byte(b.String()), nil
}

func lineStart(src string, off int) int {
	return strings.LastIndexByte(src[:off], '\n') + 1
}

// lineEndIncl is the offset just past the newline of the line holding off.
func lineEndIncl(src string, off int) int {
	if i := strings.IndexByte(src[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(src)
}

// alone reports whether e is the only statement on its lines.
func (f *File) alone(e *entry) bool {
	ls := lineStart(f.src, e.start)
	le := lineEndIncl(f.src, e.end)
	for i := range f.entries {
		o := &f.entries[i]
		if o != e && o.start < le && o.end > ls {
			return false
		}
	}
	return true
}

func (ed *editor) rename(from, to string, withTheirs bool, theirs *File) {
	e, err := ed.f.entryFor(from)
	if err != nil {
		return
	}
	ls := lineStart(ed.f.src, e.start)
	ed.add(ls, ls, fmt.Sprintf("# upshift: renamed from %s.%s", from, ed.nl))
	te, terr := theirs.entryFor(to)
	switch {
	case withTheirs && terr == nil && (e.inherited || te.inherited):
		ed.replaceStatement(e, theirs, te)
	case withTheirs && terr == nil:
		ed.add(e.keyStart, e.keyEnd, to)
		ed.add(e.valStart, e.valEnd, theirs.src[te.valStart:te.valEnd])
	default:
		ed.add(e.keyStart, e.keyEnd, to)
	}
	// Earlier declarations of the old name would come back to life: comment them.
	for i := range ed.f.entries {
		o := &ed.f.entries[i]
		if o.key == from && o != e {
			ed.commentEntry(o, fmt.Sprintf("# upshift: earlier %s, renamed to %s below; commented out.", from, to))
		}
	}
}

func (ed *editor) takeValue(oursKey string, theirs *File, key string) {
	e, err := ed.f.entryFor(oursKey)
	if err != nil {
		return
	}
	te, err := theirs.entryFor(key)
	if err != nil {
		return
	}
	if e.inherited || te.inherited {
		ed.replaceStatement(e, theirs, te)
		return
	}
	ed.add(e.valStart, e.valEnd, theirs.src[te.valStart:te.valEnd])
}

// replaceStatement puts the template's whole statement in place of the
// admin's; a bare KEY must end its line to stay bare.
func (ed *editor) replaceStatement(e *entry, theirs *File, te *entry) {
	text := theirs.src[te.start:te.end]
	if te.inherited && (e.end == len(ed.f.src) || ed.f.src[e.end] != '\n') {
		text += ed.nl
	}
	ed.add(e.start, e.end, text)
}

func (ed *editor) commentOut(key, note string) {
	first := true
	for i := range ed.f.entries {
		e := &ed.f.entries[i]
		if e.key != key {
			continue
		}
		n := ""
		if first {
			n = note
			first = false
		}
		ed.commentEntry(e, n)
	}
}

func (ed *editor) commentEntry(e *entry, note string) {
	src := ed.f.src
	if note != "" {
		note += ed.nl
	}
	ls := lineStart(src, e.start)
	if ed.f.alone(e) {
		le := lineEndIncl(src, e.end)
		body := src[ls:le]
		trail := ""
		if strings.HasSuffix(body, "\n") {
			body, trail = body[:len(body)-1], "\n"
		}
		ed.add(ls, le, note+commentLines(body)+trail)
		return
	}
	ed.add(ls, ls, note+commentLines(src[e.start:e.end])+ed.nl)
	ed.add(e.start, e.end, "")
}

func commentLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = "# " + l
	}
	return strings.Join(lines, "\n")
}

func (ed *editor) insertAfterLine(off int, text string) {
	src := ed.f.src
	at := lineEndIncl(src, off)
	if at == len(src) && !strings.HasSuffix(src, "\n") {
		text = ed.nl + text
	}
	ed.add(at, at, text)
}

func (ed *editor) insertTop(text string) {
	src := ed.f.src
	if len(ed.f.entries) == 0 {
		if src != "" && !strings.HasSuffix(src, "\n") {
			text = ed.nl + text
		}
		ed.add(len(src), len(src), text)
		return
	}
	at, _ := ed.f.commentBlock(&ed.f.entries[0])
	ed.add(at, at, strings.TrimLeft(text, "\r\n")+ed.nl)
}

// commentBlock returns where the comment lines directly above e start, and
// whether a blank line precedes them.
func (f *File) commentBlock(e *entry) (int, bool) {
	src := f.src
	at := lineStart(src, e.start)
	for at > 0 {
		prev := lineStart(src, at-1)
		line := strings.TrimFunc(src[prev:at], unicode.IsSpace)
		if line == "" {
			return at, true
		}
		if !strings.HasPrefix(line, "#") || f.inside(prev) {
			return at, false
		}
		at = prev
	}
	return at, false
}

// inside reports whether off lies within a statement (a multi-line value).
func (f *File) inside(off int) bool {
	for i := range f.entries {
		if f.entries[i].start < off && off < f.entries[i].end {
			return true
		}
	}
	return false
}

// addText is the template's lines for key: its comment block and statement.
func addText(theirs *File, key, nl string) string {
	e, err := theirs.entryFor(key)
	if err != nil {
		return ""
	}
	src := theirs.src
	var stmt string
	if theirs.alone(e) {
		stmt = src[lineStart(src, e.start):lineEndIncl(src, e.end)]
	} else {
		stmt = src[e.start:e.end]
	}
	if !strings.HasSuffix(stmt, "\n") {
		stmt += nl
	}
	at, blank := theirs.commentBlock(e)
	text := src[at:lineStart(src, e.start)] + stmt
	if blank {
		text = nl + text
	}
	return text
}
