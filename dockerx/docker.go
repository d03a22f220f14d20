// Package dockerx is upshift's only user of the Docker SDK and of the
// `docker compose` CLI. It translates Docker's vocabulary into plain values
// and knows nothing about apps, profiles or upgrade rules.
package dockerx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
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
	// DOCKER_HOST, else the docker context (endpoint.go), as compose does.
	ep, err := ResolveEndpoint()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	opts, err := ep.clientOpts()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	// The client negotiates the API version with the daemon by default (an
	// engine 20.10 speaks API 1.41).
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = c.Close()
		return nil, explainConnect(err, ep.Describe())
	}
	return &Engine{c: c}, nil
}

func explainConnect(err error, host string) error {
	msg := err.Error()
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
