package tui

import (
	"fmt"
	"os"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

func TestDebugDump(t *testing.T) {
	if os.Getenv("DUMP") == "" {
		t.Skip()
	}
	f := newFakeEngine()
	m := newTestModel(t, f)
	show := func() { fmt.Println(plain(m)); fmt.Println("================================================================================") }
	show()
	press(t, m, "enter")
	show()
	press(t, m, "up", "enter")
	show()
	press(t, m, "y", "y")
	show()
	press(t, m, "enter", "e")
	show()
	press(t, m, "enter")
	feed(m, steps.Event{Kind: steps.EventPlan}, steps.Event{Kind: steps.EventStepStarted, Step: "1.1.0/backup"},
		steps.Event{Kind: steps.EventLog, Step: "1.1.0/backup", Line: "pg_dump: dumping"},
		steps.Event{Kind: steps.EventProgress, Step: "1.1.0/backup", Done: 10 << 20, Total: 48 << 20})
	show()
	feed(m, steps.Event{Kind: steps.EventStepFinished, Step: "1.1.0/backup", Status: "ok", Duration: 4e9},
		steps.Event{Kind: steps.EventStepStarted, Step: "1.1.0/env"},
		steps.Event{Kind: steps.EventConfirm, Step: "1.1.0/env", Prompt: f.runs["2.0.0"][2].prompt})
	show()
}
