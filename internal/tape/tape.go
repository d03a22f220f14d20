// Package tape reads VHS tape files and replays them in tmux. VHS cannot run
// on the test machines, so tests drive the real binary through the same
// tape the README's recording uses. It owns parsing and replaying, never
// what the program under test does.
package tape

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kind says what a Command does.
type Kind string

// The commands a tape may hold.
const (
	KindType    Kind = "Type"    // Text is typed as is
	KindKey     Kind = "Key"     // Key (Enter, Down, Tab, ...) is pressed Count times
	KindCtrl    Kind = "Ctrl"    // Key is pressed with Ctrl held
	KindSleep   Kind = "Sleep"   // wait Duration
	KindWait    Kind = "Wait"    // wait until Regex matches the Line or the Screen
	KindSet     Kind = "Set"     // Name = Value; the replayer reads Width/Height/FontSize
	KindIgnored Kind = "Ignored" // Hide, Show, Output, Require, Source, Screenshot
)

// Keys the parser knows, in VHS spelling.
var keyNames = map[string]bool{
	"Enter": true, "Down": true, "Up": true, "Left": true, "Right": true, "Tab": true,
	"Space": true, "Escape": true, "Backspace": true, "Delete": true, "PageUp": true, "PageDown": true,
	"Home": true, "End": true, "Insert": true,
}

// Command is one line of a tape.
type Command struct {
	Kind     Kind
	Line     int    // line number in the tape, for error messages
	Text     string // KindType
	Key      string // KindKey, KindCtrl (the letter)
	Count    int    // KindKey: how many presses
	Duration time.Duration
	Regex    *regexp.Regexp // KindWait
	Screen   bool           // KindWait: match the whole screen, not the last line
	Timeout  time.Duration  // KindWait: 0 = DefaultWaitTimeout
	Name     string         // KindSet, KindIgnored: the command or setting name
	Value    string         // KindSet, KindIgnored: the rest of the line
}

// DefaultWaitTimeout is VHS's default for Wait.
const DefaultWaitTimeout = 15 * time.Second

// Parse reads a tape. Errors name the line.
func Parse(r io.Reader) ([]Command, error) {
	var cmds []Command
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("tape line %d: %q: %w", n, line, err)
		}
		c.Line = n
		cmds = append(cmds, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read tape: %w", err)
	}
	return cmds, nil
}

// ParseString is Parse on a string.
func ParseString(s string) ([]Command, error) { return Parse(strings.NewReader(s)) }

func parseLine(line string) (Command, error) {
	word, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	// Options ride on the word: Type@100ms, Down@50ms, Wait+Screen@10s.
	name, opt, _ := strings.Cut(word, "@")
	switch {
	case name == "Type":
		text, err := unquote(rest)
		if err != nil {
			return Command{}, err
		}
		return Command{Kind: KindType, Text: text}, nil
	case name == "Sleep":
		d, err := parseDuration(rest)
		if err != nil {
			return Command{}, err
		}
		return Command{Kind: KindSleep, Duration: d}, nil
	case name == "Wait" || strings.HasPrefix(name, "Wait+"):
		return parseWait(name, opt, rest)
	case strings.HasPrefix(name, "Ctrl+"):
		k := strings.TrimPrefix(name, "Ctrl+")
		if k == "" {
			return Command{}, errors.New("a Ctrl+ command needs a key")
		}
		return Command{Kind: KindCtrl, Key: k, Count: 1}, nil
	case keyNames[name]:
		count := 1
		if rest != "" {
			v, err := strconv.Atoi(rest)
			if err != nil || v < 1 {
				return Command{}, fmt.Errorf("bad repeat count %q", rest)
			}
			count = v
		}
		return Command{Kind: KindKey, Key: name, Count: count}, nil
	case name == "Set":
		setting, value, _ := strings.Cut(rest, " ")
		if setting == "" {
			return Command{}, errors.New("a Set command needs a setting")
		}
		return Command{Kind: KindSet, Name: setting, Value: strings.TrimSpace(value)}, nil
	case name == "Hide", name == "Show", name == "Output", name == "Require", name == "Source",
		name == "Screenshot", name == "Env", name == "Copy", name == "Paste":
		return Command{Kind: KindIgnored, Name: name, Value: rest}, nil
	}
	return Command{}, fmt.Errorf("unknown command %q", name)
}

func parseWait(name, opt, rest string) (Command, error) {
	c := Command{Kind: KindWait}
	switch strings.TrimPrefix(strings.TrimPrefix(name, "Wait"), "+") {
	case "", "Line":
	case "Screen":
		c.Screen = true
	default:
		return Command{}, fmt.Errorf("unknown wait scope in %q", name)
	}
	if opt != "" {
		d, err := parseDuration(opt)
		if err != nil {
			return Command{}, err
		}
		c.Timeout = d
	}
	pattern := ">$" // VHS waits for a shell prompt by default
	if rest != "" {
		if len(rest) < 2 || rest[0] != '/' || rest[len(rest)-1] != '/' {
			return Command{}, errors.New("wait pattern must look like /regex/")
		}
		pattern = rest[1 : len(rest)-1]
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return Command{}, fmt.Errorf("wait pattern: %w", err)
	}
	c.Regex = re
	return c, nil
}

func unquote(s string) (string, error) {
	if len(s) >= 2 {
		switch q := s[0]; q {
		case '"', '\'', '`':
			if s[len(s)-1] == q {
				return s[1 : len(s)-1], nil
			}
		}
	}
	return "", errors.New("text must be quoted")
}

// parseDuration reads "500ms", "2s", or a bare number of seconds like VHS.
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}
