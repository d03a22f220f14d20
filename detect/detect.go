package detect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/pg"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

// Options say what to look at.
type Options struct {
	StackOptions
	// Profile forces a profile by name ("" = match automatically).
	Profile string
	// Profiles are the profiles to choose from (built-in + user files).
	Profiles []*profile.Profile
	// Offline reads only the compose files: no Docker, no database.
	Offline bool
}

// Result is a Report plus what the engine needs to act on the stack. The
// non-Report fields hold credentials and are never serialised.
type Result struct {
	Report     Report
	Stack      *Stack
	Profile    *profile.Profile
	Containers map[string]dockerx.Container // by service (the first non-one-off container)
	DB         DBTarget
}

// DBTarget says how to reach the database. Params holds the password.
type DBTarget struct {
	Service   string
	Container string // container ID
	Params    pg.Params
	SQLite    *SQLiteTarget // set for SQLite apps
}

// Detect reads the stack. Errors are returned only when nothing useful can
// be said (no compose file, invalid compose, no engine); everything else
// ends up as a warning in the report.
func Detect(ctx context.Context, eng *dockerx.Engine, opts Options) (*Result, error) {
	var lister containerLister
	if eng != nil {
		lister = eng
	}
	stack, err := LoadStack(ctx, lister, opts.StackOptions)
	if err != nil {
		return nil, err
	}
	res := &Result{Stack: stack, Containers: map[string]dockerx.Container{}}
	rep := &res.Report
	rep.Project = stack.Invocation.Name
	rep.Dir = stack.Invocation.WorkingDir
	rep.ComposeFiles = stack.Invocation.Files
	rep.Warnings = []string{}

	var containers []dockerx.Container
	if !opts.Offline {
		if eng == nil {
			return nil, errors.New("detect needs a Docker engine (or --offline)")
		}
		containers, err = eng.ProjectContainers(ctx, stack.Invocation.Name)
		if err != nil {
			return nil, err
		}
		if len(containers) == 0 && opts.Project == "" {
			// Started with -p OTHER from this directory: find it the way
			// compose does, by the containers' working_dir label.
			containers, err = adoptProjectIn(ctx, eng, stack, rep)
			if err != nil {
				return nil, err
			}
		}
	}
	for _, c := range containers {
		if c.OneOff || c.Service == "" {
			continue
		}
		if prev, ok := res.Containers[c.Service]; !ok || (prev.State != "running" && c.State == "running") {
			res.Containers[c.Service] = c
		}
	}

	infos := make([]profile.ServiceInfo, 0, len(stack.Model.Services))
	for _, name := range stack.ServiceNames() {
		svc := stack.Model.Services[name]
		cn := svc.ContainerName
		if c, ok := res.Containers[name]; ok {
			cn = c.Name
		}
		infos = append(infos, profile.ServiceInfo{Name: name, Image: svc.Image, ContainerName: cn})
	}
	prof, why, err := chooseProfile(opts, infos)
	if err != nil {
		return nil, err
	}
	res.Profile = prof
	rep.Profile = prof.Name
	rep.App = prof.Name
	rep.ProfileReason = why

	for _, in := range infos {
		sr := ServiceReport{Name: in.Name, Role: prof.RoleOf(in), Image: in.Image, State: "not created", Health: "-"}
		if c, ok := res.Containers[in.Name]; ok {
			sr.Container = c.Name
			sr.Image = c.Image
			sr.ImageID = c.ImageID
			sr.State = c.State
			sr.RestartCount = c.RestartCount
			sr.ExitCode = c.ExitCode
			if c.Health != "" {
				sr.Health = c.Health
			}
		}
		rep.Services = append(rep.Services, sr)
	}
	fv := newFilesView(stack, prof)
	markJobs(stack.Model, rep)
	fileDB, dbWarns := fv.db(rep)
	for i := range rep.Services {
		// A SQLite file lives in an app container; a server is the db.
		if rep.Services[i].Name == fileDB.Service && fileDB.Engine != profile.EngineSQLite {
			rep.Services[i].Role = profile.RoleDB
		}
	}
	rep.Migration = fv.migrationReport(rep)
	fileV, fileSrc, loc, floating := fv.version(rep)
	rep.VersionLocation = loc
	rep.Warnings = append(rep.Warnings, dbWarns...)
	rep.Warnings = append(rep.Warnings, fv.fileWarnings(len(opts.Files) > 0)...)
	if ex := stack.ExampleEnvFile; ex != "" {
		rep.Warnings = append(rep.Warnings, "there is no .env: "+filepath.Base(ex)+" was read in its place (as `cp "+filepath.Base(ex)+" .env` would give); a stack started without a .env may differ")
	}
	if opts.Offline {
		rep.Version, rep.VersionSource, rep.VersionFloating = fileV, fileSrc, floating
		if floating {
			rep.Warnings = append(rep.Warnings, "the version is not in the files: "+fileSrc+" names a moving target, not a version. Fix: start the stack and run `upshift detect` (it asks the running app), or pin the image to a version tag")
		}
		rep.DB = fileDB
		rep.Schema = SchemaReport{Tool: prof.Schema.Tool}
		return res, nil
	}

	// Independent probes run concurrently.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Add(3)
	go func() {
		defer wg.Done()
		v, src, warn := probeVersion(ctx, eng, prof, res, rep)
		mu.Lock()
		defer mu.Unlock()
		if !strings.HasPrefix(v, "unknown") {
			v = AppForm(prof, v)
		}
		rep.Version, rep.VersionSource = v, src
		rep.VersionFloating = floating && strings.HasPrefix(v, "unknown")
		// A tag read from the files (no container) is named as offline.
		if svc, ok := strings.CutPrefix(src, "image tag of "); ok && v == fileV {
			if _, running := res.Containers[svc]; !running {
				rep.VersionSource = fileSrc
			}
		}
		if warn != "" {
			rep.Warnings = append(rep.Warnings, warn)
		}
	}()
	go func() {
		defer wg.Done()
		probeDB(ctx, prof, res, fileDB)
	}()
	go func() {
		defer wg.Done()
		digests(ctx, eng, rep)
	}()
	wg.Wait()
	rep.Warnings = append(rep.Warnings, judge(prof, rep)...)
	return res, nil
}

func chooseProfile(opts Options, infos []profile.ServiceInfo) (*profile.Profile, string, error) {
	if opts.Profile != "" {
		for _, p := range opts.Profiles {
			if p.Name == opts.Profile {
				return p, "chosen with --profile", nil
			}
		}
		p, err := profile.Load(opts.Profile)
		if err != nil {
			return nil, "", fmt.Errorf("--profile %s: not a known profile name, and as a file: %w", opts.Profile, err)
		}
		return p, "loaded from " + opts.Profile, nil
	}
	p, _, why := profile.Match(opts.Profiles, infos)
	if p == nil {
		return nil, "", fmt.Errorf("no profile matches this project (%s) and it has no PostgreSQL service, so the generic profile does not apply either. Fix: pass --profile FILE with a profile for this app", why)
	}
	return p, why, nil
}

func digests(ctx context.Context, eng *dockerx.Engine, rep *Report) {
	for i := range rep.Services {
		s := &rep.Services[i]
		ref := s.ImageID
		if ref == "" {
			ref = s.Image
		}
		img, ok, err := eng.ImageInspect(ctx, ref)
		if err != nil || !ok {
			continue
		}
		s.ImageID = img.ID
		if len(img.RepoDigests) > 0 {
			s.Digest = img.RepoDigests[0]
		}
	}
}

func appService(p *profile.Profile, rep *Report, want string) string {
	if want != "" {
		return want
	}
	for _, s := range rep.Services {
		if s.Role == profile.RoleApp {
			return s.Name
		}
	}
	return ""
}

// DBCredentials reads the database credentials of the db service: from the
// running container's environment first, then the compose model.
func DBCredentials(p *profile.Profile, stack *Stack, c *dockerx.Container, service string) (user, password, database string) {
	get := func(key, def string) string {
		if key == "" {
			return def
		}
		if c != nil {
			if v, ok := c.EnvValue(key); ok && v != "" {
				return v
			}
		}
		if v, ok := stack.ServiceEnv(service, key); ok && v != "" {
			return v
		}
		return def
	}
	user = get(or(p.DB.UserEnv, "POSTGRES_USER"), "postgres")
	password = get(or(p.DB.PasswordEnv, "POSTGRES_PASSWORD"), "")
	database = get(or(p.DB.DatabaseEnv, "POSTGRES_DB"), user)
	return user, password, database
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// probeDB asks the database server; base is what the files say of it (the
// engine, the service, the server version of its image tag).
func probeDB(ctx context.Context, p *profile.Profile, res *Result, base DBReport) {
	rep := &res.Report
	svc := base.Service
	rep.DB = base
	rep.Schema = SchemaReport{Tool: p.Schema.Tool}
	if !base.Supported {
		return
	}
	if rep.DB.Engine == profile.EngineSQLite {
		probeSQLite(ctx, p, res)
		return
	}
	if rep.DB.Engine != profile.EnginePostgres {
		rep.DB.Error = "engine " + rep.DB.Engine + " is not probed"
		return
	}
	if svc == "" {
		rep.DB.Error = "no database service in this project"
		return
	}
	c, ok := res.Containers[svc]
	if !ok || c.State != "running" {
		rep.DB.Error = "the " + svc + " container is not running"
		return
	}
	user, password, database := DBCredentials(p, res.Stack, &c, svc)
	rep.DB.Database = database
	res.DB = DBTarget{Service: svc, Container: c.ID}
	var addrs []string
	for _, ip := range c.Networks {
		if ip != "" {
			addrs = append(addrs, ip)
		}
	}
	sort.Strings(addrs)
	type hp struct{ host, port string }
	var cands []hp
	for _, a := range addrs {
		cands = append(cands, hp{a, "5432"})
	}
	if pub, ok := c.HostPort(5432); ok {
		h, port, _ := net.SplitHostPort(pub)
		cands = append(cands, hp{h, port})
	}
	if len(cands) == 0 {
		rep.DB.Error = "the " + svc + " container has no network address and no published port 5432"
		return
	}
	var conn *pg.Conn
	var lastErr error
	for _, cand := range cands {
		params := pg.Params{Host: cand.host, Port: cand.port, User: user, Password: password, Database: database, SSLMode: "disable"}
		cc, err := pg.Connect(ctx, params)
		if err == nil {
			conn = cc
			res.DB.Params = params
			rep.DB.Address = net.JoinHostPort(cand.host, cand.port)
			break
		}
		lastErr = err
		if errors.Is(err, pg.ErrAuth) || errors.Is(err, pg.ErrNoDatabase) {
			break // another address will not help
		}
	}
	if conn == nil {
		rep.DB.Error = lastErr.Error()
		return
	}
	defer func() { _ = conn.Close(ctx) }()
	rep.DB.Reachable = true
	if v, err := conn.ServerVersion(ctx); err == nil {
		rep.DB.ServerVersion = v.Text
		rep.DB.ServerMajor = v.Major
		rep.DB.ServerVersionSource = "the server"
	}
	if n, err := conn.DatabaseSize(ctx); err == nil {
		rep.DB.SizeBytes = n
	}
	if n, err := conn.Connections(ctx); err == nil {
		rep.DB.Connections = n
	}
	var sch pg.Schema
	var err error
	switch p.Schema.Tool {
	case "", "auto":
		sch, err = conn.DetectSchema(ctx)
	default:
		sch, err = conn.ReadSchemaIn(ctx, p.Schema.Tool, p.Schema.Table, p.Schema.Column)
	}
	if err != nil {
		rep.Schema.Detail = err.Error()
		return
	}
	rep.Schema = SchemaReport{Tool: sch.Tool, Head: sch.Head, Heads: sch.Heads, Dirty: sch.Dirty, Failed: sch.Failed, Detail: sch.Detail}
}

// adoptProjectIn looks for the running project started from the stack's
// directory under another name (-p NAME). One is taken (and said); several
// are named in a warning, for -p.
func adoptProjectIn(ctx context.Context, eng *dockerx.Engine, stack *Stack, rep *Report) ([]dockerx.Container, error) {
	names, err := eng.ProjectsIn(ctx, stack.Invocation.WorkingDir)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	if len(names) > 1 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("no containers of project %q, but projects %s were started from this directory: pass -p NAME to pick one", stack.Invocation.Name, strings.Join(names, ", ")))
		return nil, nil
	}
	rep.Warnings = append(rep.Warnings, fmt.Sprintf("the containers of this directory belong to project %q (started with -p %s), not %q: upshift uses %q", names[0], names[0], stack.Invocation.Name, names[0]))
	stack.Invocation.Name = names[0]
	stack.Model.Name = names[0]
	rep.Project = names[0]
	return eng.ProjectContainers(ctx, names[0])
}
