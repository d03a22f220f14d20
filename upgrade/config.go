package upgrade

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- config (.env merge + version)

type configStep struct {
	env        *Env
	from, to   string
	renames    []envfile.Rename
	merged     []byte
	result     *envfile.MergeResult
	original   []byte
	composeOld map[string][]byte // image-tag apply: compose files before/after
	composeNew map[string][]byte
	// tagsAlready: every image is at the target tag already.
	tagsAlready bool
	// created: files the release adds (no old content); templateNotes say
	// what each template merge did.
	created       map[string]bool
	why           map[string]string // what changed a file: git, template, image tags
	templateNotes []string
}

func (s *configStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: id(s.to, "config"), Hop: s.to, Name: "Update .env for " + s.to,
		Explain: s.explain(),
		Confirm: true,
		Touches: s.touches(),
	}
}

func (s *configStep) explain() string {
	x := "Merges your .env with the new version's template: new settings are added with their defaults, your own values are kept, renamed keys move your value to the new name, removed keys are kept as comments."
	if s.env.git != nil {
		x += " Checks out the " + s.to + " tag with your local changes carried across."
	}
	if len(s.env.templateNames()) > 0 {
		x += " Also merges the release's " + strings.Join(s.env.templateNames(), ", ") + " into yours."
	}
	return x + " Then the version is set to " + s.to + ". You see the diff before anything is written; the old files are in the backup."
}

func (s *configStep) touches() []string {
	t := []string{s.env.EnvPath()}
	if m := s.env.Profile.Apply.Method; m == profile.ApplyImageTag || m == profile.ApplyAuto || s.env.git != nil {
		t = append(t, s.env.composeTree()...)
	}
	for _, tp := range s.env.templates() {
		if p := s.env.templatePath(tp); !slices.Contains(t, p) {
			t = append(t, p)
		}
	}
	if s.env.git != nil {
		t = append(t, "git checkout "+s.env.tagFor(s.to)+" in "+s.env.git.top())
	}
	return t
}

func (s *configStep) compute(ctx context.Context) error {
	e := s.env
	cur, err := os.ReadFile(e.EnvPath())
	if m := e.Profile.Apply.Method; errors.Is(err, os.ErrNotExist) && (m == profile.ApplyImageTag || m == profile.ApplyAuto) && e.Profile.EnvTemplate == "" {
		cur, err = nil, nil // nothing to merge: the version lives in the compose file
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", e.EnvPath(), err)
	}
	s.original = cur
	merged := cur
	if e.Profile.EnvTemplate != "" {
		base, err := e.EnvTemplate(ctx, s.from)
		if err != nil {
			base = nil // unknown old template: two-way merge never overwrites the admin's values
		}
		theirs, err := e.EnvTemplate(ctx, s.to)
		if err != nil {
			return fmt.Errorf("the .env template of %s: %w", s.to, err)
		}
		res, err := envfile.Merge(base, theirs, cur, s.renames)
		if err != nil {
			return fmt.Errorf("merge .env: %w", err)
		}
		s.result = &res
		merged = res.Merged
	}
	if e.Profile.Apply.Method == profile.ApplyEnv || e.Profile.Apply.Method == "" {
		key := e.Profile.Apply.EnvKey
		if key == "" {
			return errors.New("the profile applies versions through .env but names no env_key")
		}
		f, err := envfile.Parse(merged)
		if err != nil {
			return fmt.Errorf("parse merged .env: %w", err)
		}
		cur, _ := f.Get(key)
		f.Set(key, e.envValueFor(e.Profile.Apply.Form, cur, s.to))
		merged = f.Bytes()
	}
	s.merged = merged
	// The release's own files first (a git checkout, templates), then the
	// version is set in what they give.
	s.composeNew, s.composeOld = map[string][]byte{}, map[string][]byte{}
	s.created, s.why = map[string]bool{}, map[string]string{}
	read := func(f string) ([]byte, error) {
		if b, ok := s.composeNew[f]; ok {
			return b, nil
		}
		return os.ReadFile(f)
	}
	put := func(f string, c fileChange) {
		if _, ok := s.composeOld[f]; !ok {
			s.composeOld[f] = c.old
			if c.old == nil {
				s.created[f] = true
			}
		}
		s.composeNew[f] = c.new
		if c.why != "" {
			s.why[f] = c.why
		}
	}
	if e.git != nil {
		changes, err := e.git.plan(ctx, s.from, s.to)
		if err != nil {
			return err
		}
		for _, f := range slices.Sorted(maps.Keys(changes)) {
			put(f, changes[f])
		}
	}
	changes, notes, err := e.mergeTemplates(ctx, s.from, s.to, s.renames, read)
	if err != nil {
		return err
	}
	s.templateNotes = notes
	for _, f := range slices.Sorted(maps.Keys(changes)) {
		put(f, changes[f])
	}
	if e.Profile.Apply.Method == profile.ApplyAuto {
		out, _, next, err := e.applyAuto(merged, read, s.to)
		if err != nil {
			return err
		}
		s.merged = out
		for f, b := range next {
			old, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("read %s: %w", f, err)
			}
			put(f, fileChange{old: old, new: b, why: whyTags})
		}
		s.tagsAlready = len(next) == 0
	}
	if e.Profile.Apply.Method == profile.ApplyImageTag {
		next, _, found, err := RewriteImageTags(e.Project.Files, read, e.Profile.Apply.Services, e.tagFor(s.to))
		if err != nil {
			return err
		}
		for _, f := range slices.Sorted(maps.Keys(next)) {
			old, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("read %s: %w", f, err)
			}
			put(f, fileChange{old: old, new: next[f], why: whyTags})
		}
		tagsChanged := len(next) > 0
		var missing []string
		for _, n := range e.Profile.Apply.Services {
			if !found[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("the profile applies versions by the image tag of %s, but no compose file (%s) sets the image of %s. Nothing was changed. Fix: give that service an image: line, or use a profile that applies the version where your files keep it", strings.Join(e.Profile.Apply.Services, ", "), strings.Join(e.Project.Files, ", "), strings.Join(missing, ", "))
		}
		// Every image already at the target tag (a resumed run, or the
		// admin's own edit): nothing to rewrite.
		s.tagsAlready = !tagsChanged
	}
	out, err := e.writeAgreements(s.merged, s.composeOld, s.composeNew)
	if err != nil {
		return err
	}
	s.merged = out
	return nil
}

func (s *configStep) Prompt(ctx context.Context) (string, error) {
	if err := s.compute(ctx); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString((&envfile.MergeResult{Merged: s.merged}).Diff(s.original, ".env"))
	for _, f := range sortedKeys(s.composeNew) {
		b.WriteString((&envfile.MergeResult{Merged: s.composeNew[f]}).Diff(s.composeOld[f], filepath.Base(f)))
	}
	for _, n := range s.templateNotes {
		b.WriteString("\n" + n)
	}
	if len(s.templateNotes) > 0 {
		b.WriteString("\n")
	}
	if s.result != nil {
		b.WriteString("\n" + s.result.Summary.String() + "\n")
		for _, c := range s.result.Conflicts {
			fmt.Fprintf(&b, "conflict: %s — you changed it and the new default changed too; your value is kept\n", c.Key)
		}
	}
	return b.String(), nil
}

func (s *configStep) Run(ctx context.Context, sink steps.Sink) error {
	if s.merged == nil {
		if err := s.compute(ctx); err != nil {
			return err
		}
	}
	if s.result != nil {
		sink.Log(s.result.Summary.String())
	}
	s.env.MarkChanged()
	wroteEnv := false
	if s.original != nil || len(s.merged) > 0 {
		// 0600: the .env holds the app's secrets.
		if err := envfile.WriteAtomic(s.env.EnvPath(), s.merged, 0o600); err != nil {
			return err
		}
		wroteEnv = true
	}
	if s.tagsAlready && len(s.composeNew) == 0 {
		sink.Log("✓ the image tags are at " + s.env.tagFor(s.to) + " already")
	}
	if s.env.git != nil {
		if err := s.env.git.apply(ctx, sink.Log); err != nil {
			return err
		}
	}
	for _, n := range s.templateNotes {
		sink.Log(n)
	}
	var created []string
	for f := range s.created {
		created = append(created, f)
	}
	if err := s.env.recordCreated(created); err != nil {
		return err
	}
	for _, f := range sortedKeys(s.composeNew) {
		mode := os.FileMode(0o644)
		if st, err := os.Stat(f); err == nil {
			mode = st.Mode().Perm()
		}
		if s.created[f] {
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				return fmt.Errorf("create the directory of %s: %w", f, err)
			}
		}
		if err := envfile.WriteAtomic(f, s.composeNew[f], mode); err != nil {
			return err
		}
		switch s.why[f] {
		case whyTags:
			sink.Log("✓ set the image tags in " + f + " to " + s.env.tagFor(s.to))
		case whyGit:
			sink.Log("✓ wrote " + f + " (your changes carried onto " + s.env.tagFor(s.to) + ")")
		default:
			sink.Log("✓ wrote " + f + " (merged with the " + s.to + " template)")
		}
	}
	s.env.agreementsWritten()
	s.env.setCurrent(s.to)
	if wroteEnv {
		sink.Log("✓ wrote " + s.env.EnvPath())
	}
	return nil
}
