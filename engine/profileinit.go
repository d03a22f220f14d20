package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/internal/httpx"
	"github.com/seed-e7a9fb3b/upshift/internal/schematool"
	"github.com/seed-e7a9fb3b/upshift/pg"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/upgrade"
)

// healthPaths and versionPaths are the endpoints profile init tries on the
// app's ports.
var (
	healthPaths  = []string{"/healthcheck", "/health", "/healthz", "/api/health", "/status", "/ping"}
	versionPaths = []string{"/version", "/api/version", "/v1/version"}
	urlPortRe    = regexp.MustCompile(`://[^/:\s]+:(\d+)(/[^\s"']*)?`)
)

// credentialKeys are the db service's env keys profile init looks for.
var credentialKeys = [3][]string{
	{"POSTGRES_USER", "POSTGRESQL_USERNAME", "POSTGRESQL_USER", "DB_USER"},
	{"POSTGRES_PASSWORD", "POSTGRESQL_PASSWORD", "DB_PASSWORD"},
	{"POSTGRES_DB", "POSTGRESQL_DATABASE", "DB_NAME"},
}

// ProfileDraft reads the stack (compose files, and the running containers
// and database where they answer) into a starting profile: the app's
// images, where the version lives, the db service and its credential
// keys, schema table candidates, health endpoints that answer.
func (s *Session) ProfileDraft(ctx context.Context, name string) (*profile.Draft, error) {
	det := s.Det
	rep := &det.Report
	d := &profile.Draft{Name: name, Version: rep.Version, FilesOnly: s.offline}
	if d.Name == "" {
		d.Name = sanitizeName(filepath.Base(rep.Dir))
	}
	d.Description = d.Name + " (compose project " + rep.Project + ")"
	primary := ""
	for _, sv := range rep.Services {
		if sv.Role == profile.RoleApp && sv.Image != "" {
			primary = sv.Image
			break
		}
	}
	if primary == "" {
		return nil, fmt.Errorf("no app service with an image in %s: profile init needs the app's image to start from", rep.Dir)
	}
	d.AppImages = []string{repoOf(primary)}
	for _, sv := range rep.Services {
		switch {
		case sv.Role == profile.RoleDB:
			if d.DBService == "" {
				d.DBService = sv.Name
			}
		case sv.Image != "" && repoOf(sv.Image) == repoOf(primary):
			d.AppServices = append(d.AppServices, sv.Name)
		}
	}
	if err := s.draftApply(d); err != nil {
		return nil, err
	}
	s.draftDB(d)
	s.draftSchema(ctx, d)
	s.draftHTTP(ctx, d)
	if s.Eng != nil {
		if img, ok, err := s.Eng.ImageInspect(ctx, primary); err == nil && ok {
			if repo, ok := releases.GitHubRepoOfSource(img.Labels[releases.LabelSource]); ok {
				d.NotesGitHub = repo
				d.NotesWhy = "release notes: the image's " + releases.LabelSource + " label names github.com/" + repo
			} else {
				d.NotesWhy = "the image has no " + releases.LabelSource + " label naming a GitHub repository; say where the release notes are"
			}
		}
	}
	return d, nil
}

func (s *Session) draftApply(d *profile.Draft) error {
	sites, err := upgrade.FindVersionSites(s.Det.Stack.Invocation.Files, os.ReadFile, d.AppServices)
	if err != nil {
		return err
	}
	kinds, keys := map[string]bool{}, map[string]bool{}
	for _, st := range sites {
		kinds[st.Kind] = true
		if st.Key != "" {
			keys[st.Key] = true
		}
		d.ApplyWhy = append(d.ApplyWhy, st.Service+": "+st.Describe())
	}
	switch {
	case len(sites) == 0:
		d.Apply = profile.Apply{Method: profile.ApplyAuto}
		d.ApplyWhy = append(d.ApplyWhy, "no compose file sets the app's image: line; auto will refuse until one does")
	case len(kinds) == 1 && kinds[upgrade.SiteEnvImage] && len(keys) == 1:
		d.Apply = profile.Apply{Method: profile.ApplyEnv, EnvKey: sites[0].Key, Form: profile.FormImage}
	case len(kinds) == 1 && kinds[upgrade.SiteEnvTag] && len(keys) == 1:
		d.Apply = profile.Apply{Method: profile.ApplyEnv, EnvKey: sites[0].Key, Form: profile.FormTag}
	case len(kinds) == 1 && kinds[upgrade.SiteComposeTag]:
		d.Apply = profile.Apply{Method: profile.ApplyImageTag, Services: d.AppServices}
	default:
		d.Apply = profile.Apply{Method: profile.ApplyAuto}
		if kinds[upgrade.SiteUnknown] {
			d.ApplyWhy = append(d.ApplyWhy, "some image: lines mix variables upshift cannot set: make the version one variable or a literal tag")
		}
	}
	if strings.HasPrefix(detect.TagOf(s.primaryImage()), "v") {
		d.Apply.TagTemplate = "v{{version}}"
	}
	return nil
}

func (s *Session) primaryImage() string {
	for _, sv := range s.Det.Report.Services {
		if sv.Role == profile.RoleApp && sv.Image != "" {
			return sv.Image
		}
	}
	return ""
}

func (s *Session) draftDB(d *profile.Draft) {
	if d.DBService == "" {
		return
	}
	out := [3]*string{&d.DBUserEnv, &d.DBPasswordEnv, &d.DBDatabaseEnv}
	for i, keys := range credentialKeys {
		for _, k := range keys {
			if _, ok := s.Det.Stack.ServiceEnv(d.DBService, k); ok {
				*out[i] = k
				break
			}
		}
	}
}

func (s *Session) draftSchema(ctx context.Context, d *profile.Draft) {
	rep := &s.Det.Report
	tool := rep.Schema.Tool
	if tool != "" && tool != schematool.Auto && tool != schematool.None && tool != schematool.Table {
		d.Schema = profile.Schema{Tool: tool, Table: schematool.OwnTable(tool)}
		d.SchemaWhy = append(d.SchemaWhy, fmt.Sprintf("%s's table, head %s", tool, rep.Schema.Head))
		return
	}
	d.Schema = profile.Schema{Tool: schematool.None}
	if !rep.DB.Reachable || s.Det.DB.Params.Host == "" {
		d.SchemaWhy = append(d.SchemaWhy, "the database did not answer, so no table was looked at; tool none until you name it (tool: table, table: ..., column: ...)")
		return
	}
	conn, err := pg.Connect(ctx, s.Det.DB.Params)
	if err != nil {
		d.SchemaWhy = append(d.SchemaWhy, "could not connect to look for tables: "+err.Error())
		return
	}
	defer func() { _ = conn.Close(ctx) }()
	found, err := conn.FindVersionTables(ctx)
	if err != nil {
		d.SchemaWhy = append(d.SchemaWhy, err.Error())
		return
	}
	for i, t := range found {
		pick := ""
		if i == 0 {
			pick = " (picked)"
		}
		d.SchemaWhy = append(d.SchemaWhy, fmt.Sprintf("%s.%s, %d row(s)%s", t.Table, t.Column, t.Rows, pick))
	}
	if len(found) == 0 {
		d.SchemaWhy = append(d.SchemaWhy, "no table named like *schema*version* or *migrations* with a version column: tool none (verify checks health and version only)")
		return
	}
	d.Schema = profile.Schema{Tool: schematool.Table, Table: found[0].Table, Column: found[0].Column}
}

// draftHTTP tries the usual health and version endpoints on the app's ports
// (from compose ports/expose and its healthcheck command).
func (s *Session) draftHTTP(ctx context.Context, d *profile.Draft) {
	if len(d.AppServices) == 0 {
		return
	}
	svcName := d.AppServices[0]
	svc, ok := s.Det.Stack.Model.Services[svcName]
	if !ok {
		return
	}
	var ports []int
	paths := slices.Clone(healthPaths)
	add := func(p int) {
		if p > 0 && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	if hc := svc.HealthCheck; hc != nil {
		for _, m := range urlPortRe.FindAllStringSubmatch(strings.Join(hc.Test, " "), -1) {
			p, _ := strconv.Atoi(m[1])
			add(p)
			if m[2] != "" && !slices.Contains(paths, m[2]) {
				paths = append([]string{m[2]}, paths...)
			}
		}
	}
	for _, p := range svc.Ports {
		add(int(p.Target))
	}
	for _, e := range svc.Expose {
		p, _ := strconv.Atoi(strings.Split(e, "/")[0])
		add(p)
	}
	c, running := s.Det.Containers[svcName]
	if !running || c.State != "running" {
		for _, p := range ports {
			d.HealthWhy = append(d.HealthWhy, fmt.Sprintf("%s is not running: port %d not tried", svcName, p))
		}
		return
	}
	get := func(port int, path string) (int, string) {
		var addrs []string
		for _, ip := range c.Networks {
			if ip != "" {
				addrs = append(addrs, net.JoinHostPort(ip, strconv.Itoa(port)))
			}
		}
		if hp, ok := c.HostPort(port); ok {
			addrs = append(addrs, hp)
		}
		for _, a := range addrs {
			r, err := httpx.GetResponse(ctx, "http://"+a+path, 64<<10, 2*time.Second)
			if err == nil {
				return r.StatusCode, strings.TrimSpace(string(r.Body))
			}
			if he := (*httpx.Error)(nil); errors.As(err, &he) && he.StatusCode != 0 {
				return he.StatusCode, ""
			}
		}
		return 0, ""
	}
	for _, port := range ports {
		for _, path := range paths {
			status, _ := get(port, path)
			if status == 0 {
				d.HealthWhy = append(d.HealthWhy, fmt.Sprintf("%s:%d: no answer", svcName, port))
				break
			}
			d.HealthWhy = append(d.HealthWhy, fmt.Sprintf("GET %s:%d%s → %d", svcName, port, path, status))
			if status == 200 && len(d.Health) == 0 {
				d.Health = append(d.Health, profile.HealthCheck{Type: profile.HealthHTTP, Service: svcName, Port: port, Path: path})
			}
		}
		for _, path := range versionPaths {
			if status, body := get(port, path); status == 200 && d.Version != "" && strings.TrimPrefix(body, "v") == d.Version && d.VersionHTTP == nil {
				d.VersionHTTP = &profile.VersionSource{Type: profile.VersionHTTP, Service: svcName, Port: port, Path: path}
			}
		}
	}
}

func repoOf(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if t := detect.TagOf(ref); t != "" {
		ref = strings.TrimSuffix(ref, ":"+t)
	}
	return ref
}

var nameBadRe = regexp.MustCompile(`[^a-z0-9._-]+`)

func sanitizeName(s string) string {
	s = strings.Trim(nameBadRe.ReplaceAllString(strings.ToLower(s), "-"), "-._")
	if s == "" {
		return "my-app"
	}
	return s
}
