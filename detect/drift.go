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
		if exp != rep.Schema.Head {
			w = append(w, driftWarning(p, rep, exp))
		}
	}
	for _, s := range rep.Services {
		switch {
		case s.FinishedJob():
		case s.State == "restarting" || (s.State == "exited" && s.RestartCount > 0):
			w = append(w, fmt.Sprintf("%s is %s (restarted %d times): look at `docker compose logs %s`", s.Name, s.State, s.RestartCount, s.Name))
		case s.Health == "unhealthy":
			w = append(w, s.Name+" is unhealthy")
		case s.State == "not created" && s.Role != profile.RoleOther:
			w = append(w, s.Name+" has no container: the stack is not (fully) up")
		}
	}
	return w
}

func driftWarning(p *profile.Profile, rep *Report, expected string) string {
	schemaVersion := p.VersionOfHead(rep.Schema.Head)
	switch {
	case schemaVersion == "":
		return fmt.Sprintf("DRIFT: the schema head %s is unknown to %s %s (it expects %s): the database is probably ahead of the image — an image was rolled back without restoring the database", rep.Schema.Head, rep.App, rep.Version, expected)
	case cmpVersions(schemaVersion, rep.Version) > 0:
		return fmt.Sprintf("DRIFT: the database schema is at %s's head (%s) but the running image is %s: an image was rolled back without restoring the database, or a migration ran without the new image", schemaVersion, rep.Schema.Head, rep.Version)
	default:
		return fmt.Sprintf("DRIFT: the database schema is at %s's head (%s) but the running image is %s (expects %s): migrations did not run after the image changed", schemaVersion, rep.Schema.Head, rep.Version, expected)
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
