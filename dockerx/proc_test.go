package dockerx

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestStartInGroup(t *testing.T) {
	t.Run("own process group, ended by cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// The grandchild sleep stands for the compose plugin that docker
		// starts; it holds the output pipe, so Wait returns early only if
		// SIGINT reached the whole group, not just sh.
		cmd := exec.CommandContext(ctx, "sh", "-c", `sh -c "echo ready; exec sleep 30"; true`)
		out := &readyWriter{ready: make(chan struct{})}
		cmd.Stdout, cmd.Stderr = out, out
		if err := StartInGroup(cmd); err != nil {
			t.Fatal(err)
		}
		<-out.ready // the grandchild runs
		pgid, err := syscall.Getpgid(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if pgid == syscall.Getpgrp() {
			t.Fatalf("child runs in our process group %d: a hang-up of the terminal would reach it", pgid)
		}
		if pgid != cmd.Process.Pid {
			t.Errorf("pgid = %d, want the child's pid %d", pgid, cmd.Process.Pid)
		}
		start := time.Now()
		cancel()
		err = cmd.Wait()
		if el := time.Since(start); el > stopGrace/2 {
			t.Errorf("cancel took %s: SIGINT did not end the group", el)
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("Wait = %v, want the child to have been stopped", err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() != syscall.SIGINT {
			t.Errorf("stopped by %v, want SIGINT", ws.Signal())
		}
		KillGroup(cmd)
		if n := liveMembers(t, pgid); n > 0 {
			t.Errorf("process group %d has %d live members after cancel", pgid, n)
		}
	})
	t.Run("killed after the grace when SIGINT is ignored", func(t *testing.T) {
		if testing.Short() {
			t.Skip("waits stopGrace")
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", "trap '' INT; echo ready; sleep 30 & wait")
		out := &readyWriter{ready: make(chan struct{})}
		cmd.Stdout = out
		if err := StartInGroup(cmd); err != nil {
			t.Fatal(err)
		}
		<-out.ready
		start := time.Now()
		cancel()
		_ = cmd.Wait()
		if el := time.Since(start); el < stopGrace-time.Second || el > stopGrace+5*time.Second {
			t.Errorf("ended after %s, want about %s", el, stopGrace)
		}
		pgid := cmd.Process.Pid
		KillGroup(cmd)
		deadline := time.Now().Add(5 * time.Second)
		for liveMembers(t, pgid) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("process group %d still has live members", pgid)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("start failure", func(t *testing.T) {
		cmd := exec.CommandContext(context.Background(), "/nonexistent/docker")
		if err := StartInGroup(cmd); err == nil {
			t.Fatal("started a missing binary")
		}
		KillGroup(cmd) // no process: must not signal anything
	})
}

// liveMembers counts the processes of group pgid that are not zombies
// (an orphan's zombie waits for whoever reaps orphans here).
func liveMembers(t *testing.T, pgid int) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	n := 0
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			n++
		}
	}
	return n
}

// readyWriter closes ready on the first write. It is not an *os.File, so
// exec copies through a pipe and Wait waits for every holder of it.
type readyWriter struct {
	once  sync.Once
	ready chan struct{}
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ready) })
	return len(p), nil
}
