package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// TestRemoteEngineOverSSH: DOCKER_HOST=ssh://root@127.0.0.1:PORT (a real
// sshd on loopback, a key made by the test) — detect, plan and a real
// upgrade of a demo stack go through ssh, the SDK client and every docker
// compose call alike.
func TestRemoteEngineOverSSH(t *testing.T) {
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		sshd = "/usr/sbin/sshd"
	}
	if _, err := os.Stat(sshd); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("sshd is missing (scripts/test-env.sh installs openssh-server)")
		}
		t.Skip("SKIPPING: no sshd on this machine")
	}
	s := testenv.StartDemo(t, "1.0.0")
	dir := t.TempDir()
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "host_key"))
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "id"))
	pub, err := os.ReadFile(filepath.Join(dir, "id.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile %s\nSetEnv PATH=%s\n",
		port, filepath.Join(dir, "host_key"), filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "sshd.pid"), os.Getenv("PATH"))
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := exec.CommandContext(ctx, sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	var sshdLog strings.Builder
	d.Stdout, d.Stderr = &sshdLog, &sshdLog
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = d.Wait() }()
	// ssh as upshift and docker compose call it, with the test's key.
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nexec /usr/bin/ssh -F /dev/null -i %s -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes \"$@\"\n", filepath.Join(dir, "id"))
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), fmt.Sprintf("DOCKER_HOST=ssh://root@127.0.0.1:%d", port), "PATH="+bin+":"+os.Getenv("PATH"))
	up := func(args ...string) (string, error) {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer ccancel()
		cmd := exec.CommandContext(cctx, s.Bin, args...)
		cmd.Dir, cmd.Env = s.Dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := up("detect", "--json")
		if err == nil && strings.Contains(out, `"version": "1.0.0"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("detect over ssh: %v\n%s\nsshd:\n%s", err, out, sshdLog.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if out, err := up("plan", "--to", "1.1.0"); err != nil || !strings.Contains(out, "1.1.0") {
		t.Fatalf("plan over ssh: %v\n%s", err, out)
	}
	out, err := up("upgrade", "--to", "1.1.0", "--yes", "--json")
	if err != nil {
		t.Fatalf("upgrade over ssh: %v\n%s\nsshd:\n%s", err, out, sshdLog.String())
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "1.1.0" {
		t.Fatalf("result %+v", res)
	}
	if v, err := s.APIVersion(); err != nil || v != "1.1.0" {
		t.Fatalf("api %q %v", v, err)
	}
}
