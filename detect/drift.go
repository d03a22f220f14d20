package detect

import (
	"fmt"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/releases/version"
)

// judge turns what was found into warnings an admin must see.
func judge(p *profile.Profile, rep *Report) []string {
	var w []string
	if rep.Schema.Dirty {
		w = append(w, fmt.Sprintf("DIRTY MIGRATION: the %s schema is marked dirty/failed (%s). A migration half-ran; do not upgrade before it is repaired or the database restored", rep.Schema.Tool, strings.Join(append([]string{rep.Schema.Head}, rep.Schema.Failed...), ", ")))
	}
	if !rep.DB.Reachable && rep.DB.Error != "" && (rep.DB.Engine == profile.EnginePostgres || rep.DB.Engine == profile.EngineSQLite) {
		w = append(w, "database not reachable: "+rep.DB.Error)
	}
	if rep.Schema.Head == "" && rep.Schema.Detail != "" && rep.DB.Reachable {
		w = append(w, "schema head unknown: "+rep.Schema.Detail)
	}
	if exp := p.ExpectedHead(rep.Version); exp != "" && rep.Schema.Head != "" {
		rep.Schema.Expected = exp
		if rep.Drift = findDrift(p, rep, exp); rep.Drift != nil {
			w = append(w, driftWarning(rep.Drift, rep))
		}
	}
	for _, s := range rep.Services {
		switch {
		case s.FinishedJob():
		case s.State == "restarting" || (s.State == "exited" && s.RestartCount > 0):
			w = append(w, fmt.Sprintf("%s is %s (restarted %d times): look at `docker compose logs %s`", s.Name, s.State, s.RestartCount, s.Name))
		case s.Health == "unhealthy":
			w = append(w, s.Name+" is unhealthy")
		case s.State == "not created" && s.Role != profile.RoleOther && s.Role != profile.RoleJob:
			w = append(w, s.Name+" has no container: the stack is not (fully) up")
		}
	}
	return w
}

// DriftKind says how the database schema and the running image disagree.
type DriftKind string

// The kinds of drift, from the schema head and the head the running
// version expects.
const (
	// DriftUnknownHead: no known release has the schema's head; the
	// database is probably ahead of the image (an image was rolled back
	// without restoring the database).
	DriftUnknownHead DriftKind = "unknown_head"
	// DriftDBAhead: the schema is at the head of a newer release than the
	// running image.
	DriftDBAhead DriftKind = "db_ahead"
	// DriftMigrationsPending: the schema is at an older release's head;
	// migrations did not run after the image changed.
	DriftMigrationsPending DriftKind = "migrations_pending"
)

// Drift is a schema head that is not the one the running version expects.
// Report.Drift is nil when the heads agree or either is unknown.
type Drift struct {
	Kind     DriftKind `json:"kind"`
	Head     string    `json:"head"`               // the database's schema head
	Expected string    `json:"expected,omitempty"` // the head the running version expects
	Version  string    `json:"version"`            // the release whose head Head is; "" for DriftUnknownHead
}

// findDrift compares the schema head with expected, the head of the
// running version; nil when they agree.
func findDrift(p *profile.Profile, rep *Report, expected string) *Drift {
	if expected == "" || rep.Schema.Head == "" || expected == rep.Schema.Head {
		return nil
	}
	d := &Drift{Head: rep.Schema.Head, Expected: expected, Version: p.VersionOfHead(rep.Schema.Head)}
	switch {
	case d.Version == "":
		d.Kind = DriftUnknownHead
	case cmpVersions(d.Version, rep.Version) > 0:
		d.Kind = DriftDBAhead
	default:
		d.Kind = DriftMigrationsPending
	}
	return d
}

// driftWarning is the drift in words, for Report.Warnings.
func driftWarning(d *Drift, rep *Report) string {
	switch d.Kind {
	case DriftUnknownHead:
		return fmt.Sprintf("DRIFT: the schema head %s is unknown to %s %s (it expects %s): the database is probably ahead of the image — an image was rolled back without restoring the database", d.Head, rep.App, rep.Version, d.Expected)
	case DriftDBAhead:
		return fmt.Sprintf("DRIFT: the database schema is at %s's head (%s) but the running image is %s: an image was rolled back without restoring the database, or a migration ran without the new image", d.Version, d.Head, rep.Version)
	default:
		return fmt.Sprintf("DRIFT: the database schema is at %s's head (%s) but the running image is %s (expects %s): migrations did not run after the image changed", d.Version, d.Head, rep.Version, d.Expected)
	}
}

func cmpVersions(a, b string) int {
	va, errA := version.Parse(a)
	vb, errB := version.Parse(b)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	return va.Compare(vb)
}
