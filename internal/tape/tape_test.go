package tape

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	src := `# a comment
Output demo.gif
Require upshift
Set Shell "bash"
Set FontSize 20
Set Width 1200

Type "upshift demo"
Type@10ms 'it''s'
Enter
Sleep 500ms
Sleep 2
Wait /\$ $/
Wait+Screen /upshift · Overview/
Wait+Screen@20s /Go ahead\? \(y\/n\)/
Wait@3s
Down 3
Up
Tab 2
Space
Escape
Backspace 4
Ctrl+C
Hide
Show
`
	cmds, err := ParseString(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind Kind
		key  string
		n    int
	}{
		{KindIgnored, "", 0},
		{KindIgnored, "", 0},
		{KindSet, "", 0},
		{KindSet, "", 0},
		{KindSet, "", 0},
		{KindType, "", 0},
		{KindType, "", 0},
		{KindKey, "Enter", 1},
		{KindSleep, "", 0},
		{KindSleep, "", 0},
		{KindWait, "", 0},
		{KindWait, "", 0},
		{KindWait, "", 0},
		{KindWait, "", 0},
		{KindKey, "Down", 3},
		{KindKey, "Up", 1},
		{KindKey, "Tab", 2},
		{KindKey, "Space", 1},
		{KindKey, "Escape", 1},
		{KindKey, "Backspace", 4},
		{KindCtrl, "C", 1},
		{KindIgnored, "", 0},
		{KindIgnored, "", 0},
	}
	if len(cmds) != len(want) {
		t.Fatalf("got %d commands, want %d: %+v", len(cmds), len(want), cmds)
	}
	for i, w := range want {
		c := cmds[i]
		if c.Kind != w.kind || (w.key != "" && c.Key != w.key) || (w.n != 0 && c.Count != w.n) {
			t.Errorf("command %d (line %d) = %+v, want %+v", i, c.Line, c, w)
		}
	}
	if cmds[5].Text != "upshift demo" || cmds[6].Text != "it''s" {
		t.Errorf("type texts: %q %q", cmds[5].Text, cmds[6].Text)
	}
	if cmds[8].Duration != 500*time.Millisecond || cmds[9].Duration != 2*time.Second {
		t.Errorf("sleeps: %v %v", cmds[8].Duration, cmds[9].Duration)
	}
	if w := cmds[10]; w.Screen || w.Regex.String() != `\$ $` {
		t.Errorf("line wait: %+v", w)
	}
	if w := cmds[11]; !w.Screen || !w.Regex.MatchString("  upshift · Overview  ") {
		t.Errorf("screen wait: %+v", w)
	}
	if w := cmds[12]; w.Timeout != 20*time.Second || !w.Regex.MatchString("Go ahead? (y/n)") {
		t.Errorf("screen wait with timeout: %+v", w)
	}
	if w := cmds[13]; w.Timeout != 3*time.Second || w.Regex.String() != ">$" {
		t.Errorf("default wait: %+v", w)
	}
	if cols, rows := Size(cmds); cols != 90 || rows != 24 {
		t.Errorf("Size = %dx%d", cols, rows)
	}
}

func TestParseErrors(t *testing.T) {
	for name, src := range map[string]string{
		"unknown":     "Dance 3",
		"unquoted":    "Type hello",
		"bad sleep":   "Sleep soon",
		"bad count":   "Down x",
		"bad regex":   "Wait /(/",
		"no slashes":  "Wait+Screen hello",
		"bad scope":   "Wait+Pane /x/",
		"empty ctrl":  "Ctrl+",
		"bad timeout": "Wait@later /x/",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseString("Enter\n" + src)
			if err == nil || !strings.Contains(err.Error(), "line 2") {
				t.Fatalf("err = %v, want an error naming line 2", err)
			}
		})
	}
}

func TestReplay(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	t.Setenv("TMUX", "") // works from inside a tmux session too
	dir := t.TempDir()
	out := dir + "/answer"
	script := `printf 'name? '; read -r name; printf 'hello %s\n' "$name"; ` +
		`printf 'sure? (y/n) '; read -r yn; printf '%s\n' "$yn" > ` + out + `; printf 'bye\n'; sleep 30`
	cmds, err := ParseString(`Set Width 60
Set Height 10
Wait+Screen /name\?/
Type "admin"
Enter
Wait+Screen@5s /hello admin/
Wait /sure\? \(y\/n\)/
Type "y"
Enter
Wait+Screen /bye/
`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	session := "tape-test-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(dir+"/prog.sh", []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Replay(ctx, cmds, session, "sh "+dir+"/prog.sh"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil || strings.TrimSpace(string(got)) != "y" {
		t.Fatalf("answer file = %q, %v", got, err)
	}

	timeout, _ := ParseString("Wait+Screen@300ms /never shown/")
	err = Replay(ctx, timeout, session+"-timeout", "sh -c 'echo something else; sleep 30'")
	if err == nil || !strings.Contains(err.Error(), "timed out") || !strings.Contains(err.Error(), "something else") {
		t.Fatalf("timeout error = %v, want it to include the last screen", err)
	}
}
