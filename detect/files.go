package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

// filesView is what the compose files (and the .env and config files next
// to them) say, before anything runs: detect uses it offline, and online
// where the running stack cannot answer.
type filesView struct {
	stack *Stack
	prof  *profile.Profile
	raw   map[string]rawImage
	env   map[string]string // the project's .env file
}

func newFilesView(stack *Stack, prof *profile.Profile) *filesView {
	return &filesView{stack: stack, prof: prof, raw: readRawImages(stack.Invocation.Files), env: dotEnvKeys(stack.envSource())}
}

// envSource is the env file interpolation read: .env, else the template
// read in its place.
func (s *Stack) envSource() string {
	if s.EnvFile != "" {
		return s.EnvFile
	}
	return s.ExampleEnvFile
}

// image is a service's interpolated image reference.
func (f *filesView) image(service string) string {
	if s, ok := f.stack.Model.Services[service]; ok {
		return s.Image
	}
	return ""
}

// keySource names where an interpolation variable got its value.
func (f *filesView) keySource(key, def string) string {
	if _, ok := f.env[key]; ok {
		return filepath.Base(f.stack.envSource()) + " " + key
	}
	if _, ok := os.LookupEnv(key); ok {
		return "environment variable " + key
	}
	if def != "" {
		return "the default of ${" + key + "} in the compose file"
	}
	return key + " (unset)"
}

// tagSource says where the tag of a service's image is written: the .env
// key it interpolates, or the compose file itself.
func (f *filesView) tagSource(service string) (source, location string) {
	r, ok := f.raw[service]
	if ok {
		if key, def, isVar := tagVariable(r.Expr); isVar {
			return f.keySource(key, def), "env:" + key
		}
	}
	return "compose image tag of " + service, "compose:" + service + ".image"
}

// versionService is the service whose image tag carries the app's version.
func (f *filesView) versionService(rep *Report) string {
	p := f.prof
	for _, src := range p.Version.Sources {
		if src.Type == profile.VersionImageTag {
			if s := appService(p, rep, src.Service); s != "" {
				if _, ok := f.stack.Model.Services[s]; ok {
					return s
				}
			}
		}
	}
	for _, s := range p.Apply.Services {
		if _, ok := f.stack.Model.Services[s]; ok {
			return s
		}
	}
	return appService(p, rep, "")
}

// version reads the version from the files: the pinned tag of the version
// service (through its .env key when it has one).
func (f *filesView) version(rep *Report) (v, source, location string, floating bool) {
	svc := f.versionService(rep)
	if svc == "" {
		return "unknown (no app service in the files)", "none", "", false
	}
	img := f.image(svc)
	tag := TagOf(img)
	source, location = f.tagSource(svc)
	if tag == "" {
		tag = "latest"
	}
	if IsFloatingTag(tag) {
		return "unknown (floating tag " + tag + ")", "floating image tag " + tag + " of " + svc, "floating", true
	}
	return AppForm(f.prof, tag), source, location, false
}

// AppForm writes a version the way the app's tags do: with a "v" when the
// profile's tag template has one (SimpleLogin's v4.70.0), bare otherwise
// (the form the app's own version endpoints answer in).
func AppForm(p *profile.Profile, v string) string {
	if !versionLike.MatchString(v) {
		return v
	}
	bare := strings.TrimPrefix(v, "v")
	if strings.HasPrefix(p.Apply.TagTemplate, "v{{") {
		return "v" + bare
	}
	return bare
}

// engineOfImage tells a database engine from an image reference ("" when
// the image is no database server upshift knows of).
func engineOfImage(image string) string {
	r := strings.ToLower(image)
	if i := strings.LastIndex(r, ":"); i > strings.LastIndex(r, "/") {
		r = r[:i]
	}
	base := r[strings.LastIndex(r, "/")+1:]
	switch {
	case profile.IsPostgresImage(image) || strings.Contains(base, "timescaledb"):
		return profile.EnginePostgres
	case strings.Contains(base, "mysql") || strings.Contains(base, "mariadb") || strings.Contains(base, "percona"):
		return profile.EngineMySQL
	case strings.Contains(base, "oceanbase"):
		return "oceanbase"
	case strings.Contains(base, "seekdb"):
		return "seekdb"
	case base == "mongo" || strings.Contains(base, "mongodb"):
		return "mongodb"
	}
	return ""
}

// normEngine maps the names apps use for an engine to upshift's.
func normEngine(v string) string {
	switch s := strings.ToLower(strings.TrimSpace(v)); s {
	case "postgres", "postgresql", "pg", "pgsql", "psql":
		return profile.EnginePostgres
	case "mysql", "mariadb":
		return profile.EngineMySQL
	case "sqlite", "sqlite3":
		return profile.EngineSQLite
	default:
		return s
	}
}

// engineFromConfig reads the profile's engine_from places in order.
func (f *filesView) engineFromConfig() (engine, source string) {
	for _, e := range f.prof.DB.EngineFrom {
		if e.Env != "" {
			if e.Service != "" {
				if v, ok := f.stack.ServiceEnv(e.Service, e.Env); ok && v != "" {
					return normEngine(v), "env " + e.Env + " of " + e.Service
				}
			}
			if v, ok := f.env[e.Env]; ok && v != "" {
				return normEngine(v), filepath.Base(f.stack.envSource()) + " " + e.Env
			}
			continue
		}
		path := f.configPath(e)
		if path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		v, err := readConfigValue(path, b, e.Key)
		if err == nil && v != "" {
			rel, _ := filepath.Rel(f.stack.Invocation.WorkingDir, path)
			return normEngine(v), rel + " " + e.Key
		}
	}
	return "", ""
}

// configPath resolves an engine source's file on the host.
func (f *filesView) configPath(e profile.EngineSource) string {
	if e.Mount == "" {
		if filepath.IsAbs(e.File) {
			return e.File
		}
		return filepath.Join(f.stack.Invocation.WorkingDir, e.File)
	}
	svc, ok := f.stack.Model.Services[e.Service]
	if !ok {
		return ""
	}
	for _, v := range svc.Volumes {
		if v.Type == types.VolumeTypeBind && strings.TrimSuffix(v.Target, "/") == strings.TrimSuffix(e.Mount, "/") {
			return filepath.Join(v.Source, e.File)
		}
	}
	return ""
}

// dbFacts is the database as the files describe it.
func (f *filesView) db(rep *Report) (DBReport, []string) {
	p := f.prof
	var warns []string
	d := DBReport{Engine: p.DB.Engine, EngineSource: "profile " + p.Name}
	for _, v := range p.DB.Variants {
		d.Variants = append(d.Variants, v.Engine)
	}
	active := func(name string) bool { _, ok := f.stack.Model.Services[name]; return name != "" && ok }
	// A profile's DB service that a compose profile switched off is never named.
	if p.DB.Service != "" && !active(p.DB.Service) {
		if dis, ok := f.stack.Model.DisabledServices[p.DB.Service]; ok {
			warns = append(warns, fmt.Sprintf("%s is defined but not active: it belongs to the compose profile(s) %s, which are not enabled (COMPOSE_PROFILES)", p.DB.Service, strings.Join(dis.Profiles, ", ")))
		}
	}
	dbRoleService := ""
	for _, s := range rep.Services {
		if s.Role == profile.RoleDB && dbRoleService == "" {
			dbRoleService = s.Name
		}
	}
	if eng, src := f.engineFromConfig(); eng != "" {
		d.Engine, d.EngineSource = eng, src
	} else {
		// The images decide: the profile's service, a variant's, a db-role service.
		cands := []string{p.DB.Service}
		for _, v := range p.DB.Variants {
			cands = append(cands, v.Service)
		}
		cands = append(cands, dbRoleService)
		found := false
		for _, c := range cands {
			if !active(c) {
				continue
			}
			if eng := engineOfImage(f.image(c)); eng != "" {
				d.Engine, d.EngineSource, found = eng, "image "+f.image(c)+" of "+c, true
				break
			}
		}
		if !found && p.DB.Engine != profile.EngineSQLite && p.DB.Service == "" && len(p.DB.Variants) == 0 {
			for _, name := range f.stack.ServiceNames() {
				if eng := engineOfImage(f.image(name)); eng != "" && eng != "mongodb" {
					d.Engine, d.EngineSource = eng, "image "+f.image(name)+" of "+name
					break
				}
			}
		}
	}
	if d.Engine == "" {
		d.Engine = profile.EnginePostgres
	}
	d.Service = f.dbService(d.Engine, dbRoleService)
	if d.Engine == profile.EngineSQLite && p.DB.Path != "" {
		d.Database = p.DB.Path
		d.Service = f.sqliteService()
	}
	d.Supported = d.Engine == profile.EnginePostgres || d.Engine == profile.EngineSQLite
	if d.Service != "" && d.Engine == profile.EnginePostgres {
		_, _, d.Database = DBCredentials(p, f.stack, nil, d.Service)
	}
	if d.Service != "" {
		d.Image = f.image(d.Service)
		if v, major := serverFromTag(d.Image); major > 0 {
			d.ServerVersion, d.ServerMajor = v, major
			d.ServerVersionSource = "image tag " + d.Image + " of " + d.Service
		}
	}
	if want := or(p.DB.Engine, profile.EnginePostgres); d.Supported && d.Engine != want {
		d.Supported = false
		d.Error = fmt.Sprintf("the profile %s upgrades %s, not %s", p.Name, engineTitle(want), engineTitle(d.Engine))
		warns = append(warns, fmt.Sprintf("the database is %s (from %s), but the profile %s handles %s only: upshift will not plan or run an upgrade of this stack with it", engineTitle(d.Engine), d.EngineSource, p.Name, engineTitle(want)))
	} else if !d.Supported {
		d.Error = engineTitle(d.Engine) + " is not supported by upshift yet"
		warns = append(warns, fmt.Sprintf("the database is %s (from %s), which upshift does not support yet: it upgrades apps on PostgreSQL (and SQLite) only, so it will not plan or run an upgrade of this stack. Nothing was guessed", engineTitle(d.Engine), d.EngineSource))
	} else if d.Engine == profile.EnginePostgres && d.Service == "" {
		warns = append(warns, "no PostgreSQL service in the files: the database is outside this compose project (or missing)")
	}
	return d, warns
}

// sqliteService is the service that bind-mounts the directory holding the
// profile's SQLite file: db.service, the migration service, then any.
func (f *filesView) sqliteService() string {
	host := filepath.Join(f.stack.Invocation.WorkingDir, f.prof.DB.Path)
	order := []string{f.prof.DB.Service, f.prof.Migration.Service}
	order = append(order, f.stack.ServiceNames()...)
	for _, name := range order {
		svc, ok := f.stack.Model.Services[name]
		if !ok {
			continue
		}
		for _, v := range svc.Volumes {
			if v.Type == types.VolumeTypeBind && v.Source != "" && strings.HasPrefix(host, strings.TrimSuffix(v.Source, "/")+"/") {
				return name
			}
		}
	}
	return ""
}

// dbService is the active service that runs engine.
func (f *filesView) dbService(engine, dbRole string) string {
	p := f.prof
	active := func(name string) bool { _, ok := f.stack.Model.Services[name]; return name != "" && ok }
	matches := func(name string) bool { return active(name) && engineOfImage(f.image(name)) == engine }
	for _, v := range p.DB.Variants {
		if v.Engine == engine && matches(v.Service) {
			return v.Service
		}
	}
	if matches(p.DB.Service) {
		return p.DB.Service
	}
	if matches(dbRole) {
		return dbRole
	}
	// Any service of the engine only when the profile names none: Dify's
	// pgvector store is no database server of the app.
	if p.DB.Service == "" && len(p.DB.Variants) == 0 {
		for _, name := range f.stack.ServiceNames() {
			if matches(name) {
				return name
			}
		}
	}
	// An image upshift does not recognise (a custom build) under the
	// profile's own name still counts.
	if active(p.DB.Service) && engineOfImage(f.image(p.DB.Service)) == "" && engine == p.DB.Engine {
		return p.DB.Service
	}
	return ""
}

// EngineTitle is an engine's name for people ("PostgreSQL", "MySQL").
func EngineTitle(e string) string { return engineTitle(e) }

func engineTitle(e string) string {
	switch e {
	case profile.EnginePostgres:
		return "PostgreSQL"
	case profile.EngineMySQL:
		return "MySQL"
	case profile.EngineSQLite:
		return "SQLite"
	case "oceanbase":
		return "OceanBase"
	case "mongodb":
		return "MongoDB"
	}
	return e
}

var (
	pgTagRe   = regexp.MustCompile(`(?:^|[-_.])pg(\d+)(?:$|[-_.])`)
	leadVerRe = regexp.MustCompile(`^v?(\d+)((?:\.\d+)*)`)
)

// serverFromTag reads the server version from an image tag: 15-alpine →
// 15, 17.7 → 17.7, pgvector's pg16 → 16; 0 when the tag says nothing.
func serverFromTag(image string) (string, int) {
	tag := TagOf(image)
	if tag == "" {
		return "", 0
	}
	if m := pgTagRe.FindStringSubmatch(tag); m != nil {
		n, _ := strconv.Atoi(m[1])
		return m[1], n
	}
	m := leadVerRe.FindStringSubmatch(tag)
	if m == nil {
		return "", 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n == 0 {
		return "", 0
	}
	return m[1] + m[2], n
}
