package envfile

import (
	"encoding/json"
	"fmt"
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
