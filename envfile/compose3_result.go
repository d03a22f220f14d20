package envfile

import (
	"fmt"
	"strings"
)

// What a compose merge returns: the merged file, the conflicts, the
// summary of paths, and the diff shown to the admin.

// ComposeConflict is a path both sides changed differently (or that one
// side removed while the other changed it). Values are raw, as written
// (aliases as *name, mappings and lists as YAML): mask them before
// printing (Masked).
type ComposeConflict struct {
	File          string // the admin's file name, for the message; "" says "the compose file"
	Path          string // services.api.environment.LOG_LEVEL
	Base          string
	Theirs        string
	Ours          string
	BaseMissing   bool // not in the running release's file
	TheirsMissing bool // the target release removed it
	OursMissing   bool // the admin removed it
}

// String shows both sides and how to resolve the conflict.
func (c ComposeConflict) String() string {
	file := c.File
	if file == "" {
		file = "the compose file"
	}
	show := func(v string, missing bool) string {
		if missing {
			return "(absent)"
		}
		return fmt.Sprintf("%q", v)
	}
	var fix string
	switch {
	case c.TheirsMissing:
		fix = fmt.Sprintf("edit %s so that %s is as in the running release (%s) and upgrade again: it is then removed as upstream did (to keep your version, move it to compose.override.yaml first); or take upstream's value (removed)", file, c.Path, show(c.Base, c.BaseMissing))
	case c.OursMissing:
		fix = fmt.Sprintf("edit %s so that %s is back as in the running release (%s) and upgrade again; or take upstream's value (%s)", file, c.Path, show(c.Base, c.BaseMissing), show(c.Theirs, false))
	default:
		fix = fmt.Sprintf("edit %s so that %s is as in the running release (%s), carry your value over in compose.override.yaml or the .env, and upgrade again; or take upstream's value (%s)", file, c.Path, show(c.Base, c.BaseMissing), show(c.Theirs, false))
	}
	return fmt.Sprintf("%s: changed on both sides: running release %s, target release %s, yours %s. Fix: %s",
		c.Path, show(c.Base, c.BaseMissing), show(c.Theirs, c.TheirsMissing), show(c.Ours, c.OursMissing), fix)
}

// Masked returns the conflict with values masked when the last element of
// its path looks secret, and DSN passwords hidden in any value.
func (c ComposeConflict) Masked() ComposeConflict {
	key := c.Path[strings.LastIndexByte(c.Path, '.')+1:]
	c.Base, c.Theirs, c.Ours = MaskValue(key, c.Base), MaskValue(key, c.Theirs), MaskValue(key, c.Ours)
	return c
}

// ComposeSummary lists what a compose merge does, by path. It holds no
// values.
type ComposeSummary struct {
	ServicesAdded   []string `json:"services_added"`   // new services of the target release
	ServicesRemoved []string `json:"services_removed"` // services the target release dropped (the admin had not changed them)
	Added           []string `json:"added"`            // paths new upstream, added
	Removed         []string `json:"removed"`          // paths upstream removed, removed
	Changed         []string `json:"changed"`          // paths the admin had not changed that follow upstream
	KeptAdmin       []string `json:"kept_admin"`       // paths where the admin's version differs from upstream's and stays
	Conflicts       []string `json:"conflicts"`
}

// String is a short human summary, paths listed, no values.
func (s ComposeSummary) String() string {
	var parts []string
	list := func(label string, paths []string) {
		if len(paths) > 0 {
			parts = append(parts, fmt.Sprintf("%s %d (%s)", label, len(paths), strings.Join(paths, ", ")))
		}
	}
	list("services added", s.ServicesAdded)
	list("services removed", s.ServicesRemoved)
	list("added", s.Added)
	list("removed", s.Removed)
	list("follow upstream", s.Changed)
	list("kept yours", s.KeptAdmin)
	list("conflicts", s.Conflicts)
	if len(parts) == 0 {
		return "compose merge: nothing to change"
	}
	return "compose merge: " + strings.Join(parts, "; ")
}

// ComposeMergeResult is a merged compose file, not yet written anywhere.
type ComposeMergeResult struct {
	Merged    []byte // nil when there are conflicts
	Conflicts []ComposeConflict
	Summary   ComposeSummary
	TwoWay    bool // the running release's file was unknown: nothing of the admin's was overwritten or removed
	secrets   []string
}

// Diff returns a unified diff from old (the admin's file as it is) to the
// merged file, secrets masked; "" when nothing changes.
func (r ComposeMergeResult) Diff(old []byte, name string) string {
	return maskedDiff(maskYAMLLines(old), maskYAMLLines(r.Merged), name, r.secrets)
}

// FileDiff is a unified diff of a config file of any kind (.env, YAML,
// TOML, compose) with secret-looking values masked; "" when equal.
func FileDiff(before, after []byte, name string) string {
	return maskedDiff(maskYAMLLines(before), maskYAMLLines(after), name, nil)
}
