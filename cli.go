package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/render"
	"github.com/seed-e7a9fb3b/upshift/tui"
	"github.com/seed-e7a9fb3b/upshift/wizard"
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
	// templates is --templates DIR: <version>/<file> compose and config
	// templates used instead of the profile's sources (offline).
	templates string
	// rollbackTo is --rollback-to: last-good or start; "" (not given) is
	// last-good, or for a resume what its run was given.
	rollbackTo string
	// dockerContext is --context: the engine the SDK and every docker
	// compose call use (through DOCKER_CONTEXT, which both read).
	dockerContext string
	// acceptErrors is --accept-migration-errors: with --yes, keep a version
	// whose migration logged a matching error line and then served.
	acceptErrors string
	// postgresImage/postgresMajor: a PostgreSQL major hop for a target
	// that needs a newer server.
	postgresImage string
	postgresMajor int
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
	fl.StringVar(&f.dockerContext, "context", "", "Docker context to use, as for docker --context (default: DOCKER_HOST, DOCKER_CONTEXT, the current context)")
	fl.StringVar(&f.acceptErrors, "accept-migration-errors", "", "with --yes: keep a new version whose migration logged an error matching this regexp and then started (otherwise such a hop is rolled back)")
	fl.StringVar(&f.postgresImage, "postgres-image", "", "when a target needs a newer PostgreSQL than the server runs: the image of the new major (e.g. postgres:17-alpine); the plan gets a PostgreSQL upgrade hop instead of being blocked")
	fl.IntVar(&f.postgresMajor, "postgres-major", 0, "with a PostgreSQL upgrade hop: the major to move to (default: the image's, else the smallest the path needs)")
	fl.StringVar(&f.rollbackTo, "rollback-to", "", "where a failed upgrade goes back to: last-good (the default: the last verified version on the way, nothing written before its hop is lost) or start; a resume goes where its run was told to")
}

func (f *stackFlags) stackOptions() detect.StackOptions {
	return detect.StackOptions{Dir: f.dir, Project: f.project, Files: f.files, EnvFiles: f.envFiles, Profiles: f.profiles}
}

// options are the engine's view of the flags.
func (f *stackFlags) options() engine.Options {
	return engine.Options{
		Stack: f.stackOptions(), Profile: f.profile, BackupDir: f.backupDir, Notes: f.notes,
		EnvTemplates: f.envTemplates, Templates: f.templates, Upshift: version, Builtins: builtins(), RollbackTo: f.rollbackTo,
		PostgresImage: f.postgresImage, PostgresMajor: f.postgresMajor,
	}
}

// builtins inject the demo app: its release notes, .env templates and
// image builder (cli.go and cmd_demo.go are the only importers of demo).
func builtins() engine.Builtins {
	return engine.Builtins{
		Notes:        map[string]releases.Source{"upshift-demo": releases.VersionedSource{Versions: demo.Versions, Read: demo.ReleaseNotes}},
		EnvTemplates: map[string]func(string) ([]byte, error){"upshift-demo": demo.EnvTemplate},
		Templates:    map[string]func(string, string) ([]byte, error){"upshift-demo": demo.Template},
		Images:       map[string]func(context.Context, *dockerx.Engine, string, func(string)) error{"build-demo": demo.EnsureImage},
	}
}

// open starts a session on the stack the flags name.
func (f *stackFlags) open(ctx context.Context) (*engine.Session, error) {
	if f.rollbackTo != "last-good" && f.rollbackTo != "start" && f.rollbackTo != "" {
		return nil, usageError{fmt.Errorf("--rollback-to %q: choose last-good or start", f.rollbackTo)}
	}
	if err := f.useContext(); err != nil {
		return nil, err
	}
	return engine.Open(ctx, f.options())
}

// logTo opens the --log-file (or nil).
func (f *stackFlags) logTo() (io.WriteCloser, error) {
	if f.logFile == "" {
		return nil, nil
	}
	fh, err := os.OpenFile(f.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open --log-file: %w", err)
	}
	return fh, nil
}

func runWizard(cmd *cobra.Command, f *stackFlags) error {
	if !render.IsTerminal(os.Stdin) || !render.IsTerminal(os.Stdout) {
		return usageError{errors.New("the wizard needs a terminal. Without one, use `upshift detect`, `upshift plan --to V` and `upshift upgrade --to V --yes`")}
	}
	if err := f.useContext(); err != nil {
		return err
	}
	eng := wizard.New(f.options(), f.logFile)
	defer eng.Close()
	res, err := tui.Run(cmd.Context(), eng, tui.Options{NoColor: f.noColor || os.Getenv("NO_COLOR") != ""}, os.Stdin, os.Stdout)
	if err != nil {
		return err
	}
	if res.Outcome == "" {
		return nil
	}
	return outcomeErr(res)
}

// withSession is a command's RunE on a session of the stack the flags
// name: opened before fn, closed after it.
func (f *stackFlags) withSession(fn func(ctx context.Context, sess *engine.Session, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		sess, err := f.open(ctx)
		if err != nil {
			return err
		}
		defer sess.Close()
		return fn(ctx, sess, cmd, args)
	}
}

// plain says whether output to w must carry no colours or escapes:
// --no-color, NO_COLOR, or w is not a terminal (a pipe, a file).
func (f *stackFlags) plain(w io.Writer) bool {
	if f.noColor || os.Getenv("NO_COLOR") != "" {
		return true
	}
	fh, ok := w.(*os.File)
	return !ok || !render.IsTerminal(fh)
}

// self is how the admin called upshift ("./upshift", "upshift"), for the
// commands the hints suggest.
func self() string {
	if len(os.Args) > 0 && strings.ContainsRune(os.Args[0], '/') && !filepath.IsAbs(os.Args[0]) {
		return os.Args[0]
	}
	return "upshift"
}

// useContext makes --context the engine of this process and of the docker
// compose it runs, as `docker --context` does (it conflicts with DOCKER_HOST).
func (f *stackFlags) useContext() error {
	if f.dockerContext == "" {
		return nil
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return usageError{fmt.Errorf("--context %s and DOCKER_HOST=%s both name an engine: unset one", f.dockerContext, h)}
	}
	if err := os.Setenv("DOCKER_CONTEXT", f.dockerContext); err != nil {
		return fmt.Errorf("set DOCKER_CONTEXT: %w", err)
	}
	return nil
}
