// Package detect reads the world into a Report: the compose project, which
// app it is (profile), the running version and where it came from, the
// database and its schema head, the containers, and what looks wrong. It
// changes nothing.
package detect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// StackOptions say where the compose project is.
type StackOptions struct {
	Dir      string   // project directory (default: current directory)
	Project  string   // -p NAME: find a running project by its labels
	Files    []string // -f files (default: compose's own lookup)
	EnvFiles []string
	Profiles []string
}

// Stack is a compose project as docker compose sees it.
type Stack struct {
	Invocation dockerx.Project // how to call docker compose for it
	Model      *types.Project  // the interpolated compose model
	EnvFile    string          // the .env used (absolute), "" if none
	// ExampleEnvFile is the app's template (env.example) read in place of a
	// missing .env; EnvFile stays "" (nothing ever writes the template).
	ExampleEnvFile string
}

// ErrNoCompose means no compose file was found.
var ErrNoCompose = errors.New("no compose file found")

// containerLister is what discovery needs from Docker for -p NAME.
type containerLister interface {
	ProjectContainers(ctx context.Context, project string) ([]dockerx.Container, error)
}

// LoadStack reads the compose project with compose-go, resolving the project
// name the way docker compose does (COMPOSE_PROJECT_NAME, `name:`, the
// directory). With opts.Project set, the running containers' labels give the
// working dir, files and env file the admin used.
func LoadStack(ctx context.Context, eng containerLister, opts StackOptions) (*Stack, error) {
	if opts.Project != "" && len(opts.Files) == 0 {
		if eng == nil {
			return nil, fmt.Errorf("project %q: finding a project by name needs Docker", opts.Project)
		}
		cs, err := eng.ProjectContainers(ctx, opts.Project)
		if err != nil {
			return nil, err
		}
		if len(cs) == 0 {
			return nil, fmt.Errorf("no containers of compose project %q on this Docker engine. Fix: check the name with `docker compose ls -a`, or use --dir", opts.Project)
		}
		l := cs[0].Labels
		if opts.Dir == "" {
			opts.Dir = l[dockerx.LabelWorkingDir]
		}
		if files := l[dockerx.LabelConfigFiles]; files != "" {
			opts.Files = strings.Split(files, ",")
		}
		if ef := l[dockerx.LabelEnvFile]; ef != "" && len(opts.EnvFiles) == 0 {
			opts.EnvFiles = strings.Split(ef, ",")
		}
		if len(opts.Profiles) == 0 {
			opts.Profiles = []string{"*"}
		}
	}
	dir := opts.Dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("current directory: %w", err)
		}
		dir = wd
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory. Fix: pass --dir with the directory of your compose file", abs)
	}
	envFiles := opts.EnvFiles
	example := ""
	if len(envFiles) == 0 {
		example = exampleEnv(abs)
		if example != "" {
			envFiles = []string{example}
		}
	}
	pfn := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(abs),
		cli.WithOsEnv,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		cli.WithDefaultProfiles(opts.Profiles...), // COMPOSE_PROFILES from .env when none given
		cli.WithDiscardEnvFile,
	}
	if opts.Project != "" {
		pfn = append(pfn, cli.WithName(opts.Project))
	}
	po, err := cli.NewProjectOptions(opts.Files, pfn...)
	if err != nil {
		return nil, explainComposeErr(abs, err)
	}
	if len(po.ConfigPaths) == 0 {
		return nil, fmt.Errorf("%w in %s (looked for compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml). Fix: run upshift in the directory of your compose file, pass --dir, or -p NAME for a running project", ErrNoCompose, abs)
	}
	model, err := po.LoadProject(ctx)
	if err != nil {
		return nil, explainComposeErr(abs, err)
	}
	envFile := ""
	if len(opts.EnvFiles) == 0 {
		if _, err := os.Stat(filepath.Join(abs, ".env")); err == nil {
			envFile = filepath.Join(abs, ".env")
		}
	} else {
		envFile = opts.EnvFiles[0]
		if !filepath.IsAbs(envFile) {
			envFile = filepath.Join(abs, envFile)
		}
	}
	files := make([]string, 0, len(po.ConfigPaths))
	for _, f := range po.ConfigPaths {
		if !filepath.IsAbs(f) {
			f = filepath.Join(abs, f)
		}
		files = append(files, f)
	}
	profiles := opts.Profiles
	if len(profiles) == 0 {
		if p, ok := model.Environment["COMPOSE_PROFILES"]; ok && p != "" {
			profiles = strings.Split(p, ",")
		}
	}
	inv := dockerx.Project{Name: model.Name, WorkingDir: abs, Files: files, EnvFiles: opts.EnvFiles, Profiles: activeProfiles(profiles)}
	return &Stack{Invocation: inv, Model: model, EnvFile: envFile, ExampleEnvFile: example}, nil
}

// exampleEnv is the env template next to the compose file (.env.example,
// env.example) when the project has no .env: the admin's first step is to
// copy it, and without it the files cannot be read at all.
func exampleEnv(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, ".env")); err == nil {
		return ""
	}
	for _, n := range []string{".env.example", "env.example", ".env.default"} {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

func activeProfiles(p []string) []string {
	var out []string
	for _, s := range p {
		if s != "*" && s != "" {
			out = append(out, s)
		}
	}
	return out
}

func explainComposeErr(dir string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "permission denied"):
		return fmt.Errorf("cannot read the compose project in %s: %w. Fix: run as a user that can read the compose files and .env", dir, err)
	case strings.Contains(msg, "no configuration file provided"):
		return fmt.Errorf("%w in %s. Fix: run upshift in the directory of your compose file, or pass --dir", ErrNoCompose, dir)
	default:
		return fmt.Errorf("the compose project in %s is not valid: %w. Nothing was changed. Fix: `docker compose config` shows the same problem; correct the file", dir, err)
	}
}

// ServiceNames returns the project's services, sorted.
func (s *Stack) ServiceNames() []string {
	names := make([]string, 0, len(s.Model.Services))
	for n := range s.Model.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ServiceEnv is the interpolated environment of a service in the compose model.
func (s *Stack) ServiceEnv(service, key string) (string, bool) {
	svc, ok := s.Model.Services[service]
	if !ok {
		return "", false
	}
	v, ok := svc.Environment[key]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

// DependencyOrder lists services so that each comes after what it depends on.
func (s *Stack) DependencyOrder() []string {
	var order []string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		svc := s.Model.Services[n]
		deps := make([]string, 0, len(svc.DependsOn))
		for d := range svc.DependsOn {
			deps = append(deps, d)
		}
		sort.Strings(deps)
		for _, d := range deps {
			if _, ok := s.Model.Services[d]; ok {
				visit(d)
			}
		}
		order = append(order, n)
	}
	for _, n := range s.ServiceNames() {
		visit(n)
	}
	return order
}
