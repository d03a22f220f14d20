package upgrade

import (
	"os"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/internal/schematool"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

// Assumptions say, before anything runs, what upshift guessed or cannot
// know about this stack (the generic profile guesses most): which images it
// changes and where the version lives, where the schema head is read, how
// the end of the migration and the health are told. plan and --dry-run show
// them; a guess that cannot work is said here too, not only when the step
// fails.
func (e *Env) Assumptions() []string {
	var out []string
	p := e.Profile
	if p.Apply.Method == profile.ApplyAuto {
		out = append(out, e.applyAssumptions()...)
	}
	rep := e.Start.Report
	switch {
	case p.Schema.Tool != schematool.Auto && p.Schema.Tool != "":
	case rep.Schema.Tool == schematool.Table:
		out = append(out, "schema head: read from the app's own table ("+rep.Schema.Detail+"), found by looking; verify checks it is not dirty, but no profile says which head a version expects")
	case rep.Schema.Tool == schematool.Auto || !rep.DB.Reachable:
		out = append(out, "schema head: looked for in the database when it answers (the known tools' tables, then one named like *schema*version* or *migrations* with a version column)")
	case rep.Schema.Tool == schematool.None || rep.Schema.Tool == "":
		out = append(out, "schema head: no version table found (no known tool's, none named like *schema*version* or *migrations*); verify checks health and version only")
	default:
		out = append(out, "schema head: "+rep.Schema.Tool+"'s table, found by looking")
	}
	if m := p.Migration; m.Mode == profile.MigrateEntrypoint && m.SuccessLog == "" {
		svc := e.migrationService()
		if svc == "" {
			svc = "the first app service"
		}
		out = append(out, "migration: "+svc+" is assumed to migrate when it starts; with no success line known, the migration counts as done once it runs (healthy, if it has a health check)")
	}
	if !hasHTTPHealth(p) {
		out = append(out, "health: no HTTP health check is known; verify checks the containers' state (and health checks) and the version")
	}
	return out
}

func (e *Env) applyAssumptions() []string {
	services := e.appImageServices()
	if len(services) == 0 {
		return []string{"images: no app service's image looks like the app's (" + orDash(e.primaryImage()) + "): upgrade will refuse at the .env step. Write a profile (upshift profile init)"}
	}
	var left []string
	for _, name := range e.Writers() {
		if svc, ok := e.Start.Stack.Model.Services[name]; ok && svc.Image != "" && !e.isAppImage(svc.Image) {
			left = append(left, name+" ("+svc.Image+")")
		}
	}
	out := []string{"images: upshift changes the image of " + strings.Join(services, ", ") + " (" + repoOf(e.primaryImage()) + ")"}
	if len(left) > 0 {
		out[0] += "; it leaves " + strings.Join(left, ", ") + " as they are"
	}
	sites, err := FindVersionSites(e.Project.Files, os.ReadFile, services)
	if err != nil {
		return append(out, "version: "+err.Error())
	}
	for _, s := range sites {
		line := "version of " + s.Service + ": " + s.Describe()
		if s.Kind == SiteUnknown {
			line += " — upgrade will refuse at the .env step; make it one variable or a literal tag"
		}
		out = append(out, line)
	}
	return out
}

func hasHTTPHealth(p *profile.Profile) bool {
	for _, h := range p.Health {
		if h.Type == profile.HealthHTTP {
			return true
		}
	}
	for _, v := range p.Version.Sources {
		if v.Type == profile.VersionHTTP {
			return true
		}
	}
	return false
}
