package dockerx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

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
