package tape

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// tmux names for VHS keys.
var tmuxKeys = map[string]string{
	"Enter": "Enter", "Down": "Down", "Up": "Up", "Left": "Left", "Right": "Right", "Tab": "Tab",
	"Space": "Space", "Escape": "Escape", "Backspace": "BSpace", "Delete": "DC", "PageUp": "PPage",
	"PageDown": "NPage", "Home": "Home", "End": "End", "Insert": "IC",
}

// pollEvery is how often Wait looks at the screen.
const pollEvery = 50 * time.Millisecond

// Size is the terminal size a tape asks for, in cells. VHS sizes are in
// pixels: a value of 400 or less is taken as cells, a larger one is divided
// by the font's cell size. Without settings it is 80×24.
func Size(cmds []Command) (cols, rows int) {
	width, height, font := 0, 0, 22
	for _, c := range cmds {
		if c.Kind != KindSet {
			continue
		}
		v, err := strconv.Atoi(c.Value)
		if err != nil {
			continue
		}
		switch c.Name {
		case "Width":
			width = v
		case "Height":
			height = v
		case "FontSize":
			font = max(1, v)
		}
	}
	cols, rows = 80, 24
	if width > 0 {
		cols = width
		if width > 400 {
			cols = (width - 120) * 10 / (font * 6) // VHS pads 60px each side; cells are 0.6em wide
		}
	}
	if height > 0 {
		rows = height
		if height > 400 {
			rows = (height - 120) * 10 / (font * 12)
		}
	}
	return max(cols, 20), max(rows, 5)
}

// Replay runs shellCmd in a new detached tmux session and plays the tape
// into it. Each session gets its own tmux server (socket name = session), so
// replays never disturb each other or the admin's tmux; it is killed when
// Replay returns.
func Replay(ctx context.Context, tape []Command, session string, shellCmd string) error {
	cols, rows := Size(tape)
	if err := tmux(ctx, session, "new-session", "-d", "-s", session, "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows), shellCmd); err != nil {
		return err
	}
	defer func() {
		// The session may be gone already when the program exited.
		_ = exec.Command("tmux", "-L", session, "kill-server").Run() //nolint:noctx // cleanup must run after ctx ends
	}()
	for _, c := range tape {
		if err := play(ctx, c, session); err != nil {
			return fmt.Errorf("tape line %d (%s): %w", c.Line, c.Kind, err)
		}
	}
	return nil
}

func play(ctx context.Context, c Command, session string) error {
	switch c.Kind {
	case KindType:
		if c.Text == "" {
			return nil
		}
		return tmux(ctx, session, "send-keys", "-t", session, "-l", c.Text)
	case KindKey:
		for range c.Count {
			if err := tmux(ctx, session, "send-keys", "-t", session, tmuxKeys[c.Key]); err != nil {
				return err
			}
		}
		return nil
	case KindCtrl:
		return tmux(ctx, session, "send-keys", "-t", session, "C-"+strings.ToLower(c.Key))
	case KindSleep:
		return sleep(ctx, c.Duration)
	case KindWait:
		return wait(ctx, c, session)
	case KindSet, KindIgnored:
		return nil
	}
	return fmt.Errorf("cannot replay %q", c.Kind)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// wait polls the pane until the regex matches its last line (or the whole
// screen for Wait+Screen).
func wait(ctx context.Context, c Command, session string) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultWaitTimeout
	}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		screen, err := Capture(ctx, session)
		if err != nil {
			return err
		}
		last = screen
		target := screen
		if !c.Screen {
			target = lastLine(screen)
		}
		if c.Regex.MatchString(target) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait /%s/ timed out after %s; last screen:\n%s", c.Regex, timeout, last)
		}
		if err := sleep(ctx, pollEvery); err != nil {
			return err
		}
	}
}

// Capture returns what the session's pane shows now.
func Capture(ctx context.Context, session string) (string, error) {
	out, err := exec.CommandContext(ctx, "tmux", "-L", session, "capture-pane", "-p", "-t", session).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("tmux capture-pane: %s (the program may have exited)", strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("tmux capture-pane: %w", err)
	}
	return string(out), nil
}

func lastLine(screen string) string {
	lines := strings.Split(strings.TrimRight(screen, "\n "), "\n")
	return strings.TrimRight(lines[len(lines)-1], " ")
}

func tmux(ctx context.Context, session string, args ...string) error {
	out, err := exec.CommandContext(ctx, "tmux", append([]string{"-L", session}, args...)...).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("tmux %s: %s", args[0], strings.TrimSpace(string(out)))
		}
		return fmt.Errorf("tmux %s: %w", args[0], err)
	}
	return nil
}
