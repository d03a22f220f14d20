package dockerx

import (
	"os/exec"
	"syscall"
	"time"
)

// stopGrace is how long a cancelled subprocess has between SIGINT and
// SIGKILL.
const stopGrace = 10 * time.Second

// StartInGroup starts cmd (made with exec.CommandContext) in a process group
// of its own, so the SIGHUP of an SSH drop or a Ctrl+C at the terminal,
// which go to the terminal's foreground group, does not kill a migration
// half-way: only upshift decides when it stops. Cancelling the context sends
// SIGINT to the whole group (docker compose runs the compose plugin as a
// child), and exec kills the leader stopGrace later. The caller must have
// pointed Stdout and Stderr away from the terminal; a nil Stdin reads
// /dev/null. Every subprocess upshift runs during an upgrade starts here
// (compose here, pg_dump/pg_restore on the host in backup).
func StartInGroup(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return signalGroup(cmd, syscall.SIGINT) }
	cmd.WaitDelay = stopGrace
	return cmd.Start() //nolint:wrapcheck // callers say which command failed
}

// signalGroup signals cmd's process group (its pgid is its pid).
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, sig) //nolint:wrapcheck // exec reports it
}

// KillGroup kills what is left of a cancelled cmd's group after Wait:
// exec's own kill reaches only the leader, not the children it started.
func KillGroup(cmd *exec.Cmd) {
	_ = signalGroup(cmd, syscall.SIGKILL)
}
