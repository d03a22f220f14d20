package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/pelletier/go-toml/v2"
	"gopkg.in/yaml.v3"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

// readConfigValue reads a dotted key of a TOML, YAML or JSON file, or a key
// of an env file.
func readConfigValue(path string, b []byte, key string) (string, error) {
	var doc map[string]any
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		err = toml.Unmarshal(b, &doc)
	case ".yaml", ".yml":
		err = yaml.Unmarshal(b, &doc)
	case ".json":
		err = json.Unmarshal(b, &doc)
	default:
		m, perr := dotenv.UnmarshalBytesWithLookup(b, nil)
		if perr != nil {
			return "", fmt.Errorf("parse %s: %w", path, perr)
		}
		return m[key], nil
	}
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", path, err)
	}
	var cur any = doc
	for _, part := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", errors.New("no " + key)
		}
		// Keys are matched without regard to case, as n9e's viper does.
		found := false
		for k, v := range m {
			if strings.EqualFold(k, part) {
				cur, found = v, true
				break
			}
		}
		if !found {
			return "", errors.New("no " + key)
		}
	}
	s, ok := cur.(string)
	if !ok {
		return "", errors.New(key + " is not a string")
	}
	return s, nil
}

// jobNameRe are service names of one-shot jobs when compose does not say so.
var jobNameRe = regexp.MustCompile(`(?i)(^|[-_])(init|migrate|migration|migrations|setup|bootstrap|permissions?|seed)([-_]|$)`)

// oneShot reports whether a service runs to completion instead of serving:
// another service waits for it to complete, or it never restarts and its
// name says it is an init or migration job.
func oneShot(m *types.Project, name string) bool {
	for _, s := range m.Services {
		if d, ok := s.DependsOn[name]; ok && d.Condition == types.ServiceConditionCompletedSuccessfully {
			return true
		}
	}
	svc := m.Services[name]
	r := strings.Trim(svc.Restart, `"'`)
	return (r == "" || r == "no") && jobNameRe.MatchString(name)
}

// markJobs gives one-shot services the job role (a database is never one).
func markJobs(m *types.Project, rep *Report) {
	for i := range rep.Services {
		s := &rep.Services[i]
		if s.Role != profile.RoleDB && s.Role != profile.RoleJob && oneShot(m, s.Name) {
			s.Role = profile.RoleJob
		}
	}
}

// migrationReport says what triggers migrations, from the profile and the
// files: a job service of the files that runs the profile's command names
// itself.
func (f *filesView) migrationReport(rep *Report) *MigrationReport {
	m := f.prof.Migration
	mr := &MigrationReport{Mode: m.Mode, Service: m.Service, Command: strings.Join(m.Command, " "), Toggle: m.ToggleEnv}
	switch m.Mode {
	case profile.MigrateOneOff:
		job := ""
		for _, s := range rep.Services {
			svc := f.stack.Model.Services[s.Name]
			if s.Role == profile.RoleJob && len(m.Command) > 0 && slices.Equal([]string(svc.Command), m.Command) {
				job = s.Name
				break
			}
		}
		after := ""
		for _, a := range m.After {
			after += ", then `" + strings.Join(a, " ") + "`"
		}
		if job != "" {
			mr.Service = job
			mr.Trigger = fmt.Sprintf("one-off: the job service %s runs `%s`%s before the app starts; upshift runs it in a one-off container of %s's image", job, mr.Command, after, m.Service)
		} else {
			mr.Trigger = fmt.Sprintf("one-off: upshift runs `%s`%s in a one-off container of %s's image; the image never migrates by itself", mr.Command, after, m.Service)
		}
	case profile.MigrateEntrypoint:
		who := m.Service
		if who == "" {
			who = "the app services"
		}
		mr.Trigger = who + " migrates when it starts (entrypoint)"
		if m.ToggleEnv != "" {
			v, ok := f.stack.ServiceEnv(or(m.Service, appService(f.prof, rep, "")), m.ToggleEnv)
			if !ok {
				v, ok = f.env[m.ToggleEnv]
			}
			if ok {
				on := strings.EqualFold(v, "true") || v == "1" || strings.EqualFold(v, "yes")
				mr.Enabled = &on
				mr.Trigger += fmt.Sprintf(", when %s=true (it is %s)", m.ToggleEnv, v)
			} else {
				mr.Trigger += fmt.Sprintf(", when %s=true (not set in the files)", m.ToggleEnv)
			}
		}
	default:
		mr.Trigger = "none: the app has no schema migrations upshift runs"
	}
	return mr
}

// fileWarnings are the gaps in the files that make `docker compose up`
// fail or make upshift read the wrong project.
func (f *filesView) fileWarnings(explicitFiles bool) []string {
	var w []string
	m := f.stack.Model
	missing := map[string][]string{} // missing file → services mounting it
	var order []string
	for _, name := range f.stack.ServiceNames() {
		for _, v := range m.Services[name].Volumes {
			if v.Type != types.VolumeTypeBind || v.Source == "" {
				continue
			}
			if _, err := os.Stat(v.Source); err == nil {
				continue
			}
			rel, err := filepath.Rel(f.stack.Invocation.WorkingDir, v.Source)
			if err != nil || strings.HasPrefix(rel, "..") {
				rel = v.Source
			}
			switch {
			case looksLikeFile(v.Source):
				if _, ok := missing[rel]; !ok {
					order = append(order, rel)
				}
				if !slices.Contains(missing[rel], name) {
					missing[rel] = append(missing[rel], name)
				}
			case v.Bind != nil && !bool(v.Bind.CreateHostPath):
				w = append(w, fmt.Sprintf("%s bind-mounts the directory %s, which does not exist and compose will not create (create_host_path: false)", name, rel))
			}
		}
	}
	for _, rel := range order {
		w = append(w, fmt.Sprintf("%s bind-mounts %s, which does not exist: `docker compose up` fails (or Docker creates a directory in its place). Fix: create the file (from the app's template) before starting", strings.Join(missing[rel], ", "), rel))
	}
	if !explicitFiles {
		w = append(w, f.overlayHints()...)
	}
	return w
}

// looksLikeFile: a bind source whose name has an extension (config.toml,
// .env) is a file; Docker would create a directory in its place. A ".d"
// directory (conf.d) is not.
func looksLikeFile(p string) bool {
	b := filepath.Base(strings.TrimSuffix(p, "/"))
	if b == "." || b == "/" || b == "" || strings.HasSuffix(p, "/") {
		return false
	}
	ext := filepath.Ext(b)
	return (ext != "" && ext != ".d") || (strings.HasPrefix(b, ".") && len(b) > 1 && !strings.Contains(b[1:], "."))
}

// overlayHints name compose files next to the used ones that compose does
// not load by itself (docker-compose.without-nginx.yml).
func (f *filesView) overlayHints() []string {
	used := map[string]bool{}
	dirs := map[string]bool{}
	for _, p := range f.stack.Invocation.Files {
		used[p] = true
		dirs[filepath.Dir(p)] = true
	}
	var extra []string
	for d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			n := e.Name()
			full := filepath.Join(d, n)
			if e.IsDir() || used[full] || !composeLike(n) || !f.isOverlay(full) {
				continue
			}
			extra = append(extra, n)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	base := make([]string, 0, len(f.stack.Invocation.Files))
	for _, p := range f.stack.Invocation.Files {
		base = append(base, "-f "+filepath.Base(p))
	}
	return []string{fmt.Sprintf("other compose files are next to %s and were not read: %s. If you start the stack with one of them, pass it too (%s -f %s), or upshift sees another project than the one running", filepath.Base(f.stack.Invocation.Files[0]), strings.Join(extra, ", "), strings.Join(base, " "), extra[0])}
}

// composeLike matches compose overlay names: docker-compose.X.yml,
// compose.X.yaml (the override file compose loads itself is excluded).
func composeLike(n string) bool {
	ext := filepath.Ext(n)
	if ext != ".yml" && ext != ".yaml" {
		return false
	}
	stem := strings.TrimSuffix(n, ext)
	for _, p := range []string{"docker-compose.", "compose."} {
		if rest, ok := strings.CutPrefix(stem, p); ok && rest != "" && rest != "override" {
			return true
		}
	}
	return false
}

// isOverlay: the file changes services of this project without defining
// them (no image, no build), as docker-compose.without-nginx.yml does; a
// second full stack (docker-compose.middleware.yaml) is not one.
func (f *filesView) isOverlay(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var doc struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if yaml.Unmarshal(b, &doc) != nil {
		return false
	}
	for name, svc := range doc.Services {
		_, image := svc["image"]
		_, build := svc["build"]
		if _, known := f.stack.Model.Services[name]; known && !image && !build {
			return true
		}
	}
	return false
}
