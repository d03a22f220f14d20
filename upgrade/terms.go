package upgrade

import (
	"context"
	"crypto/md5" //nolint:gosec // the apps compare MD5s; not used for security here
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// RestoreAgreements gives a resumed run the agreements its journal holds
// (an agreement is asked once, before the downtime, and is not asked again).
func (e *Env) RestoreAgreements(as []steps.Agreement) {
	for _, a := range as {
		e.agree(a)
	}
}

// termsStep is the consent gate (MaiBot's EULA/PRIVACY hashes): before any
// downtime, it reads the documents from the target image and, when one
// changed, shows it and asks. --yes alone does not agree (see Consent).
type termsStep struct {
	env     *Env
	hop     string
	changes []termChange
	err     error
}

type termChange struct {
	c        profile.Consent
	old, new string
	text     []byte
	saved    string // full text written here for the admin to read
}

func (s *termsStep) Info() steps.StepInfo {
	names := make([]string, 0, len(s.env.Profile.Upgrade.Consent))
	for _, c := range s.env.Profile.Upgrade.Consent {
		names = append(names, c.Name)
	}
	return steps.StepInfo{
		ID: id(s.hop, "terms"), Hop: s.hop, Name: "Check the " + strings.Join(names, " and ") + " of " + s.hop,
		Explain:  "The app starts only when " + strings.Join(names, " and ") + " as shipped in its image match what you agreed to (their MD5 in the app's environment). If " + s.hop + " changed one, you read it and agree before anything else happens; the new value is then written with the version. --yes alone never agrees for you: pass --accept-terms.",
		Confirm:  true,
		Consent:  true,
		Touches:  []string{"reads the " + s.hop + " image"},
		ReadOnly: true,
	}
}

// Skip computes the changes; nothing changed means nothing to agree to.
func (s *termsStep) Skip(ctx context.Context) (bool, string) {
	s.changes, s.err = s.compute(ctx)
	if s.err != nil {
		return false, ""
	}
	if len(s.changes) == 0 {
		return true, "the documents of " + s.hop + " are the ones already agreed to"
	}
	return false, ""
}

func (s *termsStep) compute(ctx context.Context) ([]termChange, error) {
	e := s.env
	var out []termChange
	for _, c := range e.Profile.Upgrade.Consent {
		ref, err := e.targetImageOf(c.Service, s.hop)
		if err != nil {
			return nil, err
		}
		text, err := e.Docker.ReadImageFile(ctx, ref, c.File, 4<<20)
		if err != nil {
			return nil, fmt.Errorf("read the %s of %s (%s in %s): %w. Nothing was changed", c.Name, s.hop, c.File, ref, err)
		}
		sum := md5.Sum(text) //nolint:gosec // the app's own check is an MD5
		h := hex.EncodeToString(sum[:])
		old := e.agreed(c)
		if old == h {
			continue
		}
		if old != "" {
			if _, err := e.agreementSite(steps.Agreement{Key: c.Env, Old: old, New: h}); err != nil {
				return nil, err
			}
		} else {
			return nil, fmt.Errorf("%s changed in %s, and %s is not set for service %s, so upshift cannot tell where your agreement is kept. Nothing was changed. Fix: read %s in the %s image, set %s=%s in the environment of %s yourself, then re-run", c.Name, s.hop, c.Env, c.Service, c.File, ref, c.Env, h, c.Service)
		}
		out = append(out, termChange{c: c, old: old, new: h, text: text})
	}
	return out, nil
}

func (s *termsStep) Prompt(_ context.Context) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	var b strings.Builder
	for i := range s.changes {
		ch := &s.changes[i]
		dir := filepath.Join(s.env.BackupDir, "terms")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("save the documents to read: %w", err)
		}
		ch.saved = filepath.Join(dir, fmt.Sprintf("%s-%s-%s.md", s.env.Project.Name, s.hop, fileName(ch.c.Name)))
		if err := envfile.WriteAtomic(ch.saved, ch.text, 0o600); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "The %s changed in %s (%s: %s → %s). The app will not start until it is agreed to.\n", ch.c.Name, s.hop, ch.c.Env, ch.old, ch.new)
		fmt.Fprintf(&b, "Full text: %s\n", ch.saved)
		lines := strings.Split(strings.TrimSpace(string(ch.text)), "\n")
		const show = 30
		for j, l := range lines {
			if j == show {
				fmt.Fprintf(&b, "  … %d more lines in %s\n", len(lines)-show, ch.saved)
				break
			}
			b.WriteString("  " + l + "\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("Answering yes means you agree to these documents; " + s.env.Profile.Name + " gets the new values when the version is written.")
	return b.String(), nil
}

func (s *termsStep) Run(_ context.Context, sink steps.Sink) error {
	if s.err != nil {
		return s.err
	}
	for _, ch := range s.changes {
		a := steps.Agreement{Key: ch.c.Env, Old: ch.old, New: ch.new}
		s.env.agree(a)
		s.env.recordAgreement(a)
		sink.Log(fmt.Sprintf("✓ agreed to the %s of %s (%s=%s); written together with the version", ch.c.Name, s.hop, ch.c.Env, ch.new))
	}
	return nil
}

func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == os.PathSeparator {
			return '-'
		}
		return r
	}, s)
}

// targetImageOf is the image service runs at version (its tag replaced).
func (e *Env) targetImageOf(service, version string) (string, error) {
	svc, ok := e.Start.Stack.Model.Services[service]
	if !ok || svc.Image == "" {
		return "", fmt.Errorf("the profile names service %q, which has no image in this project", service)
	}
	ref := svc.Image
	if tag := detect.TagOf(ref); tag != "" {
		ref = strings.TrimSuffix(ref, ":"+tag)
	}
	return ref + ":" + e.tagFor(version), nil
}

// agreed is the MD5 the app is configured with now for c.
func (e *Env) agreed(c profile.Consent) string {
	e.mu.Lock()
	for _, a := range e.agreements {
		if a.Key == c.Env {
			e.mu.Unlock()
			return a.New
		}
	}
	e.mu.Unlock()
	if svc, ok := e.Start.Stack.Model.Services[c.Service]; ok {
		if v, ok := svc.Environment[c.Env]; ok && v != nil {
			return *v
		}
	}
	return ""
}

func (e *Env) agree(a steps.Agreement) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.agreements {
		if e.agreements[i].Key == a.Key {
			e.agreements[i].New = a.New
			return
		}
	}
	e.agreements = append(e.agreements, a)
}

// agreementsWritten records that a config step wrote every agreement.
func (e *Env) agreementsWritten() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.agreements {
		e.agreements[i].Old = e.agreements[i].New
	}
}

// pendingAgreements are agreements not yet written by a config step.
func (e *Env) pendingAgreements() []steps.Agreement {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]steps.Agreement(nil), e.agreements...)
}

// agreementSite finds the file that sets a.Key to a.Old: .env or a compose file.
func (e *Env) agreementSite(a steps.Agreement) (string, error) {
	for _, f := range append([]string{e.EnvPath()}, e.composeTree()...) {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if _, n := applyAgreement(b, a); n > 0 {
			return f, nil
		}
	}
	return "", fmt.Errorf("%s=%s is set for the app, but not literally in .env or the compose files (%s), so upshift cannot update it. Nothing was changed. Fix: set %s=%s where you keep it, then re-run", a.Key, a.Old, strings.Join(e.Project.Files, ", "), a.Key, a.New)
}

// applyAgreement replaces the value of a.Key on every line that sets it to
// a.Old (KEY=old, KEY: old, "KEY=old", quoted or not), leaving the rest of
// the file byte for byte.
func applyAgreement(b []byte, a steps.Agreement) ([]byte, int) {
	if a.Old == "" || a.Key == "" {
		return b, 0
	}
	re := regexp.MustCompile(`(?m)(^|[\s"'\-])(` + regexp.QuoteMeta(a.Key) + `\s*[:=]\s*["']?)` + regexp.QuoteMeta(a.Old) + `\b`)
	n := 0
	out := re.ReplaceAllFunc(b, func(m []byte) []byte {
		n++
		return append(m[:len(m)-len(a.Old):len(m)-len(a.Old)], a.New...)
	})
	return out, n
}

var errNoSite = errors.New("not found")

// alreadyWritten reports whether a.New is already set for a.Key in .env or
// a compose file.
func (e *Env) alreadyWritten(envBytes []byte, composeNew map[string][]byte, a steps.Agreement) bool {
	done := steps.Agreement{Key: a.Key, Old: a.New, New: a.New}
	if _, n := applyAgreement(envBytes, done); n > 0 {
		return true
	}
	for _, f := range e.Project.Files {
		b, ok := composeNew[f]
		if !ok {
			var err error
			if b, err = os.ReadFile(f); err != nil {
				continue
			}
		}
		if _, n := applyAgreement(b, done); n > 0 {
			return true
		}
	}
	return false
}

// writeAgreements applies the pending agreements to the .env bytes and the
// compose files (before/after maps as the config step keeps them).
func (e *Env) writeAgreements(envBytes []byte, composeOld, composeNew map[string][]byte) ([]byte, error) {
	for _, a := range e.pendingAgreements() {
		if a.Old == a.New {
			continue // written by an earlier hop
		}
		if out, n := applyAgreement(envBytes, a); n > 0 {
			envBytes = out
			continue
		}
		if e.alreadyWritten(envBytes, composeNew, a) {
			continue // a resumed run: an earlier config step wrote it
		}
		done := false
		for _, f := range e.Project.Files {
			cur, ok := composeNew[f]
			if !ok {
				b, err := os.ReadFile(f)
				if err != nil {
					return nil, fmt.Errorf("read %s: %w", f, err)
				}
				cur = b
			}
			if out, n := applyAgreement(cur, a); n > 0 {
				if _, ok := composeOld[f]; !ok {
					composeOld[f] = cur
				}
				composeNew[f] = out
				done = true
			}
		}
		if !done {
			return nil, fmt.Errorf("%s: %w where it was set to %s", a.Key, errNoSite, a.Old)
		}
	}
	return envBytes, nil
}
