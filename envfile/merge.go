package envfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// Rename says that a key of the old template is called To in the new one;
// the admin's value moves with it.
type Rename struct{ From, To string }

// Resolutions of a Conflict.
const (
	KeepOurs   = "ours"   // the admin's value stays (the default)
	TakeTheirs = "theirs" // the new template's value replaces it
)

// Conflict is a key the admin changed whose template default also changed
// (or that the admin removed while the template changed it, or that both
// added with different values). Values are as written: quotes resolved,
// ${VAR} kept. They are raw: render them through Masked or JSON.
type Conflict struct {
	Key         string
	Base        string
	Theirs      string
	Ours        string
	BaseMissing bool   // the key was not in the old template
	OursMissing bool   // the admin removed the key
	Resolution  string // "" (undecided: the admin's value is kept), KeepOurs or TakeTheirs
}

// Summary lists what a merge does, by key. It holds no values.
type Summary struct {
	Added          []string `json:"added"`           // new in the template, added with its default
	Kept           []string `json:"kept"`            // admin values that differ from the new default, kept
	ChangedDefault []string `json:"changed_default"` // untouched defaults that follow the new template
	Renamed        []Rename `json:"renamed"`         // admin values moved to a new key name
	Deprecated     []string `json:"deprecated"`      // gone from the template: commented out with a note
	Custom         []string `json:"custom"`          // only in the admin's file (never in a template): kept
	Removed        []string `json:"removed"`         // removed by the admin and unchanged in the template: left out
	Conflicts      []string `json:"conflicts"`       // need a decision; see MergeResult.Conflicts
	Unchanged      int      `json:"unchanged"`       // keys identical in the admin's file and the new template
}

// MergeResult is a merged .env, not yet written anywhere.
type MergeResult struct {
	Merged    []byte
	Summary   Summary
	Conflicts []Conflict
	TwoWay    bool // the old template was unknown: admin values were never overwritten
	plan      *mergePlan
	rerender  func(*MergeResult) error // structured configs
}

type action int

const (
	keepOurs action = iota
	takeTheirs
	addTheirs
	deprecate
	leaveOut
)

type mergePlan struct {
	base, theirs, ours *File
	renamed            map[string]string // To -> From, applied to the admin's file
	decision           map[string]action // by key of the new template (or of the admin's file for its own keys)
	order              []string          // keys of the new template, in its order
	oursOnly           []string          // keys only in the admin's file
	kinds              map[string]string // summary bucket for each key
}

// value is a value as written plus how compose reads it.
type value struct {
	lit       string
	inherited bool
	interp    bool
}

func (v value) equal(w value) bool {
	if v.inherited || w.inherited {
		return v.inherited == w.inherited
	}
	return v.lit == w.lit && (v.interp == w.interp || !strings.Contains(v.lit, "$"))
}

func valueOf(f *File, key string) (value, bool) {
	if f == nil {
		return value{}, false
	}
	e, err := f.entryFor(key)
	if err != nil {
		return value{}, false
	}
	return value{lit: e.literal, inherited: e.inherited, interp: e.interpolates()}, true
}

func (v value) String() string {
	if v.inherited {
		return "(from the environment)"
	}
	return v.lit
}

// Merge merges the admin's .env (ours) from the old template (base) to the
// new one (theirs). base nil means the old template is unknown: a two-way
// merge that adds new keys and never overwrites an admin value. Conflicts
// keep the admin's value until Resolve says otherwise.
func Merge(base, theirs, ours []byte, renames []Rename) (MergeResult, error) {
	p := &mergePlan{renamed: map[string]string{}, decision: map[string]action{}, kinds: map[string]string{}}
	var err error
	if base != nil {
		if p.base, err = Parse(base); err != nil {
			return MergeResult{}, fmt.Errorf("old template (.env.example of the installed version): %w; compose would refuse it too", err)
		}
	}
	if p.theirs, err = Parse(theirs); err != nil {
		return MergeResult{}, fmt.Errorf("new template (.env.example of the target version): %w; compose would refuse it too", err)
	}
	if p.ours, err = Parse(ours); err != nil {
		return MergeResult{}, fmt.Errorf("current .env: %w; compose would refuse this file too: fix that line, then merge again", err)
	}
	for i := range p.ours.entries {
		if e := &p.ours.entries[i]; e.key == "" {
			return MergeResult{}, fmt.Errorf("current .env: line %d: %q has no \"=\" and ends the file without a newline, so compose reads it as a variable with an empty name; add =VALUE (or a newline to take it from the environment), then merge again",
				p.ours.lineAt(e.start), p.ours.src[e.start:e.end])
		}
	}
	if err := p.applyRenames(renames); err != nil {
		return MergeResult{}, err
	}
	p.decide()
	r := MergeResult{TwoWay: base == nil, plan: p}
	r.Conflicts = p.conflicts()
	if err := r.render(); err != nil {
		return MergeResult{}, err
	}
	return r, nil
}

func (p *mergePlan) applyRenames(renames []Rename) error {
	for _, r := range renames {
		if r.From == "" || r.To == "" || r.From == r.To || !validKey(r.From) || !validKey(r.To) {
			return fmt.Errorf("rename %q → %q is not a pair of distinct variable names (A=B, letters, digits, _ . -)", r.From, r.To)
		}
		if _, done := p.renamed[r.To]; done {
			continue
		}
		if p.ours.Has(r.From) && !p.ours.Has(r.To) && !p.theirs.Has(r.From) && !p.isRenameSource(r.From) {
			p.renamed[r.To] = r.From
		}
	}
	return nil
}

func (p *mergePlan) isRenameSource(key string) bool {
	for _, from := range p.renamed {
		if from == key {
			return true
		}
	}
	return false
}

func validKey(k string) bool {
	for _, r := range k {
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) && !strings.ContainsRune("_.-[]", r) {
			return false
		}
	}
	return k != ""
}

// oursKey is the admin's key that holds the value of template key k.
func (p *mergePlan) oursKey(k string) string {
	if from, ok := p.renamed[k]; ok {
		return from
	}
	return k
}

func (p *mergePlan) decide() {
	covered := map[string]bool{}
	for _, k := range p.theirs.Keys() {
		if k == "" {
			continue // "VALUE" alone on the last line: not a variable anyone can use
		}
		p.order = append(p.order, k)
		ok := p.oursKey(k)
		covered[ok] = true
		tv, _ := valueOf(p.theirs, k)
		ov, inO := valueOf(p.ours, ok)
		bv, inB := valueOf(p.base, ok)
		if !inB && ok != k {
			bv, inB = valueOf(p.base, k)
		}
		switch {
		case inO && p.base == nil:
			p.set(k, keepOurs, keptOrSame(ov, tv))
		case inO && !inB:
			if ov.equal(tv) {
				p.set(k, keepOurs, "unchanged")
			} else {
				p.set(k, keepOurs, "conflict")
			}
		case inO && ov.equal(bv):
			if tv.equal(bv) {
				p.set(k, keepOurs, "unchanged")
			} else {
				p.set(k, takeTheirs, "changed")
			}
		case inO:
			if tv.equal(bv) || tv.equal(ov) {
				p.set(k, keepOurs, keptOrSame(ov, tv))
			} else {
				p.set(k, keepOurs, "conflict")
			}
		case inB && tv.equal(bv):
			p.set(k, leaveOut, "removed")
		case inB:
			p.set(k, leaveOut, "conflict")
		default:
			p.set(k, addTheirs, "added")
		}
	}
	for _, k := range p.ours.Keys() {
		if covered[k] {
			continue
		}
		p.oursOnly = append(p.oursOnly, k)
		if p.base != nil && p.base.Has(k) {
			p.set(k, deprecate, "deprecated")
		} else {
			p.set(k, keepOurs, "custom")
		}
	}
}

func keptOrSame(ov, tv value) string {
	if ov.equal(tv) {
		return "unchanged"
	}
	return "kept"
}

func (p *mergePlan) set(k string, a action, kind string) {
	p.decision[k] = a
	p.kinds[k] = kind
}

func (p *mergePlan) conflicts() []Conflict {
	var out []Conflict
	for _, k := range p.order {
		if p.kinds[k] != "conflict" {
			continue
		}
		ok := p.oursKey(k)
		c := Conflict{Key: k}
		tv, _ := valueOf(p.theirs, k)
		c.Theirs = tv.String()
		ov, inO := valueOf(p.ours, ok)
		c.Ours, c.OursMissing = ov.String(), !inO
		bv, inB := valueOf(p.base, ok)
		if !inB {
			bv, inB = valueOf(p.base, k)
		}
		c.Base, c.BaseMissing = bv.String(), !inB
		out = append(out, c)
	}
	return out
}

// Resolve decides a conflict (takeTheirs: the new template's value; else
// the admin's) and re-renders Merged and Summary.
func (r *MergeResult) Resolve(key string, takeTheirs bool) error {
	if r.plan == nil && r.rerender == nil {
		return errNoRerender
	}
	for i := range r.Conflicts {
		c := &r.Conflicts[i]
		if c.Key != key {
			continue
		}
		c.Resolution = KeepOurs
		if takeTheirs {
			c.Resolution = TakeTheirs
		}
		return r.render()
	}
	return fmt.Errorf("resolve %s: no conflict on this key (conflicts: %s)", key, strings.Join(r.Summary.Conflicts, ", "))
}

// Unresolved returns the conflicts nobody decided yet.
func (r MergeResult) Unresolved() []Conflict {
	var out []Conflict
	for _, c := range r.Conflicts {
		if c.Resolution == "" {
			out = append(out, c)
		}
	}
	return out
}

// ResolveAll decides every undecided conflict the same way.
func (r *MergeResult) ResolveAll(takeTheirs bool) error {
	for _, c := range r.Unresolved() {
		if err := r.Resolve(c.Key, takeTheirs); err != nil {
			return err
		}
	}
	return nil
}

// effective returns the action for key k after conflict resolutions.
func (r *MergeResult) effective(k string) action {
	a := r.plan.decision[k]
	for _, c := range r.Conflicts {
		if c.Key == k && c.Resolution == TakeTheirs {
			if c.OursMissing {
				return addTheirs
			}
			return takeTheirs
		}
	}
	return a
}

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

// Masked returns the conflict with secret values masked, for printing.
func (c Conflict) Masked() Conflict {
	c.Base = MaskValue(c.Key, c.Base)
	c.Theirs = MaskValue(c.Key, c.Theirs)
	c.Ours = MaskValue(c.Key, c.Ours)
	return c
}

// MarshalJSON writes the conflict with secret values masked: JSON output
// ends up in logs and CI artefacts.
func (c Conflict) MarshalJSON() ([]byte, error) {
	m := c.Masked()
	data, err := json.Marshal(struct {
		Key         string `json:"key"`
		Base        string `json:"base"`
		Theirs      string `json:"theirs"`
		Ours        string `json:"ours"`
		BaseMissing bool   `json:"base_missing,omitempty"`
		OursMissing bool   `json:"ours_missing,omitempty"`
		Resolution  string `json:"resolution,omitempty"`
	}{m.Key, m.Base, m.Theirs, m.Ours, m.BaseMissing, m.OursMissing, m.Resolution})
	if err != nil {
		return nil, fmt.Errorf("conflict %s: %w", c.Key, err)
	}
	return data, nil
}

// String is a short human summary, keys listed, no values.
func (s Summary) String() string {
	var parts []string
	list := func(label string, keys []string) {
		if len(keys) > 0 {
			parts = append(parts, fmt.Sprintf("%s %d (%s)", label, len(keys), strings.Join(keys, ", ")))
		}
	}
	list("added", s.Added)
	list("kept yours", s.Kept)
	list("changed default", s.ChangedDefault)
	renamed := make([]string, len(s.Renamed))
	for i, r := range s.Renamed {
		renamed[i] = r.From + " → " + r.To
	}
	list("renamed", renamed)
	list("deprecated (commented out)", s.Deprecated)
	list("only in your file (kept)", s.Custom)
	list("removed by you", s.Removed)
	list("conflicts", s.Conflicts)
	parts = append(parts, fmt.Sprintf("unchanged %d", s.Unchanged))
	return ".env merge: " + strings.Join(parts, "; ")
}
