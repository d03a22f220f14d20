package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// stackFlags are the flags every command that acts on a stack shares.
type stackFlags struct {
	dir       string
	project   string
	files     []string
	envFiles  []string
	profiles  []string
	profile   string
	backupDir string
	notes     string
	jsonOut   bool
	noColor   bool
	logFile   string
	// acceptTerms lets --yes agree to changed documents (EULA); only the
	// commands that run upgrade steps register it.
	acceptTerms bool
	// envTemplates is a directory of <version>.env.example files used
	// instead of the profile's template source (offline).
	envTemplates string
}

func (f *stackFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "", "directory of the compose project (default: current directory)")
	fl.StringVarP(&f.project, "project", "p", "", "name of a running compose project (found through its container labels)")
	fl.StringSliceVarP(&f.files, "file", "f", nil, "compose file(s), as for docker compose -f")
	fl.StringSliceVar(&f.envFiles, "env-file", nil, "env file(s), as for docker compose --env-file")
	fl.StringSliceVar(&f.profiles, "compose-profile", nil, "compose profile(s) the stack runs with")
	fl.StringVar(&f.profile, "profile", "", "app profile NAME or FILE (default: recognised automatically)")
	fl.StringVar(&f.backupDir, "backup-dir", "", "where backup sets and run journals live (default: upshift-backups next to the compose file)")
	fl.StringVar(&f.notes, "notes", "", "release notes FILE or DIR to use instead of the profile's source (offline)")
	fl.BoolVar(&f.jsonOut, "json", false, "print JSON")
	fl.BoolVar(&f.noColor, "no-color", false, "no colours (NO_COLOR is honoured too)")
	fl.StringVar(&f.logFile, "log-file", "", "write diagnostics to this file")
}

func (f *stackFlags) stackOptions() detect.StackOptions {
	return detect.StackOptions{Dir: f.dir, Project: f.project, Files: f.files, EnvFiles: f.envFiles, Profiles: f.profiles}
}

// allProfiles are the built-in profiles plus the admin's own.
func allProfiles() ([]*profile.Profile, error) {
	dir, err := profile.DefaultUserDir()
	if err != nil {
		return profile.Builtin(), nil
	}
	ps, err := profile.LoadAll(dir)
	if err != nil {
		return nil, err
	}
	return ps, nil
}

// session is a connected engine plus what detect found.
type session struct {
	eng *dockerx.Engine
	det *detect.Result
}

func (s *session) Close() {
	if s.eng != nil {
		_ = s.eng.Close()
	}
}

func (f *stackFlags) open(ctx context.Context) (*session, error) {
	profiles, err := allProfiles()
	if err != nil {
		return nil, err
	}
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		return nil, err
	}
	det, err := detect.Detect(ctx, eng, detect.Options{StackOptions: f.stackOptions(), Profile: f.profile, Profiles: profiles})
	if err != nil {
		_ = eng.Close()
		return nil, err
	}
	return &session{eng: eng, det: det}, nil
}

// newEnv is the engine's view of the detected stack, shared by every
// command that runs steps.
func (f *stackFlags) newEnv(sess *session) *steps.Env {
	det := sess.det
	return &steps.Env{
		Eng: sess.eng, Start: det, Profile: det.Profile, Project: det.Stack.Invocation,
		BackupDir: f.backupRoot(det), Upshift: version, EnvTemplateDir: f.envTemplates,
	}
}

func (f *stackFlags) backupRoot(det *detect.Result) string {
	if f.backupDir != "" {
		abs, err := filepath.Abs(f.backupDir)
		if err == nil {
			return abs
		}
		return f.backupDir
	}
	return filepath.Join(det.Stack.Invocation.WorkingDir, "upshift-backups")
}

// notesFor loads the release notes: --notes, else the profile's source.
func (f *stackFlags) notesFor(ctx context.Context, det *detect.Result) ([]releases.Note, error) {
	if f.notes != "" {
		src, err := releases.Local(f.notes)
		if err != nil {
			return nil, err
		}
		return src.Notes(ctx)
	}
	ns := det.Profile.Notes
	switch {
	case ns.Builtin == "upshift-demo":
		var out []releases.Note
		for _, v := range demo.Versions {
			b, err := demo.ReleaseNotes(v)
			if err != nil {
				return nil, err
			}
			out = append(out, releases.Note{Version: v, Body: string(b)})
		}
		return out, nil
	case ns.Dir != "":
		return releases.DirSource{Dir: inProject(det, ns.Dir)}.Notes(ctx)
	case ns.Changelog != "":
		return releases.FileSource{Path: inProject(det, ns.Changelog)}.Notes(ctx)
	case ns.GitHub != "":
		gh, err := releases.NewGitHub(ns.GitHub)
		if err != nil {
			return nil, err
		}
		return gh.Notes(ctx)
	default:
		return nil, fmt.Errorf("the %s profile names no release-notes source. Fix: pass --notes FILE|DIR", det.Profile.Name)
	}
}

func inProject(det *detect.Result, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(det.Stack.Invocation.WorkingDir, p)
}

// logTo opens the --log-file (or discards).
func (f *stackFlags) logTo() (io.WriteCloser, error) {
	if f.logFile == "" {
		return nopCloser{io.Discard}, nil
	}
	fh, err := os.OpenFile(f.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open --log-file: %w", err)
	}
	return fh, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
