package upgrade

import (
	"strings"

	"github.com/seed-e7a9fb3b/upshift/detect"
)

// targetImages are the image references the app services use at version.
func (e *Env) targetImages(version string) []string {
	seen := map[string]bool{}
	var out []string
	for _, name := range e.Writers() {
		svc, ok := e.Start.Stack.Model.Services[name]
		if !ok || svc.Image == "" {
			continue
		}
		ref := repoOf(svc.Image) + ":" + e.tagFor(version)
		if t := e.tagFor(version); strings.ContainsAny(t, "/:") {
			ref = t // the template spells the whole reference
		}
		if !seen[ref] && e.isAppImage(svc.Image) {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	return out
}

// tagFor turns a version into the tag (or env value) the profile applies:
// the template gets the bare version, so "v{{version}}" never doubles a v.
func (e *Env) tagFor(ver string) string {
	t := e.Profile.Apply.TagTemplate
	if t == "" {
		return ver
	}
	return strings.ReplaceAll(t, "{{version}}", strings.TrimPrefix(ver, "v"))
}

func (e *Env) isAppImage(ref string) bool {
	cur := e.Start.Report.Version
	tag := detect.TagOf(ref)
	if tag == e.tagFor(cur) || tag == cur || matchesAny(ref, e.Profile.Match.Images) {
		return true
	}
	// No images named (generic): the app's are those of the version's
	// service's repository.
	primary := e.primaryImage()
	return len(e.Profile.Match.Images) == 0 && primary != "" && repoOf(ref) == repoOf(primary)
}

func matchesAny(ref string, repos []string) bool {
	base := ref
	if t := detect.TagOf(ref); t != "" {
		base = strings.TrimSuffix(ref, ":"+t)
	}
	for _, r := range repos {
		if strings.HasSuffix(base, r) {
			return true
		}
	}
	return false
}
