package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/releases"
	semver "github.com/seed-e7a9fb3b/upshift/releases/version"
)

// Target is a version the stack could be upgraded to.
type Target struct {
	Version      string
	Current      bool   // the running version
	Latest       bool   // the newest version that is not blocked
	RequiredStop bool   // a stop on the way to the newest version
	Blocked      string // why it cannot be planned, "" when it can
}

// Targets lists the running version and every newer released version, with
// what stands in the way of each.
func (s *Session) Targets(ctx context.Context) ([]Target, error) {
	notes, _, err := s.Notes(ctx)
	if err != nil {
		return nil, err
	}
	rep := s.Det.Report
	cur, err := semver.Parse(rep.Version)
	if err != nil {
		return nil, fmt.Errorf("the running version %q is not a version upshift can plan from", rep.Version)
	}
	var newer []semver.Version
	for _, n := range notes {
		v, err := semver.Parse(n.Version)
		if err == nil && cur.Less(v) && !v.IsPrerelease() {
			newer = append(newer, v)
		}
	}
	slices.SortFunc(newer, func(a, b semver.Version) int { return a.Compare(b) })
	db := releases.DBFacts{Engine: rep.DB.Engine, ServerVersion: rep.DB.ServerVersion}
	stops := map[string]bool{}
	if len(newer) > 0 {
		if p, err := releases.PlanPath(s.Det.Profile, notes, rep.Version, newer[len(newer)-1].String(), db); err == nil {
			for _, h := range p.Hops {
				stops[h.Version] = h.RequiredStop
			}
		}
	}
	out := []Target{{Version: rep.Version, Current: true}}
	latestOK := ""
	for _, v := range newer {
		t := Target{Version: v.String(), RequiredStop: stops[v.String()]}
		if p, err := releases.PlanPath(s.Det.Profile, notes, rep.Version, v.String(), db); err != nil {
			t.Blocked = err.Error()
		} else if p.Blocked {
			t.Blocked = strings.Join(p.Blockers, "; ")
		} else {
			latestOK = t.Version
		}
		out = append(out, t)
	}
	for i := range out {
		out[i].Latest = out[i].Version == latestOK
	}
	return out, nil
}
