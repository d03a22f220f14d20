// Package dockerx is upshift's only user of the Docker SDK and of the
// `docker compose` CLI. It translates Docker's vocabulary into plain values
// and knows nothing about apps, profiles or upgrade rules.
package dockerx

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Compose labels that docker compose puts on every container it creates.
const (
	LabelProject     = "com.docker.compose.project"
	LabelService     = "com.docker.compose.service"
	LabelWorkingDir  = "com.docker.compose.project.working_dir"
	LabelConfigFiles = "com.docker.compose.project.config_files"
	LabelEnvFile     = "com.docker.compose.project.environment_file"
	LabelOneOff      = "com.docker.compose.oneoff"
	LabelVersionOCI  = "org.opencontainers.image.version"
)

// Engine is a connection to a Docker engine.
type Engine struct {
	c *client.Client
}

// ErrUnreachable wraps every failure to talk to the Docker engine at all.
var ErrUnreachable = errors.New("docker engine unreachable")

// Connect opens a client from the environment (DOCKER_HOST etc.), negotiates
// the API version with the daemon and checks that it answers.
func Connect(ctx context.Context) (*Engine, error) {
	// The client negotiates the API version with the daemon by default (an
	// engine 20.10 speaks API 1.41).
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = c.Close()
		return nil, explainConnect(err)
	}
	return &Engine{c: c}, nil
}

func explainConnect(err error) error {
	msg := err.Error()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	switch {
	case strings.Contains(msg, "permission denied"):
		return fmt.Errorf("%w: permission denied on %s. Fix: run as root or add your user to the docker group (then log in again)", ErrUnreachable, host)
	case strings.Contains(msg, "no such file") || strings.Contains(msg, "connection refused") || strings.Contains(msg, "Cannot connect"):
		return fmt.Errorf("%w: nothing answers at %s. Fix: start the daemon (systemctl start docker) or set DOCKER_HOST", ErrUnreachable, host)
	default:
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, host, err)
	}
}

// Close releases the client.
func (e *Engine) Close() error {
	if err := e.c.Close(); err != nil {
		return fmt.Errorf("close docker client: %w", err)
	}
	return nil
}

// ServerInfo is what the engine says about itself.
type ServerInfo struct {
	Version    string
	APIVersion string
}

// Server returns the engine version.
func (e *Engine) Server(ctx context.Context) (ServerInfo, error) {
	v, err := e.c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return ServerInfo{}, fmt.Errorf("docker version: %w", err)
	}
	return ServerInfo{Version: v.Version, APIVersion: v.APIVersion}, nil
}

// Container is the part of a container upshift cares about.
type Container struct {
	ID           string
	Name         string
	Service      string
	Project      string
	Image        string // reference as configured (repo:tag)
	ImageID      string // sha256:... of the image
	State        string // running, exited, ...
	Health       string // healthy, unhealthy, starting, "" when no healthcheck
	RestartCount int
	ExitCode     int
	Labels       map[string]string
	Env          []string
	Networks     map[string]string // network name -> IP address
	Ports        []PortBinding
	Mounts       []Mount
	OneOff       bool
	StartedAt    time.Time
}

// PortBinding is a published port.
type PortBinding struct {
	ContainerPort int
	Proto         string
	HostIP        string
	HostPort      string
}

// Mount is a volume or bind mount of a container.
type Mount struct {
	Type        string // volume, bind
	Name        string // volume name
	Source      string // host path
	Destination string
}

// ProjectContainers lists the containers of a compose project (running or not).
func (e *Engine) ProjectContainers(ctx context.Context, project string) ([]Container, error) {
	res, err := e.c.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelProject+"="+project),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of project %s: %w", project, err)
	}
	out := make([]Container, 0, len(res.Items))
	for _, s := range res.Items {
		c, err := e.Inspect(ctx, s.ID)
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				continue
			}
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Projects lists the compose project names that have containers on this engine.
func (e *Engine) Projects(ctx context.Context) ([]string, error) {
	res, err := e.c.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelProject),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range res.Items {
		p := s.Labels[LabelProject]
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Inspect reads one container.
func (e *Engine) Inspect(ctx context.Context, id string) (Container, error) {
	r, err := e.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return Container{}, fmt.Errorf("inspect container %s: %w", id, err)
	}
	in := r.Container
	c := Container{
		ID:           in.ID,
		Name:         strings.TrimPrefix(in.Name, "/"),
		ImageID:      in.Image,
		RestartCount: in.RestartCount,
		Networks:     map[string]string{},
	}
	if in.Config != nil {
		c.Image = in.Config.Image
		c.Labels = in.Config.Labels
		c.Env = in.Config.Env
	}
	c.Service = c.Labels[LabelService]
	c.Project = c.Labels[LabelProject]
	c.OneOff = c.Labels[LabelOneOff] == "True"
	if in.State != nil {
		c.State = string(in.State.Status)
		c.ExitCode = in.State.ExitCode
		if in.State.Health != nil {
			c.Health = string(in.State.Health.Status)
		}
		if t, err := time.Parse(time.RFC3339Nano, in.State.StartedAt); err == nil {
			c.StartedAt = t
		}
	}
	if in.NetworkSettings != nil {
		for name, n := range in.NetworkSettings.Networks {
			if n != nil && n.IPAddress.IsValid() {
				c.Networks[name] = n.IPAddress.String()
			} else {
				c.Networks[name] = ""
			}
		}
		for port, bindings := range in.NetworkSettings.Ports {
			for _, b := range bindings {
				hostIP := ""
				if b.HostIP.IsValid() {
					hostIP = b.HostIP.String()
				}
				c.Ports = append(c.Ports, PortBinding{ContainerPort: int(port.Num()), Proto: string(port.Proto()), HostIP: hostIP, HostPort: b.HostPort})
			}
		}
	}
	for _, m := range in.Mounts {
		c.Mounts = append(c.Mounts, Mount{Type: string(m.Type), Name: m.Name, Source: m.Source, Destination: m.Destination})
	}
	return c, nil
}

// EnvValue returns the value of key in the container's environment.
func (c Container) EnvValue(key string) (string, bool) {
	for _, kv := range c.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// HostPort returns a host address for a published container port, if any.
func (c Container) HostPort(containerPort int) (string, bool) {
	for _, p := range c.Ports {
		if p.ContainerPort == containerPort && p.HostPort != "" {
			ip := p.HostIP
			if ip == "" || ip == "0.0.0.0" || ip == "::" {
				ip = "127.0.0.1"
			}
			return net.JoinHostPort(ip, p.HostPort), true
		}
	}
	return "", false
}

// Image is the part of an image upshift cares about.
type Image struct {
	ID          string
	RepoTags    []string
	RepoDigests []string
	Labels      map[string]string
	Env         []string
	Size        int64
}

// ImageInspect reads an image; ok is false when it does not exist locally.
func (e *Engine) ImageInspect(ctx context.Context, ref string) (Image, bool, error) {
	r, err := e.c.ImageInspect(ctx, ref)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return Image{}, false, nil
		}
		return Image{}, false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	img := Image{ID: r.ID, RepoTags: r.RepoTags, RepoDigests: r.RepoDigests, Size: r.Size}
	if r.Config != nil {
		img.Labels = r.Config.Labels
		img.Env = r.Config.Env
	}
	return img, true, nil
}

// ImageTag points target at source (an image ID or reference).
func (e *Engine) ImageTag(ctx context.Context, source, target string) error {
	if _, err := e.c.ImageTag(ctx, client.ImageTagOptions{Source: source, Target: target}); err != nil {
		return fmt.Errorf("tag %s as %s: %w", source, target, err)
	}
	return nil
}

// ImageRemove removes an image reference.
func (e *Engine) ImageRemove(ctx context.Context, ref string) error {
	if _, err := e.c.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
		return fmt.Errorf("remove image %s: %w", ref, err)
	}
	return nil
}

// BuildFile is one file of a build context.
type BuildFile struct {
	Name string
	Mode int64
	Body []byte
	Path string // read from this host path instead of Body
}

// BuildImage builds an image from an in-memory/host-file context (classic builder),
// streaming the build output lines to log.
func (e *Engine) BuildImage(ctx context.Context, tags []string, labels map[string]string, files []BuildFile, log func(string)) error {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeTar(pw, files))
	}()
	res, err := e.c.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Tags: tags, Labels: labels, Remove: true, ForceRemove: true, Dockerfile: "Dockerfile",
	})
	if err != nil {
		_ = pr.CloseWithError(err)
		return fmt.Errorf("build %s: %w", strings.Join(tags, ","), err)
	}
	defer func() { _ = res.Body.Close() }()
	dec := json.NewDecoder(res.Body)
	for {
		var m struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("build %s: reading output: %w", strings.Join(tags, ","), err)
		}
		if m.Error != "" {
			return fmt.Errorf("build %s: %s", strings.Join(tags, ","), m.Error)
		}
		if s := strings.TrimSpace(m.Stream); s != "" && log != nil {
			log(s)
		}
	}
}

func writeTar(w io.Writer, files []BuildFile) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if f.Path != "" {
			fh, err := os.Open(f.Path)
			if err != nil {
				return fmt.Errorf("build context: %w", err)
			}
			st, err := fh.Stat()
			if err != nil {
				_ = fh.Close()
				return fmt.Errorf("build context: %w", err)
			}
			if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: mode, Size: st.Size(), ModTime: time.Unix(0, 0)}); err != nil {
				_ = fh.Close()
				return fmt.Errorf("build context: %w", err)
			}
			_, err = io.Copy(tw, fh)
			_ = fh.Close()
			if err != nil {
				return fmt.Errorf("build context: %w", err)
			}
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: mode, Size: int64(len(f.Body)), ModTime: time.Unix(0, 0)}); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		if _, err := tw.Write(f.Body); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	return nil
}

// ExecResult is the outcome of a command run in a container.
type ExecResult struct {
	ExitCode int
	Stderr   string // last bytes of stderr, for error messages
}

// Exec runs cmd in a running container. Stdout is streamed to stdout (never
// buffered whole); stderr lines go to logLine and the tail is kept for errors.
// stdin, when non-nil, is copied to the process's standard input.
func (e *Engine) Exec(ctx context.Context, containerID string, cmd, env []string, user string, stdin io.Reader, stdout io.Writer, logLine func(string)) (ExecResult, error) {
	cr, err := e.c.ExecCreate(ctx, containerID, client.ExecCreateOptions{
		Cmd: cmd, Env: env, User: user, AttachStdout: true, AttachStderr: true, AttachStdin: stdin != nil,
	})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %s in %s: %w", cmd[0], shortID(containerID), err)
	}
	att, err := e.c.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("attach to exec %s: %w", cmd[0], err)
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	if stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, stdin)
			_ = att.CloseWrite()
		}()
	}
	if stdout == nil {
		stdout = io.Discard
	}
	tail := &tailWriter{max: 4096, line: logLine}
	_, copyErr := stdcopy.StdCopy(stdout, tail, att.Reader)
	tail.flush()
	if ctx.Err() != nil {
		return ExecResult{}, fmt.Errorf("exec %s: %w", cmd[0], ctx.Err())
	}
	if copyErr != nil {
		return ExecResult{}, fmt.Errorf("exec %s: reading output: %w", cmd[0], copyErr)
	}
	ins, err := e.c.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %s: %w", cmd[0], err)
	}
	return ExecResult{ExitCode: ins.ExitCode, Stderr: tail.String()}, nil
}

// tailWriter keeps the last max bytes and calls line for every complete line.
type tailWriter struct {
	max     int
	buf     []byte
	partial []byte
	line    func(string)
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	if t.line != nil {
		t.partial = append(t.partial, p...)
		for {
			i := bytes.IndexByte(t.partial, '\n')
			if i < 0 {
				break
			}
			t.line(string(t.partial[:i]))
			t.partial = t.partial[i+1:]
		}
	}
	return len(p), nil
}

func (t *tailWriter) flush() {
	if t.line != nil && len(t.partial) > 0 {
		t.line(string(t.partial))
		t.partial = nil
	}
}

func (t *tailWriter) String() string { return strings.TrimSpace(string(t.buf)) }

// CopyFrom streams a tar archive of path inside the container (works on stopped containers).
func (e *Engine) CopyFrom(ctx context.Context, containerID, path string) (io.ReadCloser, error) {
	r, err := e.c.CopyFromContainer(ctx, containerID, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return nil, fmt.Errorf("copy %s from %s: %w", path, shortID(containerID), err)
	}
	return r.Content, nil
}

// CopyTo extracts a tar stream into dir inside the container.
func (e *Engine) CopyTo(ctx context.Context, containerID, dir string, content io.Reader) error {
	if _, err := e.c.CopyToContainer(ctx, containerID, client.CopyToContainerOptions{DestinationPath: dir, Content: content}); err != nil {
		return fmt.Errorf("copy into %s:%s: %w", shortID(containerID), dir, err)
	}
	return nil
}

// Logs follows (or reads) a container's log and calls line for each line
// until the stream ends or ctx is cancelled.
func (e *Engine) Logs(ctx context.Context, containerID string, follow bool, since time.Time, line func(string)) error {
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow}
	if !since.IsZero() {
		opts.Since = fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
	}
	r, err := e.c.ContainerLogs(ctx, containerID, opts)
	if err != nil {
		return fmt.Errorf("logs of %s: %w", shortID(containerID), err)
	}
	defer func() { _ = r.Close() }()
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, r)
		pw.CloseWithError(err)
	}()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line(sc.Text())
	}
	_ = pr.Close()
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		return fmt.Errorf("logs of %s: %w", shortID(containerID), err)
	}
	return nil
}

// Wait blocks until the container stops and returns its exit code.
func (e *Engine) Wait(ctx context.Context, containerID string) (int, error) {
	w := e.c.ContainerWait(ctx, containerID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		return int(r.StatusCode), nil
	case err := <-w.Error:
		return -1, fmt.Errorf("wait for %s: %w", shortID(containerID), err)
	}
}

// Stop stops a container with a grace period.
func (e *Engine) Stop(ctx context.Context, containerID string, grace time.Duration) error {
	secs := int(grace.Seconds())
	if _, err := e.c.ContainerStop(ctx, containerID, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("stop %s: %w", shortID(containerID), err)
	}
	return nil
}

// VolumeMountpoint returns the host directory of a named volume.
func (e *Engine) VolumeMountpoint(ctx context.Context, name string) (string, error) {
	r, err := e.c.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect volume %s: %w", name, err)
	}
	return r.Volume.Mountpoint, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ImagePull pulls ref, reporting progress lines to log.
func (e *Engine) ImagePull(ctx context.Context, ref string, log func(string)) error {
	r, err := e.c.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	defer func() { _ = r.Close() }()
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("pull %s: %w", ref, err)
		}
		if m.Error != "" {
			return fmt.Errorf("pull %s: %s", ref, m.Error)
		}
		if log != nil && m.Status != "" {
			log(m.Status)
		}
	}
}
