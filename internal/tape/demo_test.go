package tape

import (
	"os"
	"testing"
)

// The repository's demo.tape must stay parseable; the lead's E2E test
// replays it against the real binary.
func TestDemoTapeParses(t *testing.T) {
	f, err := os.Open("../../demo.tape")
	if err != nil {
		t.Skip("no demo.tape:", err)
	}
	defer func() { _ = f.Close() }()
	cmds, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	if cols, rows := Size(cmds); cols < 80 || rows < 24 {
		t.Fatalf("demo.tape gives %dx%d, the wizard needs at least 80x24", cols, rows)
	}
}
