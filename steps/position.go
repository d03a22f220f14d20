package steps

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Position is where a journaled run stands: the step it is in (or last
// finished) and since when, for `upshift status`.
type Position struct {
	Step string // StepInfo.ID of the newest step started ("" before any)
	Name string // its name from the journaled plan (the ID for rollback steps)
	In   bool   // the step started and has not finished
	// Since is when the step started (In) or finished; the run's start
	// before any step.
	Since       time.Time
	RollingBack bool // the run is restoring its restore point
}

// JournalPosition reads where the run of the journal at path stands. A
// torn last line (a write in progress) is ignored.
func JournalPosition(path string) (Position, error) {
	f, err := os.Open(path)
	if err != nil {
		return Position{}, fmt.Errorf("read journal: %w", err)
	}
	defer func() { _ = f.Close() }()
	var pos Position
	names := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var r Record
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if r.Run != nil && pos.Since.IsZero() {
			pos.Since = r.Run.Started
		}
		ev := r.Event
		if ev == nil {
			continue
		}
		switch ev.Kind {
		case EventPlan:
			for _, s := range ev.Plan {
				names[s.ID] = s.Name
			}
		case EventStepStarted:
			pos.Step, pos.In, pos.Since = ev.Step, true, ev.Time
			pos.Name = names[ev.Step]
			if pos.Name == "" {
				pos.Name = ev.Step
			}
		case EventStepFinished:
			if ev.Step == pos.Step {
				pos.In, pos.Since = false, ev.Time
			}
		case EventRollingBack:
			pos.RollingBack = true
		default:
		}
	}
	if err := sc.Err(); err != nil {
		return Position{}, fmt.Errorf("read journal %s: %w", path, err)
	}
	return pos, nil
}
