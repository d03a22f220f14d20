package profile

import (
	"fmt"
	"strconv"
	"strings"
)

// Draft is what `upshift profile init` found on a stack, to be written as
// a starting profile with comments saying where each value came from.
type Draft struct {
	Name        string
	Description string
	// AppImages are the repositories of the app's images
	// (miniflux/miniflux); AppServices the services running them.
	AppImages   []string
	AppServices []string
	DBService   string
	// DBEnv are the db service's credential keys found (user, password,
	// database), "" where none was.
	DBUserEnv, DBPasswordEnv, DBDatabaseEnv string
	// Apply is how the version is applied; ApplyWhy says what was seen.
	Apply    Apply
	ApplyWhy []string
	// Schema is the tool (and table) found; SchemaWhy lists the
	// candidates.
	Schema    Schema
	SchemaWhy []string
	// Health are the checks that answered; HealthWhy the candidates tried.
	Health    []HealthCheck
	HealthWhy []string
	// VersionHTTP is an endpoint that answered the running version.
	VersionHTTP *VersionSource
	Version     string // running now
	// FilesOnly: drafted from the compose files alone (no Docker engine,
	// no database asked), so the live parts are left as comments.
	FilesOnly   bool
	NotesGitHub string // from the image's org.opencontainers.image.source
	NotesWhy    string
}

// YAML writes the draft as a profile file with comments.
func (d *Draft) YAML() []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	comments := func(lines []string) {
		for _, l := range lines {
			w("#   %s", l)
		}
	}
	w("# A profile for %s, written by `upshift profile init` from the stack", d.Name)
	w("# (version %s). Check every value, then: upshift profile check FILE.", orNone(d.Version))
	if d.FilesOnly {
		w("# Drafted from the compose files alone (no Docker engine answered, or --offline):")
		w("# schema table, health and version endpoints were not looked at; run it again with the stack up.")
	}
	w("# Fields are documented in docs/profiles.md; put the file in")
	w("# ~/.config/upshift/profiles/ or pass it with --profile FILE.")
	w("name: %s", d.Name)
	w("description: %s", quote(d.Description))
	w("images: pull")
	w("")
	w("match:")
	w("  images:")
	for _, i := range d.AppImages {
		w("    - %s", i)
	}
	w("")
	w("services:")
	for _, s := range d.AppServices {
		w("  - {name: %s, role: app}", s)
	}
	if d.DBService != "" {
		w("  - {name: %s, role: db}", d.DBService)
	}
	w("default_role: other")
	w("")
	w("version:")
	w("  sources:")
	if v := d.VersionHTTP; v != nil {
		w("    - {type: http, service: %s, port: %d, path: %s}  # answered %s", v.Service, v.Port, v.Path, d.Version)
	}
	w("    - {type: oci-label, label: org.opencontainers.image.version}")
	w("    - {type: image-tag}")
	w("")
	w("db:")
	w("  engine: postgresql")
	if d.DBService != "" {
		w("  service: %s", d.DBService)
	}
	for _, kv := range [][2]string{{"user_env", d.DBUserEnv}, {"password_env", d.DBPasswordEnv}, {"database_env", d.DBDatabaseEnv}} {
		if kv[1] != "" {
			w("  %s: %s", kv[0], kv[1])
		} else {
			w("  # %s: (not found in the db service's environment)", kv[0])
		}
	}
	w("")
	if len(d.SchemaWhy) > 0 {
		w("# Schema version tables seen:")
		comments(d.SchemaWhy)
	}
	w("schema:")
	w("  tool: %s", orNone(d.Schema.Tool))
	if d.Schema.Table != "" {
		w("  table: %s", d.Schema.Table)
	}
	if d.Schema.Column != "" {
		w("  column: %s", d.Schema.Column)
	}
	w("  # heads: {%s: \"...\"}  # the head each version expects, where you know it", orNone(d.Version))
	w("")
	w("# The app migrates when it starts (entrypoint); if it has a one-off")
	w("# migration command, use mode: oneoff with service and command.")
	w("migration:")
	w("  mode: entrypoint")
	if len(d.AppServices) > 0 {
		w("  service: %s", d.AppServices[0])
	}
	w("  # success_log: \"Listening on\"   # a regexp of the line that ends the migration")
	w("  # error_log: \"FATAL|ERROR\"")
	w("")
	if len(d.ApplyWhy) > 0 {
		w("# Where the files keep the version:")
		comments(d.ApplyWhy)
	}
	w("apply:")
	w("  method: %s", d.Apply.Method)
	if d.Apply.EnvKey != "" {
		w("  env_key: %s", d.Apply.EnvKey)
	}
	if d.Apply.Form != "" {
		w("  form: %s", d.Apply.Form)
	}
	if len(d.Apply.Services) > 0 {
		w("  services: [%s]", strings.Join(d.Apply.Services, ", "))
	}
	w("")
	w("config_files:")
	w("  - {path: .env, format: env}")
	w("")
	if len(d.HealthWhy) > 0 {
		w("# Health endpoints tried:")
		comments(d.HealthWhy)
	}
	if len(d.Health) == 0 {
		w("health: []  # e.g. - {type: http, service: app, port: 8080, path: /healthcheck}")
	} else {
		w("health:")
		for _, h := range d.Health {
			w("  - {type: %s, service: %s, port: %d, path: %s}", h.Type, h.Service, h.Port, h.Path)
		}
	}
	w("")
	if d.NotesWhy != "" {
		w("# %s", d.NotesWhy)
	}
	if d.NotesGitHub != "" {
		w("release_notes:")
		w("  github: %s", d.NotesGitHub)
	} else {
		w("# release_notes: {github: owner/repo}   # or dir: notes/ (one <version>.md each), or changelog: CHANGELOG.md")
		w("release_notes: {}")
	}
	w("")
	w("upgrade: {}  # required stops, min_db, manual_actions: see docs/profiles.md")
	return []byte(b.String())
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func quote(s string) string { return strconv.Quote(s) }
