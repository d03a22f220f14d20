package upgrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// Templates: the files a release ships (a compose file, a config template
// inside the image), merged three ways into the admin's files by the config
// step, before any downtime. Upstream at the running version is the base,
// the admin's file is ours, upstream at the target is theirs.

// templates are the profile's templates, plus the compose file of method
// download's compose_url.
func (e *Env) templates() []profile.Template {
	ts := slices.Clone(e.Profile.Templates)
	if u := e.Profile.Apply.ComposeURL; u != "" && len(e.Project.Files) > 0 {
		rel, err := filepath.Rel(e.Dir(), e.Project.Files[0])
		if err == nil && !slices.ContainsFunc(ts, func(t profile.Template) bool { return filepath.Clean(t.File) == rel }) {
			ts = append(ts, profile.Template{File: rel, Source: u, Format: profile.TemplateCompose})
		}
	}
	return ts
}

// templatePath is the admin's file of t. A compose template whose file is
// not there is the project's own compose file, whatever the admin named it
// (docker-compose.yml for the release's docker-compose.yaml).
func (e *Env) templatePath(t profile.Template) string {
	p := t.File
	if !filepath.IsAbs(p) {
		p = filepath.Join(e.Dir(), p)
	}
	if t.Format == profile.TemplateCompose && !slices.Contains(e.Project.Files, p) && len(e.Project.Files) > 0 {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return e.Project.Files[0]
		}
	}
	return p
}

// templateFormat is what t is merged as.
func (e *Env) templateFormat(t profile.Template) string {
	if t.Format != "" {
		return t.Format
	}
	p := e.templatePath(t)
	if slices.Contains(e.Project.Files, p) {
		return profile.TemplateCompose
	}
	switch strings.ToLower(filepath.Ext(p)) {
	case ".toml":
		return profile.TemplateTOML
	case ".yaml", ".yml":
		return profile.TemplateYAML
	}
	return profile.TemplateEnv
}

// Template fetches upstream's version of t at version: from --templates
// DIR, built in, a URL, a path in the project or the app's image. A
// release's file does not change during a run: it is fetched once (the
// preflight's merge and the config step's read the same bytes).
func (e *Env) Template(ctx context.Context, t profile.Template, version string) ([]byte, error) {
	key := t.File + "\x00" + t.Source + "\x00" + t.Service + "\x00" + version
	e.mu.Lock()
	b, ok := e.templateCache[key]
	e.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := e.fetchTemplate(ctx, t, version)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.templateCache == nil {
		e.templateCache = map[string][]byte{}
	}
	e.templateCache[key] = b
	e.mu.Unlock()
	return b, nil
}

func (e *Env) fetchTemplate(ctx context.Context, t profile.Template, version string) ([]byte, error) {
	what := fmt.Sprintf("the %s template of %s", filepath.Base(t.File), version)
	if e.TemplateDir != "" {
		bare := strings.TrimPrefix(version, "v")
		for _, v := range []string{version, bare, "v" + bare} {
			for _, name := range []string{filepath.FromSlash(t.File), filepath.Base(t.File)} {
				b, err := os.ReadFile(filepath.Join(e.TemplateDir, v, name))
				if err == nil {
					return b, nil
				}
			}
		}
		return nil, fmt.Errorf("%s: no %s/%s in %s (--templates DIR holds <version>/<file>)", what, version, t.File, e.TemplateDir)
	}
	src := strings.NewReplacer("{{version}}", version, "{{tag}}", e.tagFor(version)).Replace(t.Source)
	switch {
	case strings.HasPrefix(src, "builtin:"):
		if e.BuiltinTemplate == nil {
			return nil, fmt.Errorf("%s: %s is not built into this upshift", what, t.Source)
		}
		return e.BuiltinTemplate(strings.TrimPrefix(src, "builtin:"), t.File, version)
	case strings.HasPrefix(src, "image:"):
		ref, err := e.imageOfVersion(t.Service, version)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		b, err := e.Docker.ReadImageFile(ctx, ref, strings.TrimPrefix(src, "image:"), 4<<20)
		if err != nil {
			return nil, fmt.Errorf("%s from image %s: %w", what, ref, err)
		}
		return b, nil
	case strings.HasPrefix(src, "http://"), strings.HasPrefix(src, "https://"):
		status, b, err := e.HTTP.Get(ctx, src, 30*time.Second)
		if err != nil {
			return nil, fmt.Errorf("download %s: %w", what, err)
		}
		if status != 200 {
			return nil, fmt.Errorf("download %s from %s: HTTP %d", what, src, status)
		}
		return b, nil
	default:
		p := src
		if !filepath.IsAbs(p) {
			p = filepath.Join(e.Dir(), p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return b, nil
	}
}

// Why a config step changes a file.
const (
	whyTemplate = "template"
	whyTags     = "image tags"
	whyGit      = "git"
)

// imageOfVersion is service's image of version: the running container's
// own image for the version running when the run began (its tag may float:
// :latest), else the version's tag.
func (e *Env) imageOfVersion(service, version string) (string, error) {
	if e.Start != nil && version == e.Start.Report.Version {
		if c, ok := e.Start.Containers[service]; ok && c.ImageID != "" {
			return c.ImageID, nil
		}
	}
	return e.targetImageOf(service, version)
}

// fileChange is one file the config step writes: before (nil: the file is
// new) and after.
type fileChange struct {
	old, new []byte
	why      string // "template", "image tags", "git"
}

// TemplateConflictError is a template merge both sides changed: nothing
// was changed.
type TemplateConflictError struct {
	File      string
	Conflicts []string
	git       string // the tag a git checkout could not carry the admin's edits onto
}

func (e *TemplateConflictError) Error() string {
	if e.git != "" {
		return fmt.Sprintf("your local changes in the clone cannot be carried onto %s: both changed the same thing. Nothing was changed.\n%s\nFix: edit the file so it holds what you want on %s (or commit your change on a branch and merge %s yourself), then run the upgrade again",
			e.git, "  "+strings.Join(e.Conflicts, "\n  "), e.git, e.git)
	}
	return fmt.Sprintf("%s: your file and the new release both changed the same setting, so upshift cannot merge them. Nothing was changed.\n%s\nFix: edit %s so that it holds the value you want (yours or the release's), or take the release's file and redo your change; then run the upgrade again",
		filepath.Base(e.File), "  "+strings.Join(e.Conflicts, "\n  "), e.File)
}

// mergeTemplates merges every template of the profile from one version to
// the next into the admin's files (read through read, so a git checkout
// computed before can be the admin's side). It changes nothing on disk.
func (e *Env) mergeTemplates(ctx context.Context, from, to string, renames []envfile.Rename, read func(string) ([]byte, error)) (map[string]fileChange, []string, error) {
	out := map[string]fileChange{}
	var notes []string
	for _, t := range e.templates() {
		if e.git != nil && e.templateFormat(t) == profile.TemplateCompose {
			continue // the clone's checkout brings the release's compose files
		}
		path := e.templatePath(t)
		ours, err := read(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("read %s: %w", path, err)
		}
		theirs, err := e.Template(ctx, t, to)
		if err != nil && strings.HasPrefix(t.Source, "image:") && e.TemplateDir == "" && (errors.Is(err, os.ErrNotExist) || dockerx.IsNotFound(err)) {
			// The target image ships no such template: nothing to merge.
			notes = append(notes, fmt.Sprintf("%s: the %s image has no %s; your file is left as it is", filepath.Base(path), to, strings.TrimPrefix(t.Source, "image:")))
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w. Nothing was changed. Fix: make the template reachable, or give it with --templates DIR", err)
		}
		base, berr := e.Template(ctx, t, from)
		if berr != nil {
			base = nil // unknown old template: a two-way merge never removes or overwrites the admin's things
			notes = append(notes, fmt.Sprintf("%s: the %s template is not available (%v); merged two ways: the release's new settings are added, nothing of yours is removed or changed", filepath.Base(path), from, berr))
		}
		var merged []byte
		if ours == nil {
			merged = theirs // a file the release adds
			notes = append(notes, filepath.Base(path)+": new in "+to)
		} else {
			m, conflicts, summary, err := mergeByFormat(e.templateFormat(t), path, base, theirs, ours, templateRenames(t, renames, to))
			if err != nil {
				return nil, nil, fmt.Errorf("merge %s with the %s template: %w. Nothing was changed", path, to, err)
			}
			if len(conflicts) > 0 {
				red := e.Redactor()
				for i := range conflicts {
					conflicts[i] = red(conflicts[i])
				}
				return nil, nil, &TemplateConflictError{File: path, Conflicts: conflicts}
			}
			merged = m
			if summary != "" {
				notes = append(notes, filepath.Base(path)+": "+strings.TrimPrefix(summary, ".env merge: "))
			}
		}
		if string(merged) != string(ours) || ours == nil {
			out[path] = fileChange{old: ours, new: merged, why: whyTemplate}
		}
	}
	return out, notes, nil
}

// mergeByFormat is the three-way merge of one file: compose files on their
// YAML nodes (services, anchors, merge keys), the others key by key.
func mergeByFormat(format, path string, base, theirs, ours []byte, renames []envfile.Rename) ([]byte, []string, string, error) {
	if format == profile.TemplateCompose {
		r, err := envfile.MergeCompose(base, theirs, ours)
		if errors.Is(err, envfile.ErrComposeConflicts) {
			cs := make([]string, 0, len(r.Conflicts))
			for _, c := range r.Conflicts {
				c.File = path
				cs = append(cs, c.Masked().String())
			}
			return nil, cs, "", nil
		}
		if err != nil {
			return nil, nil, "", err
		}
		return r.Merged, nil, r.Summary.String(), nil
	}
	var r envfile.MergeResult
	var err error
	switch format {
	case profile.TemplateTOML:
		r, err = envfile.MergeConfig(envfile.FormatTOML, base, theirs, ours, renames)
	case profile.TemplateYAML:
		r, err = envfile.MergeConfig(envfile.FormatYAML, base, theirs, ours, renames)
	default:
		r, err = envfile.Merge(base, theirs, ours, renames)
	}
	if err != nil {
		return nil, nil, "", err
	}
	summary := r.Summary.String()
	if cs := r.Unresolved(); len(cs) > 0 {
		// A key both changed keeps the admin's value, as in .env merges: said,
		// not a stop.
		keys := make([]string, 0, len(cs))
		for _, c := range cs {
			keys = append(keys, c.Key)
		}
		summary += "; kept your value of " + strings.Join(keys, ", ") + " (the release changed its default too)"
	}
	return r.Merged, nil, summary, nil
}

// templateRenames are the renames a merge of t into version to applies:
// the template's own (dotted paths of a TOML/YAML file), or for an env
// file the profile's .env renames.
func templateRenames(t profile.Template, envRenames []envfile.Rename, to string) []envfile.Rename {
	var out []envfile.Rename
	for _, r := range t.Renames {
		if r.Version == to {
			out = append(out, envfile.Rename{From: r.From, To: r.To})
		}
	}
	if len(out) == 0 && (t.Format == profile.TemplateEnv || t.Format == "") {
		return envRenames
	}
	return out
}

// filesTheReleaseWrites are the admin's files of the templates and the
// files the git checkout changes (the latter are known to the git layer).
func (e *Env) filesTheReleaseWrites() []string {
	var out []string
	for _, t := range e.templates() {
		out = append(out, e.templatePath(t))
	}
	if e.git != nil {
		out = append(out, e.git.files()...)
	}
	return out
}

// recordCreated notes, in the hop's restore point, the files a release
// adds (a new config file of a template): a rollback removes them again.
func (e *Env) recordCreated(paths []string) error {
	set := e.RestorePoint()
	if set == nil || len(paths) == 0 {
		return nil
	}
	p := filepath.Join(e.BackupDir, set.ID, "created-files.json")
	var have []string
	if b, err := os.ReadFile(p); err == nil {
		_ = json.Unmarshal(b, &have)
	}
	for _, c := range paths {
		if !slices.Contains(have, c) {
			have = append(have, c)
		}
	}
	b, err := json.Marshal(have)
	if err != nil {
		return fmt.Errorf("the list of files the release adds: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("the list of files the release adds: %w", err)
	}
	return envfile.WriteAtomic(p, b, 0o600)
}

// removeCreated removes the files the hop of restore point setID added.
func (e *Env) removeCreated(setID string, log func(string)) error {
	b, err := os.ReadFile(filepath.Join(e.BackupDir, setID, "created-files.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("the list of files %s's hop added: %w", setID, err)
	}
	var paths []string
	if err := json.Unmarshal(b, &paths); err != nil {
		return fmt.Errorf("the list of files %s's hop added: %w", setID, err)
	}
	for _, p := range paths {
		if err := os.Remove(p); err == nil {
			log("removed " + p + " (added by the release rolled back)")
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s, added by the release rolled back: %w", p, err)
		}
	}
	return nil
}

func (e *Env) templateNames() []string {
	var out []string
	for _, t := range e.templates() {
		if e.git != nil && e.templateFormat(t) == profile.TemplateCompose {
			continue
		}
		out = append(out, filepath.Base(e.templatePath(t)))
	}
	return out
}

// checkReleaseFiles merges the release's files (templates, a clone's tag)
// with the admin's before anything else happens, so a conflict is found
// before the backup and the downtime, not after. Nothing is written.
func (e *Env) checkReleaseFiles(ctx context.Context, from, to string, sink steps.Sink) error {
	if e.git == nil && len(e.templateNames()) == 0 {
		return nil
	}
	n := 0
	if e.git != nil {
		changes, err := e.git.plan(ctx, from, to)
		if err != nil {
			return err
		}
		n += len(changes)
	}
	changes, _, err := e.mergeTemplates(ctx, from, to, nil, os.ReadFile)
	if err != nil {
		return err
	}
	n += len(changes)
	sink.Log(fmt.Sprintf("✓ the files of %s merge with yours (%d to change, no conflict)", to, n))
	return nil
}
