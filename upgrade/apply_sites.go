package upgrade

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// Where the files keep the version of an app service's image.
const (
	SiteComposeTag = "compose-tag" // image: miniflux/miniflux:2.2.6
	SiteEnvTag     = "env-tag"     // image: miniflux/miniflux:${MINIFLUX_TAG}
	SiteEnvImage   = "env-image"   // image: ${MINIFLUX_IMAGE:-miniflux/miniflux:latest}
	SiteUnknown    = "unknown"     // image: ${REGISTRY}/app-${FLAVOUR}: upshift cannot tell
)

// VersionSite is one place the files keep the version of a service's image.
type VersionSite struct {
	Service string `json:"service"`
	Kind    string `json:"kind"`
	File    string `json:"file"`          // the compose file whose image: line it is
	Line    int    `json:"line"`          // of the image: value
	Raw     string `json:"raw"`           // the image: value as written
	Key     string `json:"key,omitempty"` // the variable (env kinds)
	Default string `json:"default,omitempty"`
	// Via: how the service reaches that line when it does not write it
	// itself ("the anchor &defaults", "extends base in common.yml").
	Via string `json:"via,omitempty"`
}

// Describe says where the version lives, for plan and profile init.
func (s VersionSite) Describe() string {
	loc := fmt.Sprintf("%s:%d", filepath.Base(s.File), s.Line)
	via := ""
	if s.Via != "" {
		via = ", reached through " + s.Via
	}
	switch s.Kind {
	case SiteComposeTag:
		return fmt.Sprintf("the image tag in %s (%s%s)", loc, s.Raw, via)
	case SiteEnvTag:
		return fmt.Sprintf("the tag in .env %s (%s: %s%s)", s.Key, loc, s.Raw, via)
	case SiteEnvImage:
		return fmt.Sprintf("the whole image reference in .env %s (%s: %s%s), kept in that form", s.Key, loc, s.Raw, via)
	}
	return fmt.Sprintf("%s: image %s%s mixes variables upshift cannot set", loc, s.Raw, via)
}

var wholeVarRe = regexp.MustCompile(`^\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::?[-?]([^}]*))?\}?$`)

// FindVersionSites reads the image: lines of services in the compose files
// (a later file overrides an earlier one, like compose) and says where each
// keeps its version.
func FindVersionSites(files []string, read func(string) ([]byte, error), services []string) ([]VersionSite, error) {
	got := map[string]VersionSite{}
	docs := newComposeDocs(read)
	for _, name := range services {
		site, ok, err := docs.serviceKey(files, name, "image")
		if err != nil {
			return nil, err
		}
		if ok && site.Node.Kind == yaml.ScalarNode {
			s := classify(name, site.File, site.Node.Line, site.Node.Value)
			s.Via = strings.Join(site.Via, ", ")
			got[name] = s
		}
	}
	var out []VersionSite
	for _, name := range services {
		if s, ok := got[name]; ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func classify(service, file string, line int, raw string) VersionSite {
	s := VersionSite{Service: service, File: file, Line: line, Raw: raw, Kind: SiteUnknown}
	if !strings.Contains(raw, "$") {
		s.Kind = SiteComposeTag
		return s
	}
	if m := wholeVarRe.FindStringSubmatch(raw); m != nil {
		s.Kind, s.Key, s.Default = SiteEnvImage, m[1], m[2]
		return s
	}
	// repo:${TAG}: the variable is the whole tag, the repository is literal.
	slash := strings.LastIndex(raw, "/")
	if i := strings.LastIndex(raw, ":"); i > slash && !strings.Contains(raw[:i], "$") {
		if m := wholeVarRe.FindStringSubmatch(raw[i+1:]); m != nil {
			s.Kind, s.Key, s.Default = SiteEnvTag, m[1], m[2]
		}
	}
	return s
}

// appImageServices are the app services whose image upshift manages: the
// writers whose image is the app's (its repository or its version's tag).
func (e *Env) appImageServices() []string {
	var out []string
	for _, name := range e.Writers() {
		svc, ok := e.Start.Stack.Model.Services[name]
		if ok && svc.Image != "" && e.isAppImage(svc.Image) {
			out = append(out, name)
		}
	}
	return out
}

// primaryImage is the image of the service the version is read from (the
// first app-role service, as detect reads it).
func (e *Env) primaryImage() string {
	for _, s := range e.Start.Report.Services {
		if s.Role == profile.RoleApp {
			return s.Image
		}
	}
	return ""
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

// envValueFor is what an env key holding the version gets for version:
// the tag, or, when it holds a whole image reference (form image, or a
// value that already is one), that reference with only its tag changed.
func (e *Env) envValueFor(form, current, version string) string {
	tag := e.tagFor(version)
	if strings.ContainsAny(tag, "/:") {
		return tag // the template spells the whole reference itself
	}
	if form == profile.FormImage || (form == "" && looksLikeImage(current)) {
		if current == "" {
			current = e.primaryImage()
		}
		return withTag(current, tag)
	}
	return tag
}

// looksLikeImage: "miniflux/miniflux:2.2.6" or "postgres:16" is a
// reference; "2.2.6" or "v1.4" is a tag.
func looksLikeImage(v string) bool {
	return strings.Contains(v, "/") || (strings.Contains(v, ":") && !strings.HasPrefix(v, ":"))
}

// applyAuto sets the version wherever the files keep it for each app
// service: it edits env (the merged .env) and returns the compose files
// it rewrites. Every service must have a site upshift can set.
func (e *Env) applyAuto(env []byte, read func(string) ([]byte, error), version string) (outEnv []byte, oldFiles, newFiles map[string][]byte, err error) {
	services := e.appImageServices()
	if len(services) == 0 {
		return nil, nil, nil, fmt.Errorf("no app service's image looks like the app's (%s): upshift does not know which images to change. Nothing was changed. Fix: write a profile (upshift profile init) that names them", orDash(e.primaryImage()))
	}
	sites, err := FindVersionSites(e.Project.Files, read, services)
	if err != nil {
		return nil, nil, nil, err
	}
	f, err := envfile.Parse(env)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse .env: %w", err)
	}
	oldFiles, newFiles = map[string][]byte{}, map[string][]byte{}
	var tagged []string // the services with a literal tag
	set := map[string]bool{}
	for _, s := range sites {
		switch s.Kind {
		case SiteComposeTag:
			tagged = append(tagged, s.Service)
		case SiteEnvTag, SiteEnvImage:
			if set[s.Key] {
				continue
			}
			set[s.Key] = true
			cur, ok := f.Get(s.Key)
			if !ok || cur == "" {
				cur = s.Default
			}
			form := profile.FormTag
			if s.Kind == SiteEnvImage {
				form = profile.FormImage
			}
			f.Set(s.Key, e.envValueFor(form, cur, version))
		default:
			return nil, nil, nil, fmt.Errorf("%s. Nothing was changed. Fix: write a profile (upshift profile init) whose apply says where the version lives", s.Describe())
		}
	}
	for _, name := range services {
		if !slices.ContainsFunc(sites, func(s VersionSite) bool { return s.Service == name }) {
			return nil, nil, nil, fmt.Errorf("no compose file (%s, or a file it includes or extends) gives %s an image: line, so upshift has no version to change. Nothing was changed. Fix: give %s an image: line (a service built from source with build: only has none), or write a profile (upshift profile init) whose apply says where the version lives", strings.Join(e.Project.Files, ", "), name, name)
		}
	}
	if len(tagged) > 0 {
		next, _, _, err := RewriteImageTags(e.Project.Files, read, tagged, e.tagFor(version))
		if err != nil {
			return nil, nil, nil, err
		}
		for path, out := range next {
			old, err := read(path)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("read %s: %w", path, err)
			}
			oldFiles[path], newFiles[path] = old, out
		}
	}
	return f.Bytes(), oldFiles, newFiles, nil
}

// checkApply works out, before anything is touched, that the version of
// to can be applied where the files keep it (method auto): preflight
// refuses what the .env step would refuse after the backup and the stop.
func (e *Env) checkApply(to string, sink steps.Sink) error {
	if e.Profile.Apply.Method != profile.ApplyAuto {
		return nil
	}
	env, err := os.ReadFile(e.EnvPath())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", e.EnvPath(), err)
	}
	if _, _, _, err := e.applyAuto(env, os.ReadFile, to); err != nil {
		return err
	}
	sink.Log("✓ the version can be set where the files keep it (" + strings.Join(e.appImageServices(), ", ") + ")")
	return nil
}
