package profile

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/releases/version"
)

var (
	nameRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	envKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	ghRepoRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	roles    = []string{RoleApp, RoleWorker, RoleScheduler, RoleDB, RoleWeb, RoleJob, RoleOther}
)

type checker struct {
	p     *Profile
	probs []Problem
}

func (c *checker) bad(field, format string, args ...any) {
	line := 0
	for f := field; ; {
		if l, ok := c.p.lines[f]; ok {
			line = l
			break
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			line = c.p.lines[""]
			break
		}
		f = f[:i]
	}
	c.probs = append(c.probs, Problem{Line: line, Path: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) oneOf(field, got string, allowed []string, required bool) {
	if got == "" {
		if required {
			c.bad(field, "missing; set one of: %s", strings.Join(allowed, ", "))
		}
		return
	}
	if !slices.Contains(allowed, got) {
		c.bad(field, "%q is not allowed; use one of: %s", got, strings.Join(allowed, ", "))
	}
}

func (c *checker) version(field, v string, required bool) {
	if v == "" {
		if required {
			c.bad(field, "missing version")
		}
		return
	}
	if _, err := version.Parse(v); err != nil {
		c.bad(field, "not a version: %v", err)
	}
}

func (c *checker) constraint(field, s string) {
	if s == "" {
		return
	}
	if _, err := version.ParseConstraint(s); err != nil {
		c.bad(field, "%v (write e.g. \">=2.0.0 <3.0.0\")", err)
	}
}

func (c *checker) regexp(field, s string) {
	if s == "" {
		return
	}
	if _, err := regexp.Compile(s); err != nil {
		c.bad(field, "not a valid regular expression: %v", err)
	}
}

// Validate checks the profile's values (types and unknown fields are
// checked when parsing). The error is a *ValidationError listing every
// problem with its line when the profile came from a file.
func (p *Profile) Validate() error {
	c := &checker{p: p}
	if p.Name == "" {
		c.bad("name", "missing; give the profile a short name such as my-app")
	} else if !nameRe.MatchString(p.Name) {
		c.bad("name", "%q: use lower-case letters, digits, '.', '_' and '-'", p.Name)
	}
	c.oneOf("images", p.Images, []string{"pull", "build-demo"}, false)
	p.validateMatch(c)
	for i, s := range p.Services {
		f := fmt.Sprintf("services[%d]", i)
		if s.Name == "" && s.Image == "" && s.Container == "" {
			c.bad(f, "select the service by name, image or container")
		}
		if s.Container != "" {
			if _, err := path.Match(s.Container, ""); err != nil {
				c.bad(f+".container", "bad glob %q: %v", s.Container, err)
			}
		}
		c.oneOf(f+".role", s.Role, roles, true)
	}
	c.oneOf("default_role", p.DefaultRole, roles, false)
	p.validateVersion(c)
	p.validateDB(c)
	p.validateSchema(c)
	p.validateMigration(c)
	p.validateApply(c)
	for i, f := range p.ConfigFiles {
		field := fmt.Sprintf("config_files[%d]", i)
		if f.Path == "" {
			c.bad(field+".path", "missing path")
		}
		c.oneOf(field+".format", f.Format, []string{"env", "toml", "yaml", "json"}, true)
	}
	p.validateEnvTemplate(c)
	p.validateTemplates(c)
	for i, r := range p.Renames {
		field := fmt.Sprintf("renames[%d]", i)
		if !envKeyRe.MatchString(r.From) {
			c.bad(field+".from", "%q is not an env key name", r.From)
		}
		if !envKeyRe.MatchString(r.To) {
			c.bad(field+".to", "%q is not an env key name", r.To)
		}
		c.version(field+".version", r.Version, true)
	}
	for i, v := range p.Volumes {
		if v.Name == "" {
			c.bad(fmt.Sprintf("volumes[%d].name", i), "missing volume name")
		}
	}
	p.validateHealth(c)
	p.validateNotes(c)
	p.validateUpgrade(c)
	if len(c.probs) == 0 {
		return nil
	}
	return &ValidationError{File: p.Source, Problems: c.probs}
}

func (p *Profile) validateMatch(c *checker) {
	m := p.Match
	if len(m.Images) == 0 && len(m.ImagePatterns) == 0 && len(m.ContainerNames) == 0 && !m.RequiresPostgres && !m.Fallback {
		c.bad("match", "says nothing; list images, image_patterns or container_names")
	}
	for i, s := range m.Images {
		if strings.TrimSpace(s) == "" {
			c.bad(fmt.Sprintf("match.images[%d]", i), "empty image name")
		}
	}
	for i, s := range m.ImagePatterns {
		c.regexp(fmt.Sprintf("match.image_patterns[%d]", i), s)
	}
	for i, s := range m.ContainerNames {
		if _, err := path.Match(s, ""); err != nil || s == "" {
			c.bad(fmt.Sprintf("match.container_names[%d]", i), "bad glob %q", s)
		}
	}
}

func (p *Profile) validateVersion(c *checker) {
	if len(p.Version.Sources) == 0 {
		c.bad("version.sources", "missing; list at least one of: http, command, oci-label, image-tag")
	}
	for i, s := range p.Version.Sources {
		f := fmt.Sprintf("version.sources[%d]", i)
		c.oneOf(f+".type", s.Type, []string{VersionHTTP, VersionCommand, VersionOCILabel, VersionImageTag}, true)
		switch s.Type {
		case VersionHTTP:
			if s.Service == "" {
				c.bad(f+".service", "an http version source needs the service to ask")
			}
			if s.Port <= 0 || s.Port > 65535 {
				c.bad(f+".port", "an http version source needs a port between 1 and 65535")
			}
			if !strings.HasPrefix(s.Path, "/") {
				c.bad(f+".path", "an http version source needs a path starting with /")
			}
			if s.JSON != "" && s.Header != "" {
				c.bad(f, "set json or header, not both")
			}
		case VersionCommand:
			if s.Service == "" {
				c.bad(f+".service", "a command version source needs the service to run in")
			}
			if len(s.Command) == 0 {
				c.bad(f+".command", "missing command (a list such as [\"app\", \"--version\"])")
			}
		}
		c.regexp(f+".regexp", s.Regexp)
	}
}

func (p *Profile) validateDB(c *checker) {
	c.oneOf("db.engine", p.DB.Engine, []string{EnginePostgres, EngineSQLite}, true)
	switch p.DB.Engine {
	case EnginePostgres:
		hasDBRule := slices.ContainsFunc(p.Services, func(s ServiceRule) bool { return s.Role == RoleDB })
		if p.DB.Service == "" && !hasDBRule {
			c.bad("db.service", "missing; name the PostgreSQL service (or give a service the db role)")
		}
		for _, k := range []struct{ f, v string }{{"db.user_env", p.DB.UserEnv}, {"db.password_env", p.DB.PasswordEnv}, {"db.database_env", p.DB.DatabaseEnv}} {
			if k.v != "" && !envKeyRe.MatchString(k.v) {
				c.bad(k.f, "%q is not an env key name", k.v)
			}
		}
		if p.DB.MajorImage != "" && !strings.Contains(p.DB.MajorImage, "{{major}}") {
			c.bad("db.major_image", "%q has no {{major}} for the PostgreSQL major version (e.g. postgres:{{major}}-alpine)", p.DB.MajorImage)
		}
	case EngineSQLite:
		if p.DB.Path == "" {
			c.bad("db.path", "a sqlite database needs the path of its file inside the project")
		}
		if p.DB.NeedsDDL {
			c.bad("db.needs_ddl", "is checked on PostgreSQL roles; a sqlite file has none")
		}
	}
	if a := p.DB.AppDSN; a != nil && (a.File == "" || a.Key == "") {
		c.bad("db.app_dsn", "needs file (in the project) and key (a dotted TOML key or an env key)")
	}
	for i, v := range p.DB.Variants {
		if v.Engine == "" || v.Engine != strings.ToLower(v.Engine) {
			c.bad(fmt.Sprintf("db.variants[%d].engine", i), "missing or not lower case (postgresql, mysql, sqlite, ...)")
		}
	}
	for i, e := range p.DB.EngineFrom {
		f := fmt.Sprintf("db.engine_from[%d]", i)
		switch {
		case (e.Env == "") == (e.File == ""):
			c.bad(f, "set either env (an env key) or file with key")
		case e.Env != "" && !envKeyRe.MatchString(e.Env):
			c.bad(f+".env", "%q is not an env key name", e.Env)
		case e.File != "" && e.Key == "":
			c.bad(f+".key", "a config file needs the dotted key that names the engine")
		case e.Mount != "" && e.Service == "":
			c.bad(f+".service", "mount needs the service whose bind mount it is")
		}
	}
}

func (p *Profile) validateMigration(c *checker) {
	m := p.Migration
	c.oneOf("migration.mode", m.Mode, []string{MigrateOneOff, MigrateEntrypoint, MigrateNone}, true)
	switch m.Mode {
	case MigrateOneOff:
		if m.Service == "" {
			c.bad("migration.service", "oneoff migration needs the service whose image and env run it")
		}
		if len(m.Command) == 0 {
			c.bad("migration.command", "oneoff migration needs a command, e.g. [\"migrate\"]")
		}
	}
	for i, a := range m.After {
		if len(a) == 0 {
			c.bad(fmt.Sprintf("migration.after[%d]", i), "an empty command")
		}
		if m.Mode != MigrateOneOff {
			c.bad(fmt.Sprintf("migration.after[%d]", i), "after-commands run in one-off containers: only with mode oneoff")
		}
	}
	if m.ToggleEnv != "" && !envKeyRe.MatchString(m.ToggleEnv) {
		c.bad("migration.toggle_env", "%q is not an env key name", m.ToggleEnv)
	}
	c.regexp("migration.success_log", m.SuccessLog)
	c.regexp("migration.error_log", m.ErrorLog)
	for _, d := range []struct{ field, v string }{{"migration.timeout", m.Timeout}, {"migration.settle", m.Settle}} {
		if x, err := time.ParseDuration(d.v); d.v != "" && (err != nil || x <= 0) {
			c.bad(d.field, "%q is not a positive Go duration (e.g. 30m, 20s)", d.v)
		}
	}
	if m.Watchdog != "" && m.Watchdog != "off" {
		if x, err := time.ParseDuration(m.Watchdog); err != nil || x <= 0 {
			c.bad("migration.watchdog", "%q is not a positive Go duration (e.g. 2m) or off", m.Watchdog)
		}
	}
	for i, k := range m.KnownErrors {
		f := fmt.Sprintf("migration.known_errors[%d]", i)
		if k.Log == "" || k.Reason == "" {
			c.bad(f, "needs log (a regexp of the line) and reason (what it is, shown to the admin)")
		}
		c.regexp(f+".log", k.Log)
		if k.Versions != "" {
			c.constraint(f+".versions", k.Versions)
		}
	}
	if m.Settle != "" && m.Mode != MigrateEntrypoint {
		c.bad("migration.settle", "only an entrypoint migration has a log to keep watching")
	}
}

func (p *Profile) validateApply(c *checker) {
	a := p.Apply
	c.oneOf("apply.method", a.Method, []string{ApplyEnv, ApplyImageTag, ApplyAuto, ApplyGitCheckout, ApplyDownload}, true)
	p.validateApplyForm(c)
	switch a.Method {
	case ApplyEnv:
		if !envKeyRe.MatchString(a.EnvKey) {
			c.bad("apply.env_key", "method env needs the .env key holding the version, e.g. APP_VERSION")
		}
	case ApplyDownload:
		if a.ComposeURL != "" && !strings.Contains(a.ComposeURL, "{{version}}") {
			c.bad("apply.compose_url", "method download needs a URL template containing {{version}}")
		}
		if a.EnvURL != "" && !strings.Contains(a.EnvURL, "{{version}}") {
			c.bad("apply.env_url", "the URL template must contain {{version}}")
		}
	}
	if a.TagTemplate != "" && !strings.Contains(a.TagTemplate, "{{version}}") {
		c.bad("apply.tag_template", "must contain {{version}}, e.g. v{{version}}")
	}
}

func (p *Profile) validateEnvTemplate(c *checker) {
	t := p.EnvTemplate
	switch {
	case t == "":
	case strings.HasPrefix(t, "builtin:"):
		if t != "builtin:upshift-demo" {
			c.bad("env_template", "unknown built-in template %q (known: builtin:upshift-demo)", t)
		}
	case strings.HasPrefix(t, "http://"), strings.HasPrefix(t, "https://"):
		if !strings.Contains(t, "{{version}}") {
			c.bad("env_template", "a URL template must contain {{version}}")
		}
	case path.IsAbs(t) || strings.HasPrefix(path.Clean(t), ".."):
		c.bad("env_template", "%q must be a path inside the project, a URL template or builtin:upshift-demo", t)
	}
}

func (p *Profile) validateTemplates(c *checker) {
	seen := map[string]bool{}
	for i, t := range p.Templates {
		f := fmt.Sprintf("templates[%d]", i)
		switch {
		case t.File == "":
			c.bad(f+".file", "missing file: the admin's file the template is merged into, relative to the project directory")
		case path.IsAbs(t.File) || strings.HasPrefix(path.Clean(t.File), ".."):
			c.bad(f+".file", "%q must be a path inside the project", t.File)
		case seen[path.Clean(t.File)]:
			c.bad(f+".file", "%q has two templates", t.File)
		}
		seen[path.Clean(t.File)] = true
		c.oneOf(f+".format", t.Format, []string{TemplateCompose, TemplateEnv, TemplateTOML, TemplateYAML}, false)
		for j, r := range t.Renames {
			rf := fmt.Sprintf("%s.renames[%d]", f, j)
			if r.From == "" || r.To == "" || r.From == r.To {
				c.bad(rf, "a rename needs from and to, two different keys (dotted paths in TOML/YAML: bot.qq_account)")
			}
			c.version(rf+".version", r.Version, true)
		}
		src := t.Source
		switch {
		case src == "":
			c.bad(f+".source", "missing source: builtin:NAME, a URL template, a path template in the project, or image:PATH")
		case strings.HasPrefix(src, "builtin:"):
		case strings.HasPrefix(src, "image:"):
			if t.Service == "" {
				c.bad(f+".service", "an image: source needs the service whose image holds the file")
			}
			if !path.IsAbs(strings.TrimPrefix(src, "image:")) {
				c.bad(f+".source", "%q: the path inside the image must be absolute", src)
			}
		case strings.HasPrefix(src, "http://"), strings.HasPrefix(src, "https://"):
			if !strings.Contains(src, "{{version}}") && !strings.Contains(src, "{{tag}}") {
				c.bad(f+".source", "a URL template must contain {{version}} or {{tag}}")
			}
		case path.IsAbs(src) || strings.HasPrefix(path.Clean(src), ".."):
			c.bad(f+".source", "%q must be a path inside the project, a URL template, builtin:NAME or image:PATH", src)
		case !strings.Contains(src, "{{version}}") && !strings.Contains(src, "{{tag}}"):
			c.bad(f+".source", "a path template must contain {{version}} or {{tag}}")
		}
	}
	if p.Apply.Method == ApplyDownload && len(p.Templates) == 0 && p.Apply.ComposeURL == "" {
		c.bad("apply.method", "download takes the version from the release's compose file: list it under templates (or give apply.compose_url)")
	}
}

func (p *Profile) validateHealth(c *checker) {
	for i, h := range p.Health {
		f := fmt.Sprintf("health[%d]", i)
		c.oneOf(f+".type", h.Type, []string{HealthContainer, HealthHTTP}, true)
		if h.Service == "" {
			c.bad(f+".service", "missing service")
		}
		if h.Type == HealthHTTP {
			if h.Port <= 0 || h.Port > 65535 {
				c.bad(f+".port", "an http check needs a port between 1 and 65535")
			}
			if !strings.HasPrefix(h.Path, "/") {
				c.bad(f+".path", "an http check needs a path starting with /")
			}
		}
		if h.Status != 0 && (h.Status < 100 || h.Status > 599) {
			c.bad(f+".status", "%d is not an HTTP status", h.Status)
		}
	}
}

func (p *Profile) validateNotes(c *checker) {
	n := p.Notes
	set := 0
	for _, s := range []string{n.GitHub, n.Dir, n.Changelog, n.Builtin} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		c.bad("release_notes", "set only one of github, dir, changelog, builtin")
	}
	if n.GitHub != "" && !ghRepoRe.MatchString(n.GitHub) {
		c.bad("release_notes.github", "%q: write owner/repo, e.g. langgenius/dify", n.GitHub)
	}
	if n.Builtin != "" && n.Builtin != "upshift-demo" {
		c.bad("release_notes.builtin", "unknown built-in notes %q (known: upshift-demo)", n.Builtin)
	}
}

func (p *Profile) validateUpgrade(c *checker) {
	u := p.Upgrade
	for i, e := range u.ESR {
		c.version(fmt.Sprintf("upgrade.esr[%d]", i), e, true)
	}
	for i, s := range u.Stops {
		f := fmt.Sprintf("upgrade.stops[%d]", i)
		switch {
		case s.Version != "" && s.Rule != "":
			c.bad(f, "set version or rule, not both")
		case s.Version == "" && s.Rule == "":
			c.bad(f, "set version (an explicit stop) or rule (%s, %s, %s)", RuleLatestPatchOfEachMinor, RuleLatestOfEachMajor, RuleESR)
		}
		c.version(f+".version", s.Version, false)
		c.oneOf(f+".rule", s.Rule, []string{RuleLatestPatchOfEachMinor, RuleLatestOfEachMajor, RuleESR}, false)
		if s.Rule == RuleESR && len(u.ESR) == 0 {
			c.bad(f+".rule", "the esr rule needs the ESR versions listed in upgrade.esr")
		}
		c.version(f+".from", s.From, false)
		c.version(f+".to", s.To, false)
		c.constraint(f+".targets", s.Targets)
	}
	for i, b := range u.Blocked {
		f := fmt.Sprintf("upgrade.blocked[%d]", i)
		c.version(f+".from", b.From, true)
		c.version(f+".to", b.To, true)
		c.constraint(f+".targets", b.Targets)
		if strings.TrimSpace(b.Reason) == "" {
			c.bad(f+".reason", "say why the range is blocked; the admin sees it")
		}
	}
	for i, m := range u.MinDB {
		f := fmt.Sprintf("upgrade.min_db[%d]", i)
		if m.Targets == "" {
			c.bad(f+".targets", "missing target range, e.g. \">=3.0.0\"")
		}
		c.constraint(f+".targets", m.Targets)
		c.oneOf(f+".engine", m.Engine, []string{EnginePostgres, EngineSQLite}, true)
		c.version(f+".version", m.Version, true)
	}
	for i, m := range u.ManualActions {
		f := fmt.Sprintf("upgrade.manual_actions[%d]", i)
		c.version(f+".version", m.Version, true)
		if strings.TrimSpace(m.Text) == "" {
			c.bad(f+".text", "missing text telling the admin what to do")
		}
	}
	for i, k := range u.Consent {
		f := fmt.Sprintf("upgrade.consent[%d]", i)
		if k.Name == "" {
			c.bad(f+".name", "missing: what the document is called (e.g. EULA)")
		}
		if k.Service == "" {
			c.bad(f+".service", "missing: the service whose image holds the document")
		}
		if !strings.HasPrefix(k.File, "/") {
			c.bad(f+".file", "must be the absolute path of the document inside the image, got %q", k.File)
		}
		if k.Env == "" {
			c.bad(f+".env", "missing: the env key that holds the agreed MD5")
		}
	}
}

// Line returns the line of a field path ("migration.mode") in the file the
// profile came from, or 0.
func (p *Profile) Line(field string) int { return p.lines[field] }
