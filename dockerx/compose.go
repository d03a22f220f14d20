package dockerx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// Project is how the admin invokes docker compose for a stack: upshift always
// runs compose with exactly these so it acts on the admin's own project.
type Project struct {
	Name       string
	WorkingDir string
	Files      []string // absolute compose file paths, in order
	EnvFiles   []string
	Profiles   []string
}

// ErrComposeMissing means `docker compose` (v2) is not installed.
var ErrComposeMissing = errors.New("docker compose v2 is not available")

func (p Project) args(extra ...string) []string {
	a := []string{"compose", "--project-name", p.Name}
	if p.WorkingDir != "" {
		a = append(a, "--project-directory", p.WorkingDir)
	}
	for _, f := range p.Files {
		a = append(a, "-f", f)
	}
	for _, f := range p.EnvFiles {
		a = append(a, "--env-file", f)
	}
	for _, pr := range p.Profiles {
		a = append(a, "--profile", pr)
	}
	return append(a, extra...)
}

// ComposeVersion returns the version of the docker compose plugin.
func ComposeVersion(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", "compose", "version", "--short")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := StartInGroup(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		if msg := lastLines(stderr.String(), 2); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return "", fmt.Errorf("%w (docker compose version: %v). Fix: install the docker-compose-plugin package or the compose v2 binary under ~/.docker/cli-plugins", ErrComposeMissing, err)
	}
	return strings.TrimPrefix(strings.TrimSpace(stdout.String()), "v"), nil
}

// Compose runs `docker compose <args>` for the project, streaming each output
// line (stdout and stderr, never the terminal) to line. Compose runs in its
// own process group, so a hang-up of the admin's terminal does not stop it;
// cancelling ctx sends SIGINT to the group first, then kills after 10s.
func (p Project) Compose(ctx context.Context, line func(string), args ...string) error {
	return p.ComposeStdin(ctx, nil, line, args...)
}

// ComposeStdin is Compose with a standard input.
func (p Project) ComposeStdin(ctx context.Context, stdin io.Reader, line func(string), args ...string) error {
	cmd := exec.CommandContext(ctx, "docker", p.args(args...)...)
	cmd.Stdin = stdin
	cmd.Env = append(os.Environ(), "COMPOSE_PROGRESS=plain", "COMPOSE_ANSI=never")
	if p.WorkingDir != "" {
		cmd.Dir = p.WorkingDir
	}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	var tail bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			t := sc.Text()
			if tail.Len() > 8192 {
				tail.Reset()
			}
			tail.WriteString(t + "\n")
			if line != nil {
				line(t)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := StartInGroup(cmd)
	if err != nil {
		_ = pw.Close()
		wg.Wait()
		return fmt.Errorf("docker compose %s: %w", strings.Join(args, " "), err)
	}
	err = cmd.Wait()
	_ = pw.Close()
	wg.Wait()
	if err != nil {
		if ctx.Err() != nil {
			KillGroup(cmd)
			return fmt.Errorf("docker compose %s: %w", strings.Join(args, " "), ctx.Err())
		}
		return fmt.Errorf("docker compose %s failed: %w: %s", strings.Join(args, " "), err, lastLines(tail.String(), 5))
	}
	return nil
}

// ComposeOutput runs compose (in its own process group, like Compose) and
// returns its standard output.
func (p Project) ComposeOutput(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "docker", p.args(args...)...)
	cmd.Env = append(os.Environ(), "COMPOSE_ANSI=never")
	if p.WorkingDir != "" {
		cmd.Dir = p.WorkingDir
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := StartInGroup(cmd)
	if err == nil {
		err = cmd.Wait()
		if err != nil && ctx.Err() != nil {
			KillGroup(cmd)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("docker compose %s failed: %w: %s", strings.Join(args, " "), err, lastLines(stderr.String(), 5))
	}
	return stdout.Bytes(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
