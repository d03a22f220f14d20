package dockerx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// writeContext writes a docker context as `docker context create` does.
func writeContext(t *testing.T, dir, name, host string, tls bool) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	meta := filepath.Join(dir, "contexts", "meta", id)
	if err := os.MkdirAll(meta, 0o700); err != nil {
		t.Fatal(err)
	}
	js := `{"Name":"` + name + `","Metadata":{},"Endpoints":{"docker":{"Host":"` + host + `","SkipTLSVerify":false}}}`
	if err := os.WriteFile(filepath.Join(meta, "meta.json"), []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	if tls {
		d := filepath.Join(dir, "contexts", "tls", id, "docker")
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "ca.pem"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolveEndpoint(t *testing.T) {
	dir := t.TempDir()
	writeContext(t, dir, "prod", "ssh://ops@db1", false)
	writeContext(t, dir, "tls", "tcp://10.0.0.5:2376", true)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{},"currentContext":"prod"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	tests := []struct {
		name, host, context, config string
		want                        Endpoint
		wantErr                     string
	}{
		{name: "DOCKER_HOST wins over a context", host: "tcp://1.2.3.4:2375", context: "prod", config: dir, want: Endpoint{Host: "tcp://1.2.3.4:2375"}},
		{name: "DOCKER_CONTEXT", context: "tls", config: dir, want: Endpoint{Host: "tcp://10.0.0.5:2376", Context: "tls", TLSDir: "tls"}},
		{name: "current context of config.json", config: dir, want: Endpoint{Host: "ssh://ops@db1", Context: "prod"}},
		{name: "default context is the local socket", context: "default", config: dir, want: Endpoint{}},
		{name: "no config at all", config: empty, want: Endpoint{}},
		{name: "unknown context", context: "nope", config: dir, wantErr: `docker context "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", tt.host)
			t.Setenv("DOCKER_CONTEXT", tt.context)
			t.Setenv("DOCKER_CONFIG", tt.config)
			got, err := ResolveEndpoint()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got.TLSDir != "") != (tt.want.TLSDir != "") {
				t.Errorf("TLSDir %q", got.TLSDir)
			}
			got.TLSDir, tt.want.TLSDir = "", ""
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSSHHostSyntax(t *testing.T) {
	for _, h := range []string{"ssh://", "ssh://host/some/path"} {
		if _, err := sshDialer(h); err == nil {
			t.Errorf("%s accepted", h)
		}
	}
}

// localEngine is the real local engine's DOCKER_HOST (skips without one).
func localEngine(t *testing.T) string {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "info").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Docker engine and CI=true: %v", err)
		}
		t.Skip("\n*** SKIPPING: no Docker engine reachable ***")
	}
	return host
}

// TestConnectThroughContext: the SDK follows the docker context, as
// compose does: a context naming the real engine works, one naming a dead
// socket fails and says which context.
func TestConnectThroughContext(t *testing.T) {
	host := localEngine(t)
	dir := t.TempDir()
	writeContext(t, dir, "here", host, false)
	writeContext(t, dir, "dead", "unix://"+filepath.Join(dir, "nothing.sock"), false)
	t.Setenv("DOCKER_HOST", "")
	t.Setenv("DOCKER_CONFIG", dir)

	t.Setenv("DOCKER_CONTEXT", "here")
	e, err := Connect(context.Background())
	if err != nil {
		t.Fatalf("through context here: %v", err)
	}
	if v, err := e.Server(context.Background()); err != nil || v.Version == "" {
		t.Errorf("server %+v %v", v, err)
	}
	_ = e.Close()

	t.Setenv("DOCKER_CONTEXT", "dead")
	if _, err := Connect(context.Background()); err == nil || !strings.Contains(err.Error(), "docker context dead") {
		t.Fatalf("a dead context: %v", err)
	}
}

// TestConnectOverSSH: DOCKER_HOST=ssh://… runs `ssh … -- HOST docker system
// dial-stdio` per connection. A stand-in ssh on PATH runs that command
// locally, so the whole path (dialer, HTTP over a pipe, API negotiation,
// a streamed call) is exercised against the real engine without an sshd.
func TestConnectOverSSH(t *testing.T) {
	host := localEngine(t)
	bin := t.TempDir()
	argsLog := filepath.Join(bin, "args")
	// The stand-in logs its arguments and runs the remote command here,
	// against the real engine (our DOCKER_HOST is the ssh:// one).
	fake := "#!/bin/sh\necho \"$@\" >> " + argsLog + "\nwhile [ \"$1\" != \"--\" ]; do shift; done\nshift 2\nDOCKER_HOST=" + host + " exec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DOCKER_CONTEXT", "")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("DOCKER_HOST", "ssh://ops@db1.example:2222")
	e, err := Connect(context.Background())
	if err != nil {
		t.Fatalf("over ssh: %v", err)
	}
	v, err := e.Server(context.Background())
	if err != nil || v.Version == "" {
		t.Fatalf("server over ssh %+v %v", v, err)
	}
	if _, err := e.c.ContainerList(context.Background(), client.ContainerListOptions{All: true}); err != nil {
		t.Errorf("list over ssh: %v", err)
	}
	_ = e.Close()
	b, _ := os.ReadFile(argsLog)
	if !strings.Contains(string(b), "-l ops -p 2222 -- db1.example docker system dial-stdio") {
		t.Errorf("ssh called as %q", b)
	}

	// An ssh that fails says why.
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte("#!/bin/sh\necho 'ssh: Could not resolve hostname db1.example' >&2\nexit 255\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Connect(context.Background()); err == nil || !strings.Contains(err.Error(), "Could not resolve hostname") {
		t.Errorf("a failing ssh: %v", err)
	}
}
