package releases

import (
	"slices"
	"strings"
)

// Kind is what sort of thing a warning asks of the admin.
type Kind string

// Warning kinds.
const (
	// KindBreaking: behaviour or configuration changes the admin must know.
	KindBreaking Kind = "breaking"
	// KindManualAction: something to do by hand (SQL, commands, steps).
	KindManualAction Kind = "manual_action"
	// KindRequirement: a minimum version of a dependency.
	KindRequirement Kind = "requirement"
	// KindDeprecation: something deprecated or removed.
	KindDeprecation Kind = "deprecation"
	// KindRequiredStop: a version that must be installed on the way, or an
	// upgrade path the note forbids.
	KindRequiredStop Kind = "required_stop"
)

// Confidence says how sure the extractor is that a warning concerns the
// admin: high for flagged sections and explicit wording, low for a hint
// outside any flagged section ("may concern you").
type Confidence string

// Confidence levels.
const (
	ConfidenceHigh Confidence = "high"
	ConfidenceLow  Confidence = "low"
)

// Rename is an env key renamed (To set) or removed (To empty).
type Rename struct {
	From    string `json:"from"`
	To      string `json:"to,omitempty"`
	Version string `json:"version,omitempty"`
}

// Requirement is a minimum dependency version found in a note.
type Requirement struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// NoteStop is a required stop or a forbidden path a release note states:
// "upgrade to 2.1.2 first" (Version 2.1.2), "upgrading from 1.x directly
// is not supported" (Before is the note's version). The planner shows it;
// profile rules confirm it.
type NoteStop struct {
	// Version is the version to install on the way.
	Version string `json:"version"`
	// Before is the version the stop is needed for (the note's version).
	Before string `json:"before,omitempty"`
	// Reason is the sentence of the note that says so.
	Reason string `json:"reason"`
	// Confirmed is set by the planner when a profile rule makes the same
	// version a required stop of the path.
	Confirmed bool `json:"confirmed,omitempty"`
}

// Warning is one thing from a release note the admin must know before
// upgrading. Text is the original text of the note (list item, paragraph,
// table row, plus any code block that belongs to it); Headline is one line
// (at most 120 characters) that names its subject and stands alone;
// Section is the path of headings above it inside the note.
type Warning struct {
	Version    string        `json:"version"`
	Kind       Kind          `json:"kind"`
	Headline   string        `json:"headline"`
	Section    []string      `json:"section"`
	Text       string        `json:"text"`
	Confidence Confidence    `json:"confidence"`
	Renames    []Rename      `json:"renames,omitempty"`
	Requires   []Requirement `json:"requires,omitempty"`
	Stops      []NoteStop    `json:"stops,omitempty"`
}

// WarningGroup is what the admin acknowledges at once: the warnings of one
// version and one section of its note, or the low-confidence ones of that
// version ("may concern you").
type WarningGroup struct {
	Version string   `json:"version"`
	Section []string `json:"section,omitempty"`
	// Low is set for the group of low-confidence warnings of a version.
	Low      bool      `json:"low,omitempty"`
	Warnings []Warning `json:"warnings"`
}

// Title is the group's one-line name: "2.0.0 · Breaking changes".
func (g WarningGroup) Title() string {
	parts := []string{g.Version}
	if len(g.Section) > 0 {
		parts = append(parts, strings.Join(g.Section, " › "))
	}
	if g.Low {
		parts = append(parts, "may concern you")
	}
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), " · ")
}

// Group groups warnings per version and section, in first-seen order; the
// low-confidence warnings of a version form one group after its others.
func Group(ws []Warning) []WarningGroup {
	var out []WarningGroup
	var low []WarningGroup
	find := func(gs []WarningGroup, w Warning, isLow bool) int {
		for i, g := range gs {
			if g.Version == w.Version && (isLow || slices.Equal(g.Section, w.Section)) {
				return i
			}
		}
		return -1
	}
	for _, w := range ws {
		if w.Confidence == ConfidenceLow {
			if i := find(low, w, true); i >= 0 {
				low[i].Warnings = append(low[i].Warnings, w)
			} else {
				low = append(low, WarningGroup{Version: w.Version, Low: true, Warnings: []Warning{w}})
			}
			continue
		}
		if i := find(out, w, false); i >= 0 {
			out[i].Warnings = append(out[i].Warnings, w)
		} else {
			out = append(out, WarningGroup{Version: w.Version, Section: w.Section, Warnings: []Warning{w}})
		}
	}
	// Each version's low group goes right after that version's last group.
	for _, l := range low {
		at := len(out)
		for i := len(out) - 1; i >= 0; i-- {
			if out[i].Version == l.Version {
				at = i + 1
				break
			}
		}
		out = slices.Insert(out, at, l)
	}
	return out
}
