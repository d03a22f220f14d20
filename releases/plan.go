package releases

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/releases/version"
)

// DBFacts is what is known about the running database server. Empty
// fields mean unknown.
type DBFacts struct {
	Engine        string // postgresql, sqlite
	ServerVersion string // "16.4", "PostgreSQL 15.8 on x86_64-pc-linux-gnu, ..."
}

// Hop is one upgrade the engine performs: to a required stop or to the
// target.
type Hop struct {
	Version      string `json:"version"`
	RequiredStop bool   `json:"required_stop"`
	// Reason says why this hop exists (the stop's reason, or "target").
	Reason   string    `json:"reason,omitempty"`
	Warnings []Warning `json:"warnings"`
	// Notes are the notes of every version folded into this hop: those
	// after the previous hop up to and including this one.
	Notes []Note `json:"notes,omitempty"`
	// ManualActions come from the profile and must be acknowledged.
	ManualActions []string `json:"manual_actions,omitempty"`
	// Renames are env key renames to apply on this hop (profile and notes).
	Renames []Rename `json:"renames,omitempty"`
}

// Path is the plan from the running version to the target.
type Path struct {
	From     string   `json:"from"`
	To       string   `json:"to"`
	Hops     []Hop    `json:"hops"`
	Blocked  bool     `json:"blocked"`
	Blockers []string `json:"blockers"`
	// Skipped lists notes left out of planning, each "version: why"
	// (not a version, a pre-release, a duplicate).
	Skipped []string `json:"skipped,omitempty"`
	// NoteStops are required stops the release notes on the path state
	// ("upgrade to 2.1.2 first"), between From and To. Confirmed ones are
	// stops of the profile too; the others are suggestions to check.
	NoteStops []NoteStop `json:"note_stops,omitempty"`
	// DBNeeds are the minimum database versions of the profile's rules
	// that the running server does not meet, each also in Blockers; the
	// engine may plan them as a DBHop instead.
	DBNeeds []DBNeed `json:"db_needs,omitempty"`
	// DBHop is the database server upgrade planned as a hop, before the
	// app hop DBHop.Before.
	DBHop *DBHop `json:"db_hop,omitempty"`
}

// DBNeed is a min_db rule the running server does not meet.
type DBNeed struct {
	Hop     string `json:"hop"`     // the app hop that needs it
	Engine  string `json:"engine"`  // postgresql
	Version string `json:"version"` // the minimum ("16")
	Blocker string `json:"blocker"` // its text in Path.Blockers
}

// DBHop upgrades the database server to a new major version as a hop of
// its own (dump, restore into the new major, switch the compose file).
type DBHop struct {
	Before    string `json:"before"` // the first app hop that needs it
	Engine    string `json:"engine"`
	From      string `json:"from"` // the running server's version
	FromMajor int    `json:"from_major"`
	ToMajor   int    `json:"to_major"`
	Image     string `json:"image"`
}

// Explain says what the hop does, for people.
func (h *DBHop) Explain() string {
	return fmt.Sprintf("%s needs a newer server: with the app stopped, every database and the roles are dumped from %s %d and restored into %s %d (%s) on a new volume (or, for data kept in a directory of the host, a new directory next to it), every table compared, then the compose file's database service is pointed at the new image and volume. The old volume or directory is kept untouched: a rollback switches back to it.", h.Before, engineTitle(engineName(h.Engine)), h.FromMajor, engineTitle(engineName(h.Engine)), h.ToMajor, h.Image)
}

// Title is the hop's name for people: "PostgreSQL 15 → 17".
func (h *DBHop) Title() string {
	return fmt.Sprintf("%s %d → %d", engineTitle(engineName(h.Engine)), h.FromMajor, h.ToMajor)
}

// Latest is the target that means "the newest released version".
const Latest = "latest"

type parsedNote struct {
	v Version
	n Note
}

// PlanPath plans the upgrade from → to for an app described by p, using
// the release notes to know which versions exist. to may be "latest".
// Hops are the required stops (profile rules, latest patch preferred where
// the rule says so) plus the target; the warnings of skipped versions are
// folded into the next hop. Blocked ranges and minimum DB versions make the
// path Blocked with a reason; an unknown DB version only warns.
func PlanPath(p *profile.Profile, notes []Note, from, to string, db DBFacts) (Path, error) {
	if p == nil {
		return Path{}, errors.New("plan: no profile; pick one with --profile NAME|FILE")
	}
	path := Path{From: from, To: to, Blockers: []string{}, Hops: []Hop{}}
	sorted, aside := SortNotes(notes)
	for _, a := range aside {
		path.Skipped = append(path.Skipped, a.Version+": "+a.Reason)
	}
	fromV, err := version.Parse(from)
	if err != nil {
		return path, fmt.Errorf("plan: the running version %q is unknown: %w. Detect it first, or pass the version", from, err)
	}
	var all []parsedNote
	for _, n := range sorted {
		v, _ := version.Parse(n.Version) // SortNotes kept only parseable ones
		all = append(all, parsedNote{v, n})
	}
	toV, err := resolveTarget(all, fromV, to)
	if err != nil {
		return path, err
	}
	path.To = toV.Original
	if toV.Compare(fromV) <= 0 {
		return path, fmt.Errorf("plan: the target %s is not newer than the running version %s; upshift only upgrades (restore a backup to go back)", toV.Original, from)
	}
	// Known released versions: pre-releases are ignored unless targeted.
	var known []parsedNote
	for _, pn := range all {
		if pn.v.IsPrerelease() && !pn.v.Equal(toV) {
			if pn.v.Compare(fromV) > 0 && pn.v.Compare(toV) < 0 {
				path.Skipped = append(path.Skipped, pn.n.Version+": pre-release, not a stop")
			}
			continue
		}
		known = append(known, pn)
	}
	stops := requiredStops(p, known, fromV, toV)
	prev := fromV
	for _, st := range stops {
		path.Hops = append(path.Hops, buildHop(p, known, prev, st.v, true, st.reason))
		prev = st.v
	}
	path.Hops = append(path.Hops, buildHop(p, known, prev, toV, false, "target"))
	checkBlocked(p, &path, fromV)
	checkMinDB(p, &path, db)
	path.NoteStops = noteStops(path.Hops, fromV, toV)
	path.Blocked = len(path.Blockers) > 0
	return path, nil
}

func resolveTarget(all []parsedNote, fromV Version, to string) (Version, error) {
	if strings.EqualFold(strings.TrimSpace(to), Latest) || strings.TrimSpace(to) == "" {
		for i := len(all) - 1; i >= 0; i-- {
			if !all[i].v.IsPrerelease() {
				v := all[i].v
				v.Original = all[i].n.Version
				return v, nil
			}
		}
		return Version{}, errors.New("plan: cannot tell which version is the latest: no release notes with a released version. Pass --to VERSION or --notes FILE|DIR")
	}
	toV, err := version.Parse(to)
	if err != nil {
		return Version{}, fmt.Errorf("plan: target %q: %w", to, err)
	}
	if len(all) == 0 {
		return toV, nil
	}
	for _, pn := range all {
		if pn.v.Equal(toV) {
			return toV, nil
		}
	}
	var newer []string
	for _, pn := range all {
		if pn.v.Compare(fromV) > 0 && !pn.v.IsPrerelease() {
			newer = append(newer, pn.n.Version)
		}
	}
	if len(newer) > 12 {
		newer = append(newer[:5], append([]string{"…"}, newer[len(newer)-6:]...)...)
	}
	if len(newer) == 0 {
		return Version{}, fmt.Errorf("plan: no release notes for %s, and none newer than %s; check the release-notes source or pass --notes FILE|DIR", to, fromV.Original)
	}
	return Version{}, fmt.Errorf("plan: no release notes for %s; versions newer than %s: %s", to, fromV.Original, strings.Join(newer, ", "))
}

type stop struct {
	v      Version
	reason string
}

func between(v, from, to Version) bool { return v.Compare(from) > 0 && v.Compare(to) < 0 }

// requiredStops resolves the profile's stop rules to versions strictly
// between from and to, oldest first.
func requiredStops(p *profile.Profile, known []parsedNote, from, to Version) []stop {
	var out []stop
	add := func(v Version, reason string) {
		if !between(v, from, to) {
			return
		}
		for i := range out {
			if out[i].v.Equal(v) {
				return
			}
		}
		out = append(out, stop{v, reason})
	}
	latestPatch := func(of Version) (Version, bool) {
		var best Version
		ok := false
		for _, pn := range known {
			if pn.v.SameMinor(of) && pn.v.Compare(of) >= 0 && pn.v.Compare(to) < 0 {
				best, ok = pn.v, true
				best.Original = pn.n.Version
			}
		}
		return best, ok
	}
	for _, s := range p.Upgrade.Stops {
		if s.Targets != "" {
			c, err := version.ParseConstraint(s.Targets)
			if err != nil || !c.Check(to) {
				continue
			}
		}
		lo, hasLo := parseOpt(s.From)
		hi, hasHi := parseOpt(s.To)
		inBounds := func(v Version) bool {
			return (!hasLo || v.Compare(lo) >= 0) && (!hasHi || v.Compare(hi) <= 0 || v.SameMinor(hi))
		}
		switch {
		case s.Version != "":
			v, err := version.Parse(s.Version)
			if err != nil {
				continue
			}
			reason := orDefault(s.Reason, "required stop "+s.Version)
			if s.LatestPatch {
				if lp, ok := latestPatch(v); ok {
					v = lp
				}
			}
			add(v, reason)
		case s.Rule == profile.RuleLatestPatchOfEachMinor:
			for _, pn := range known {
				if to.SameMinor(pn.v) || !inBounds(pn.v) {
					continue
				}
				if lp, ok := latestPatch(pn.v); ok && lp.Equal(pn.v) {
					add(lp, orDefault(s.Reason, fmt.Sprintf("latest patch of %d.%d (every minor must be installed)", lp.Major(), lp.Minor())))
				}
			}
		case s.Rule == profile.RuleLatestOfEachMajor:
			for i, pn := range known {
				if pn.v.Major() == to.Major() || !inBounds(pn.v) {
					continue
				}
				if i+1 < len(known) && known[i+1].v.Major() == pn.v.Major() {
					continue
				}
				add(pn.v, orDefault(s.Reason, fmt.Sprintf("latest %d.x release (every major must be installed)", pn.v.Major())))
			}
		case s.Rule == profile.RuleESR:
			for _, e := range p.Upgrade.ESR {
				ev, err := version.Parse(e)
				if err != nil || to.SameMinor(ev) || !inBounds(ev) {
					continue
				}
				reason := orDefault(s.Reason, fmt.Sprintf("extended support release %s (upgrades must go from ESR to ESR)", e))
				if lp, ok := latestPatch(ev); ok {
					add(lp, reason)
				} else {
					add(ev, reason)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b stop) int { return a.v.Compare(b.v) })
	for i := range out {
		if out[i].v.Original == "" {
			out[i].v.Original = out[i].v.String()
		}
	}
	return out
}

func parseOpt(s string) (Version, bool) {
	if s == "" {
		return Version{}, false
	}
	v, err := version.Parse(s)
	return v, err == nil
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) != "" {
		return s
	}
	return def
}

func buildHop(p *profile.Profile, known []parsedNote, prev, v Version, required bool, reason string) Hop {
	name := v.Original
	if name == "" {
		name = v.String()
	}
	h := Hop{Version: name, RequiredStop: required, Reason: reason, Warnings: []Warning{}}
	inHop := func(s string) bool {
		x, err := version.Parse(s)
		return err == nil && x.Compare(prev) > 0 && x.Compare(v) <= 0
	}
	for _, pn := range known {
		if pn.v.Compare(prev) > 0 && pn.v.Compare(v) <= 0 {
			h.Notes = append(h.Notes, pn.n)
			h.Warnings = append(h.Warnings, Extract(pn.n)...)
		}
	}
	for _, r := range p.Renames {
		if inHop(r.Version) {
			h.Renames = append(h.Renames, Rename{From: r.From, To: r.To, Version: r.Version})
		}
	}
	for _, w := range h.Warnings {
		for _, r := range w.Renames {
			if !slices.ContainsFunc(h.Renames, func(x Rename) bool { return x.From == r.From }) {
				h.Renames = append(h.Renames, r)
			}
		}
	}
	for _, m := range p.Upgrade.ManualActions {
		if inHop(m.Version) {
			h.ManualActions = append(h.ManualActions, m.Text)
		}
	}
	return h
}

func checkBlocked(p *profile.Profile, path *Path, from Version) {
	prev := from
	for _, h := range path.Hops {
		hv, err := version.Parse(h.Version)
		if err != nil {
			continue
		}
		for _, b := range p.Upgrade.Blocked {
			lo, err1 := version.Parse(b.From)
			hi, err2 := version.Parse(b.To)
			if err1 != nil || err2 != nil {
				continue
			}
			if b.Targets != "" {
				if c, err := version.ParseConstraint(b.Targets); err != nil || !c.Check(hv) {
					continue
				}
			}
			if prev.Compare(lo) >= 0 && hv.Compare(hi) <= 0 {
				path.Blockers = append(path.Blockers, fmt.Sprintf("upgrading from %s to %s is blocked (from %s or later to %s or earlier): %s. Pick a target after %s.", prev.Original, h.Version, b.From, b.To, b.Reason, b.To))
			}
		}
		prev = hv
		prev.Original = h.Version
	}
}

var serverVersionRe = regexp.MustCompile(`\d+(?:\.\d+)*`)

func engineName(e string) string {
	switch strings.ToLower(strings.TrimSpace(e)) {
	case "postgres", "postgresql", "pg":
		return profile.EnginePostgres
	case "sqlite", "sqlite3":
		return profile.EngineSQLite
	}
	return strings.ToLower(strings.TrimSpace(e))
}

func engineTitle(e string) string {
	if e == profile.EnginePostgres {
		return "PostgreSQL"
	}
	if e == profile.EngineSQLite {
		return "SQLite"
	}
	return e
}

func checkMinDB(p *profile.Profile, path *Path, db DBFacts) {
	engine := engineName(db.Engine)
	var server Version
	known := false
	if m := serverVersionRe.FindString(db.ServerVersion); m != "" {
		if v, err := version.Parse(m); err == nil {
			server, known = v, true
		}
	}
	for i := range path.Hops {
		h := &path.Hops[i]
		hv, err := version.Parse(h.Version)
		if err != nil {
			continue
		}
		for _, r := range p.Upgrade.MinDB {
			c, err := version.ParseConstraint(r.Targets)
			if err != nil || !c.Check(hv) {
				continue
			}
			want, err := version.Parse(r.Version)
			if err != nil {
				continue
			}
			if engine != "" && engine != engineName(r.Engine) {
				continue
			}
			name := engineTitle(engineName(r.Engine))
			why := ""
			if r.Reason != "" {
				why = " (" + r.Reason + ")"
			}
			switch {
			case !known:
				h.Warnings = append(h.Warnings, Warning{
					Version: h.Version, Kind: KindRequirement,
					Text:     fmt.Sprintf("%s needs %s %s or newer%s, but the database server version is unknown. Check it before upgrading.", h.Version, name, r.Version, why),
					Requires: []Requirement{{Name: name, Version: r.Version}},
				})
			case server.Compare(want) < 0:
				blocker := fmt.Sprintf("%s needs %s %s or newer%s, but the database runs %s %s. Upgrade the database server first (dump, new major, restore), then plan again.", h.Version, name, r.Version, why, name, server.Original)
				path.Blockers = append(path.Blockers, blocker)
				path.DBNeeds = append(path.DBNeeds, DBNeed{Hop: h.Version, Engine: engineName(r.Engine), Version: r.Version, Blocker: blocker})
			}
		}
	}
}

// noteStops collects the stops the notes of the hops name, oldest first,
// strictly between from and to, marking those the profile also makes.
func noteStops(hops []Hop, from, to Version) []NoteStop {
	var out []NoteStop
	for _, h := range hops {
		for _, w := range h.Warnings {
			for _, st := range w.Stops {
				v, err := version.Parse(st.Version)
				if err != nil || !between(v, from, to) {
					continue
				}
				if slices.ContainsFunc(out, func(x NoteStop) bool { return x.Version == st.Version }) {
					continue
				}
				for _, o := range hops {
					if hv, err := version.Parse(o.Version); err == nil && o.RequiredStop && hv.Equal(v) {
						st.Confirmed = true
					}
				}
				out = append(out, st)
			}
		}
	}
	slices.SortFunc(out, func(a, b NoteStop) int { return Compare(a.Version, b.Version) })
	return out
}
