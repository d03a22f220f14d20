package dockerx

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

func deadPID(t *testing.T) int {
	t.Helper()
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.ProcessState.Pid()
}

func TestIsLeftover(t *testing.T) {
	host, _ := os.Hostname()
	me := strconv.Itoa(os.Getpid())
	now := time.Now()
	tests := []struct {
		name    string
		labels  map[string]string
		created time.Time
		want    bool
	}{
		{"owner alive", map[string]string{LabelScratchPID: me, LabelScratchBy: host}, now, false},
		{"owner dead", map[string]string{LabelScratchPID: strconv.Itoa(deadPID(t)), LabelScratchBy: host}, now, true},
		{"no owner", map[string]string{}, now, true},
		{"owner on another host", map[string]string{LabelScratchPID: "1", LabelScratchBy: host + "-other"}, now, false},
		{"older than a day", map[string]string{LabelScratchPID: me, LabelScratchBy: host}, now.Add(-25 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isLeftover(tt.labels, tt.created); got != tt.want {
				t.Errorf("got %v", got)
			}
		})
	}
}

func runParts(t *testing.T, run string) string {
	t.Helper()
	var out []string
	for _, args := range [][]string{{"ps", "-aq"}, {"network", "ls", "-q"}, {"volume", "ls", "-q"}} {
		o, err := testenv.Docker(append(args, "--filter", "label="+LabelScratchRun+"="+run)...)
		if err != nil {
			t.Fatal(o)
		}
		out = append(out, strings.Fields(o)...)
	}
	return strings.Join(out, " ")
}

// TestCleanupScratch: a scratch server whose upshift died is removed with
// its network and volume; one whose owner runs is left alone.
func TestCleanupScratch(t *testing.T) {
	ctx, eng := testEngine(t)
	spec := ScratchSpec{Image: testenv.PostgresImage(), DataDir: "/var/lib/postgresql/data", Env: []string{"POSTGRES_PASSWORD=x"}, Purpose: "test"}
	live, err := eng.StartScratch(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = live.Remove(ctx) }()
	spec.pid = deadPID(t)
	orphan, err := eng.StartScratch(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = orphan.Remove(ctx) }()
	if n := len(strings.Fields(runParts(t, orphan.RunID))); n != 3 {
		t.Fatalf("a scratch server is a container, a network and a volume, all labelled: %d parts", n)
	}
	if err := eng.CleanupScratch(ctx); err != nil {
		t.Fatal(err)
	}
	if left := runParts(t, orphan.RunID); left != "" {
		t.Errorf("the orphan is still there: %s", left)
	}
	if n := len(strings.Fields(runParts(t, live.RunID))); n != 3 {
		t.Errorf("the live scratch server lost parts: %d left", n)
	}
	if err := live.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if left := runParts(t, live.RunID); left != "" {
		t.Errorf("Remove left %s", left)
	}
}
