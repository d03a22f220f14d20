package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/pg"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/releases/version"
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
	if opts.Offline {
		rep.Version = "unknown (offline)"
		rep.VersionSource = "none"
		rep.DB = DBReport{Engine: prof.DB.Engine, Service: dbService(prof, rep)}
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
		rep.Version, rep.VersionSource = v, src
		if warn != "" {
			rep.Warnings = append(rep.Warnings, warn)
		}
	}()
	go func() {
		defer wg.Done()
		probeDB(ctx, prof, res)
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

func dbService(p *profile.Profile, rep *Report) string {
	if p.DB.Service != "" {
		return p.DB.Service
	}
	for _, s := range rep.Services {
		if s.Role == profile.RoleDB {
			return s.Name
		}
	}
	return ""
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

// floatingTags are tags that name a moving target, never a version.
var versionLike = regexp.MustCompile(`^v?\d+(\.\d+)+([-+][0-9A-Za-z.-]+)?$`)

// TagOf returns the tag of an image reference ("" when none).
func TagOf(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[i+1:]
	}
	return ""
}

// IsFloatingTag reports whether a tag is a moving name (latest, stable, a
// branch) rather than a version.
func IsFloatingTag(tag string) bool { return !versionLike.MatchString(tag) }

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

func probeVersion(ctx context.Context, eng *dockerx.Engine, p *profile.Profile, res *Result, rep *Report) (version, source, warning string) {
	var tried []string
	for _, src := range p.Version.Sources {
		svc := appService(p, rep, src.Service)
		c, running := res.Containers[svc]
		switch src.Type {
		case profile.VersionHTTP:
			if !running || c.State != "running" {
				tried = append(tried, "http ("+svc+" not running)")
				continue
			}
			v, err := httpVersion(ctx, c, src)
			if err == nil && v != "" {
				return v, fmt.Sprintf("http GET %s:%d%s", svc, src.Port, src.Path), ""
			}
			tried = append(tried, fmt.Sprintf("http %s%s: %v", svc, src.Path, err))
		case profile.VersionCommand:
			if !running || c.State != "running" {
				tried = append(tried, "command ("+svc+" not running)")
				continue
			}
			v, err := commandVersion(ctx, eng, c, src)
			if err == nil && v != "" {
				return v, "command `" + strings.Join(src.Command, " ") + "` in " + svc, ""
			}
			tried = append(tried, fmt.Sprintf("command in %s: %v", svc, err))
		case profile.VersionOCILabel:
			label := src.Label
			if label == "" {
				label = dockerx.LabelVersionOCI
			}
			ref := c.ImageID
			if ref == "" {
				if s, ok := rep.Service(svc); ok {
					ref = s.Image
				}
			}
			img, ok, err := eng.ImageInspect(ctx, ref)
			if err == nil && ok && img.Labels[label] != "" && !IsFloatingTag(img.Labels[label]) {
				return strings.TrimPrefix(img.Labels[label], "v"), "OCI label " + label + " of " + svc + "'s image", ""
			}
			tried = append(tried, "OCI label "+label+" absent")
		case profile.VersionImageTag:
			s, ok := rep.Service(svc)
			if !ok {
				continue
			}
			tag := TagOf(s.Image)
			if tag == "" {
				tag = "latest"
			}
			if IsFloatingTag(tag) {
				tried = append(tried, "image tag "+tag+" is floating")
				return "unknown (tag " + tag + ")", "none", "the image tag of " + svc + " is " + tag + ", which names a moving target, not a version; upshift could not read the real version (" + strings.Join(tried, "; ") + ")"
			}
			return strings.TrimPrefix(tag, "v"), "image tag of " + svc, ""
		}
	}
	return "unknown", "none", "could not tell the running version: " + strings.Join(tried, "; ")
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

func httpVersion(ctx context.Context, c dockerx.Container, src profile.VersionSource) (string, error) {
	var addrs []string
	for _, ip := range c.Networks {
		if ip != "" {
			addrs = append(addrs, net.JoinHostPort(ip, strconv.Itoa(src.Port)))
		}
	}
	sort.Strings(addrs)
	if hp, ok := c.HostPort(src.Port); ok {
		addrs = append(addrs, hp)
	}
	lastErr := errors.New("no address")
	for _, a := range addrs {
		v, err := getVersion(ctx, "http://"+a+src.Path, src)
		if err == nil {
			return v, nil
		}
		lastErr = err
	}
	return "", lastErr
}

func getVersion(ctx context.Context, url string, src profile.VersionSource) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("request: %w", err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	var v string
	switch {
	case src.Header != "":
		v = strings.TrimSpace(resp.Header.Get(src.Header))
	case src.JSON != "":
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return "", fmt.Errorf("not JSON: %w", err)
		}
		s, ok := m[src.JSON].(string)
		if !ok {
			return "", fmt.Errorf("no string field %q", src.JSON)
		}
		v = strings.TrimSpace(s)
	default:
		v = strings.TrimSpace(string(body))
	}
	if src.Regexp != "" {
		re, err := regexp.Compile(src.Regexp)
		if err != nil {
			return "", fmt.Errorf("profile regexp: %w", err)
		}
		m := re.FindStringSubmatch(v)
		if len(m) < 2 {
			return "", fmt.Errorf("%q does not match %s", v, src.Regexp)
		}
		v = m[1]
	}
	if !versionLike.MatchString(v) {
		return "", fmt.Errorf("answered %q, which is not a version", v)
	}
	return v, nil
}

func commandVersion(ctx context.Context, eng *dockerx.Engine, c dockerx.Container, src profile.VersionSource) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var out strings.Builder
	r, err := eng.Exec(ctx, c.ID, src.Command, nil, "", nil, &out, nil)
	if err != nil {
		return "", err
	}
	if r.ExitCode != 0 {
		return "", fmt.Errorf("exit %d: %s", r.ExitCode, r.Stderr)
	}
	s := strings.TrimSpace(out.String())
	if src.Regexp != "" {
		re, err := regexp.Compile(src.Regexp)
		if err != nil {
			return "", fmt.Errorf("profile regexp: %w", err)
		}
		m := re.FindStringSubmatch(s)
		if len(m) < 2 {
			return "", fmt.Errorf("output does not match %s", src.Regexp)
		}
		s = m[1]
	}
	return strings.TrimPrefix(s, "v"), nil
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

func probeDB(ctx context.Context, p *profile.Profile, res *Result) {
	rep := &res.Report
	svc := dbService(p, rep)
	rep.DB = DBReport{Engine: or(p.DB.Engine, profile.EnginePostgres), Service: svc}
	rep.Schema = SchemaReport{Tool: p.Schema.Tool}
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
		sch, err = conn.ReadSchema(ctx, p.Schema.Tool)
	}
	if err != nil {
		rep.Schema.Detail = err.Error()
		return
	}
	rep.Schema = SchemaReport{Tool: sch.Tool, Head: sch.Head, Heads: sch.Heads, Dirty: sch.Dirty, Failed: sch.Failed, Detail: sch.Detail}
}

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
