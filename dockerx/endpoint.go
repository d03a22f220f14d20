package dockerx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// Endpoint is the Docker engine upshift talks to, chosen the way the docker
// CLI (and so docker compose) chooses it: DOCKER_HOST, else DOCKER_CONTEXT,
// else the current context of the docker config. The SDK alone reads only
// DOCKER_HOST; without this, `docker context use remote` would send compose
// to the remote engine and the SDK calls to the local one.
type Endpoint struct {
	// Host is a DOCKER_HOST value (unix://, tcp://, ssh://); "" is the
	// local default socket.
	Host string
	// Context names the docker context it came from ("" for DOCKER_HOST or
	// the default).
	Context string
	// TLSDir holds ca.pem, cert.pem and key.pem of a context with TLS.
	TLSDir string
	// SkipTLSVerify is a context's "SkipTLSVerify".
	SkipTLSVerify bool
}

// Describe names the endpoint for messages: "ssh://ops@db1 (context prod)".
func (ep Endpoint) Describe() string {
	h := ep.Host
	if h == "" {
		h = "unix:///var/run/docker.sock"
	}
	if ep.Context != "" {
		h += " (docker context " + ep.Context + ")"
	}
	return h
}

// dockerConfigDir is $DOCKER_CONFIG or ~/.docker.
func dockerConfigDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker")
}

// ResolveEndpoint finds the engine as the docker CLI does.
func ResolveEndpoint() (Endpoint, error) {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return Endpoint{Host: h}, nil
	}
	dir := dockerConfigDir()
	name := os.Getenv("DOCKER_CONTEXT")
	if name == "" && dir != "" {
		b, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err == nil {
			var cfg struct {
				CurrentContext string `json:"currentContext"`
			}
			if err := json.Unmarshal(b, &cfg); err != nil {
				return Endpoint{}, fmt.Errorf("read %s: %w", filepath.Join(dir, "config.json"), err)
			}
			name = cfg.CurrentContext
		}
	}
	if name == "" || name == "default" {
		return Endpoint{}, nil
	}
	return readContext(dir, name)
}

// readContext reads a docker context's metadata (contexts/meta/<sha256 of
// the name>/meta.json) and TLS material.
func readContext(dir, name string) (Endpoint, error) {
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	p := filepath.Join(dir, "contexts", "meta", id, "meta.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return Endpoint{}, fmt.Errorf("docker context %q: %w. Fix: `docker context ls`, then DOCKER_CONTEXT=NAME or `docker context use NAME`", name, err)
	}
	var meta struct {
		Endpoints map[string]struct {
			Host          string `json:"Host"`
			SkipTLSVerify bool   `json:"SkipTLSVerify"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return Endpoint{}, fmt.Errorf("docker context %q: %s: %w", name, p, err)
	}
	d, ok := meta.Endpoints["docker"]
	if !ok || d.Host == "" {
		return Endpoint{}, fmt.Errorf("docker context %q has no docker endpoint (%s)", name, p)
	}
	ep := Endpoint{Host: d.Host, Context: name, SkipTLSVerify: d.SkipTLSVerify}
	tls := filepath.Join(dir, "contexts", "tls", id, "docker")
	if _, err := os.Stat(filepath.Join(tls, "ca.pem")); err == nil {
		ep.TLSDir = tls
	}
	return ep, nil
}

// clientOpts are the SDK options that reach ep: the environment's TLS and
// API version settings, then the host (an ssh:// host through `ssh …
// docker system dial-stdio`, as the docker CLI does).
func (ep Endpoint) clientOpts() ([]client.Opt, error) {
	opts := []client.Opt{client.FromEnv}
	switch {
	case ep.Host == "":
	case strings.HasPrefix(ep.Host, "ssh://"):
		dial, err := sshDialer(ep.Host)
		if err != nil {
			return nil, err
		}
		// The host is only the HTTP request's; every connection is an ssh.
		opts = append(opts, client.WithHost("http://docker.example.com"), client.WithDialContext(dial))
	default:
		opts = append(opts, client.WithHost(ep.Host))
	}
	if ep.TLSDir != "" {
		opts = append(opts, client.WithTLSClientConfig(filepath.Join(ep.TLSDir, "ca.pem"), filepath.Join(ep.TLSDir, "cert.pem"), filepath.Join(ep.TLSDir, "key.pem")))
	}
	return opts, nil
}

// sshDialer returns a dialer that runs `ssh [-l user] [-p port] -- host
// docker system dial-stdio` per connection and speaks HTTP over its stdio.
// ssh runs in its own process group: a hang-up of the admin's terminal
// must not cut the engine off mid-migration.
func sshDialer(host string) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("DOCKER_HOST %s: %w", host, err)
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("DOCKER_HOST %s: want ssh://[user@]host[:port]", host)
	}
	args := []string{"-o", "ConnectTimeout=30", "-T"}
	if u.User != nil && u.User.Username() != "" {
		args = append(args, "-l", u.User.Username())
	}
	if u.Port() != "" {
		args = append(args, "-p", u.Port())
	}
	args = append(args, "--", u.Hostname(), "docker", "system", "dial-stdio")
	return func(context.Context, string, string) (net.Conn, error) {
		// Not the dial's context: the connection outlives it (the HTTP
		// transport keeps it); Close ends the process.
		cmd := exec.Command("ssh", args...) //nolint:noctx // lives as long as the connection
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		return startCmdConn(cmd, host)
	}, nil
}

// cmdConn is a net.Conn over a subprocess's stdin and stdout.
type cmdConn struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    io.ReadCloser
	stderr *tailBuffer
	host   string
	once   sync.Once
	exited chan struct{} // closed once the process is reaped
}

func startCmdConn(cmd *exec.Cmd, host string) (*cmdConn, error) {
	// Our own pipes, not StdoutPipe: Wait (reaping ssh when it exits)
	// must not close the read end under a reader.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("ssh to %s: %w", host, err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		_ = outR.Close()
		_ = outW.Close()
		return nil, fmt.Errorf("ssh to %s: %w", host, err)
	}
	c := &cmdConn{cmd: cmd, in: inW, out: outR, stderr: &tailBuffer{}, host: host, exited: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, c.stderr
	err = cmd.Start()
	_ = inR.Close() // the child has its copies
	_ = outW.Close()
	if err != nil {
		_ = inW.Close()
		_ = outR.Close()
		return nil, fmt.Errorf("ssh to %s: %w (is the ssh client installed?)", host, err)
	}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	return c, nil
}

func (c *cmdConn) Read(p []byte) (int, error) {
	n, err := c.out.Read(p)
	if errors.Is(err, io.EOF) && n == 0 {
		return 0, c.explain(err)
	}
	return n, err //nolint:wrapcheck // io.EOF must stay io.EOF for the HTTP client
}

func (c *cmdConn) Write(p []byte) (int, error) {
	n, err := c.in.Write(p)
	if err != nil {
		return n, c.explain(err)
	}
	return n, nil
}

// explain turns the end of the pipe into ssh's own words when ssh failed
// ("Could not resolve hostname", "Permission denied (publickey)").
func (c *cmdConn) explain(err error) error {
	select {
	case <-c.exited:
		if s := c.stderr.String(); s != "" && !c.cmd.ProcessState.Success() {
			return fmt.Errorf("ssh to %s ended: %s", c.host, s)
		}
	case <-time.After(2 * time.Second):
	}
	return err
}

// CloseWrite half-closes the connection: ssh's stdin ends, dial-stdio on
// the far side passes the EOF on to the engine. An exec whose stdin is
// streamed (psql reading statements, pg_restore reading a dump) ends only
// on that EOF; the SDK calls CloseWrite when the connection has it.
func (c *cmdConn) CloseWrite() error {
	if err := c.in.Close(); err != nil {
		return fmt.Errorf("close the ssh pipe to %s: %w", c.host, err)
	}
	return nil
}

// Close ends the subprocess (its whole group).
func (c *cmdConn) Close() error {
	c.once.Do(func() {
		_ = c.in.Close()
		defer func() { _ = c.out.Close() }()
		if c.cmd.Process != nil {
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
		}
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.exited
		}
	})
	return nil
}

type pipeAddr string

func (a pipeAddr) Network() string { return "ssh" }
func (a pipeAddr) String() string  { return string(a) }

func (c *cmdConn) LocalAddr() net.Addr              { return pipeAddr("upshift") }
func (c *cmdConn) RemoteAddr() net.Addr             { return pipeAddr(c.host) }
func (c *cmdConn) SetDeadline(time.Time) error      { return nil }
func (c *cmdConn) SetReadDeadline(time.Time) error  { return nil }
func (c *cmdConn) SetWriteDeadline(time.Time) error { return nil }

var _ net.Conn = (*cmdConn)(nil)

// tailBuffer keeps the last 2 KiB written to it (ssh's stderr).
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = t.b[len(t.b)-2048:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
