// Package engine is upshift's application layer: one session on one stack.
// It opens the stack (profile, release notes, backup dir), plans an upgrade,
// lists targets, and runs plans (lock, journal, hang-up policy, redaction,
// log file), resumes and restores. Commands and the wizard call it once and
// render what it returns; it never renders and never imports the TUI.
package engine

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/httpx"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/upgrade"
)

// Builtins are the parts of upshift compiled in by main (the demo app):
// release notes, .env templates and image builders named by profiles.
type Builtins struct {
	// Notes maps release_notes.builtin names to sources.
	Notes map[string]releases.Source
	// EnvTemplates maps env_template "builtin:NAME" to a reader.
	EnvTemplates map[string]func(version string) ([]byte, error)
	// Templates maps a template source "builtin:NAME" to a reader of the
	// file (its name in the project) at a version.
	Templates map[string]func(file, version string) ([]byte, error)
	// Images maps a profile's images value ("build-demo") to a builder.
	Images map[string]func(ctx context.Context, eng *dockerx.Engine, version string, log func(string)) error
}

// Options say which stack a session is about and how to treat it.
type Options struct {
	Stack   detect.StackOptions
	Profile string // NAME or FILE; "" recognises the app
	// BackupDir is --backup-dir; "" means upshift-backups next to the
	// compose file.
	BackupDir string
	// Notes is --notes FILE|DIR, used instead of the profile's source.
	Notes string
	// EnvTemplates is --env-templates DIR (offline .env templates).
	EnvTemplates string
	// Templates is --templates DIR (<version>/<file>: compose and config
	// templates, offline).
	Templates string
	Upshift   string // upshift's own version
	Builtins  Builtins
	// RollbackTo is where a failure goes back to: "last-good" (default)
	// or "start".
	RollbackTo string
	// GitHubURL replaces the GitHub API base URL for release notes
	// (GitHub Enterprise; a local stand-in). Default: $UPSHIFT_GITHUB_API.
	GitHubURL string
	// PostgresImage is --postgres-image: the image of a newer PostgreSQL
	// major, for a target that needs one (a PostgreSQL major hop);
	// PostgresMajor is --postgres-major (0: the image's, else the
	// smallest the path needs).
	PostgresImage string
	PostgresMajor int
}

// Session is a connected engine plus what detect found on one stack.
type Session struct {
	Eng  *dockerx.Engine
	Det  *detect.Result
	opts Options

	mu      sync.Mutex
	notes   []releases.Note
	notices []string
	loaded  bool

	// Planning from the files alone (offline.go): offline is set when no
	// Docker engine is used, from is --from, openNotices say why.
	offline     bool
	from        string
	openNotices []string
}

// Profiles are the built-in profiles plus the admin's own.
func Profiles() ([]*profile.Profile, error) {
	dir, err := profile.DefaultUserDir()
	if err != nil {
		return profile.Builtin(), nil
	}
	return profile.LoadAll(dir)
}

// Open connects to the Docker engine and detects the stack.
func Open(ctx context.Context, o Options) (*Session, error) {
	profiles, err := Profiles()
	if err != nil {
		return nil, err
	}
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		return nil, err
	}
	det, err := detect.Detect(ctx, eng, detect.Options{StackOptions: o.Stack, Profile: o.Profile, Profiles: profiles})
	if err != nil {
		_ = eng.Close()
		return nil, err
	}
	return NewSession(eng, det, o), nil
}

// NewSession is a session on what detect found (Open does the detecting;
// tests and tools that already have a Result use this).
func NewSession(eng *dockerx.Engine, det *detect.Result, o Options) *Session {
	return &Session{Eng: eng, Det: det, opts: o}
}

// Close releases the engine connection.
func (s *Session) Close() {
	if s != nil && s.Eng != nil {
		_ = s.Eng.Close()
	}
}

// BackupDir is where backup sets and run journals of the stack live.
func (s *Session) BackupDir() string {
	if s.opts.BackupDir != "" {
		if abs, err := filepath.Abs(s.opts.BackupDir); err == nil {
			return abs
		}
		return s.opts.BackupDir
	}
	return filepath.Join(s.Det.Stack.Invocation.WorkingDir, "upshift-backups")
}

// NewEnv is the upgrade steps' view of the stack, wired to the real world.
func (s *Session) NewEnv() *upgrade.Env {
	det := s.Det
	env := &upgrade.Env{
		Start: det, Profile: det.Profile, Project: det.Stack.Invocation,
		BackupDir: s.BackupDir(), Upshift: s.opts.Upshift, EnvTemplateDir: s.opts.EnvTemplates,
		TemplateDir: s.opts.Templates,
		RollbackTo:  upgrade.RollbackTarget(s.opts.RollbackTo),
	}
	upgrade.Real(env, s.Eng)
	b := s.opts.Builtins
	if build, ok := b.Images[det.Profile.Images]; ok && det.Profile.Images != "" {
		eng := s.Eng
		env.BuildImage = func(ctx context.Context, version string, log func(string)) error {
			return build(ctx, eng, version, log)
		}
	}
	if name, ok := cutBuiltin(det.Profile.EnvTemplate); ok {
		env.BuiltinEnvTemplate = b.EnvTemplates[name]
	}
	if len(b.Templates) > 0 {
		env.BuiltinTemplate = func(name, file, version string) ([]byte, error) {
			read, ok := b.Templates[name]
			if !ok {
				return nil, fmt.Errorf("no built-in template %q in this upshift", name)
			}
			return read(file, version)
		}
	}
	upgrade.UseGit(env)
	return env
}

func cutBuiltin(s string) (string, bool) {
	const p = "builtin:"
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

// Notes loads the release notes once: --notes, else the profile's source.
// Notices are what the source said about them (stale cache, pages not
// fetched): the admin must see them with the plan.
func (s *Session) Notes(ctx context.Context) ([]releases.Note, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded {
		return s.notes, s.notices, nil
	}
	var notices []string
	src, err := releases.SourceFor(s.Det.Profile, releases.SourceOptions{
		NotesPath:     s.opts.Notes,
		ProjectDir:    s.Det.Stack.Invocation.WorkingDir,
		Builtins:      s.opts.Builtins.Notes,
		Log:           func(l string) { notices = append(notices, l) },
		GitHubBaseURL: cmp.Or(s.opts.GitHubURL, os.Getenv("UPSHIFT_GITHUB_API")),
		HTTPClient:    httpx.Client,
	})
	if err != nil {
		return nil, nil, err
	}
	notes, err := src.Notes(ctx)
	if err != nil {
		return nil, notices, fmt.Errorf("read the release notes: %w", err)
	}
	s.notes, s.notices, s.loaded = notes, notices, true
	return notes, notices, nil
}
