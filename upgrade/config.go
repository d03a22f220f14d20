package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
}

func (s *configStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: id(s.to, "config"), Hop: s.to, Name: "Update .env for " + s.to,
		Explain: "Merges your .env with the new version's template: new settings are added with their defaults, your own values are kept, renamed keys move your value to the new name, removed keys are kept as comments. Then the version is set to " + s.to + ". You see the diff before anything is written; the old file is in the backup.",
		Confirm: true,
		Touches: s.touches(),
	}
}

func (s *configStep) touches() []string {
	t := []string{s.env.EnvPath()}
	if m := s.env.Profile.Apply.Method; m == profile.ApplyImageTag || m == profile.ApplyAuto {
		t = append(t, s.env.Project.Files...)
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
	if e.Profile.Apply.Method == profile.ApplyAuto {
		out, old, next, err := e.applyAuto(merged, os.ReadFile, s.to)
		if err != nil {
			return err
		}
		s.merged, s.composeOld, s.composeNew = out, old, next
		s.tagsAlready = len(next) == 0
	}
	if e.Profile.Apply.Method == profile.ApplyImageTag {
		s.composeNew = map[string][]byte{}
		s.composeOld = map[string][]byte{}
		found := map[string]bool{}
		for _, f := range e.Project.Files {
			old, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("read %s: %w", f, err)
			}
			out, changed, in, err := RewriteImageTags(old, e.Profile.Apply.Services, e.tagFor(s.to))
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			for _, n := range in {
				found[n] = true
			}
			if len(changed) > 0 {
				s.composeOld[f], s.composeNew[f] = old, out
			}
		}
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
		s.tagsAlready = len(s.composeNew) == 0
	}
	if s.composeNew == nil {
		s.composeNew, s.composeOld = map[string][]byte{}, map[string][]byte{}
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
	if s.tagsAlready {
		sink.Log("✓ the image tags are at " + s.env.tagFor(s.to) + " already")
	}
	for _, f := range sortedKeys(s.composeNew) {
		mode := os.FileMode(0o644)
		if st, err := os.Stat(f); err == nil {
			mode = st.Mode().Perm()
		}
		if err := envfile.WriteAtomic(f, s.composeNew[f], mode); err != nil {
			return err
		}
		sink.Log("✓ set the image tags in " + f + " to " + s.env.tagFor(s.to))
	}
	s.env.agreementsWritten()
	s.env.setCurrent(s.to)
	if wroteEnv {
		sink.Log("✓ wrote " + s.env.EnvPath())
	}
	return nil
}
