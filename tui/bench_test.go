package tui

import (
	"runtime"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

const benchLine = "2026-03-14T09:26:53Z pg_dump: dumping contents of table \"public.notes\" (block 4711)"

// logModel is a model on the run screen with history lines in the running
// step's log, fed through the same path as the engine's events.
func logModel(tb testing.TB, history int) *model {
	tb.Helper()
	m := newModel(newFakeEngine(), testOptions(0, 0))
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.to = "1.1.0"
	m.screen = screenRun
	m.startRun() // the returned command (the engine) is not run
	feedLines(m, history)
	return m
}

func feedLines(m *model, n int) {
	const batch = 1024
	evs := make([]steps.Event, 0, batch)
	evs = append(evs, steps.Event{Kind: steps.EventStepStarted, Step: "1.1.0/backup", Time: t0})
	for i := range n {
		evs = append(evs, steps.Event{Kind: steps.EventLog, Step: "1.1.0/backup", Line: benchLine, Time: t0})
		if len(evs) == batch || i == n-1 {
			m.handleEvents(eventsMsg{events: evs})
			evs = evs[:0]
		}
	}
}

// BenchmarkLogIngest appends 100k lines per iteration through Update.
func BenchmarkLogIngest(b *testing.B) {
	m := logModel(b, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		feedLines(m, 100_000)
	}
	b.ReportMetric(float64(b.N)*100_000/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkLogView renders the run screen with a short and a long history.
func BenchmarkLogView(b *testing.B) {
	for _, tc := range []struct {
		name    string
		history int
	}{{"history=1k", 1_000}, {"history=100k", 100_000}} {
		b.Run(tc.name, func(b *testing.B) {
			m := logModel(b, tc.history)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// TestLogMemoryBounded checks that history never grows past the ring.
func TestLogMemoryBounded(t *testing.T) {
	m := logModel(t, 1_000)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	feedLines(m, 200_000)
	runtime.GC()
	runtime.ReadMemStats(&after)
	r := m.run.logs["1.1.0/backup"]
	if r.Len() != DefaultLogLines || r.Dropped() != 201_000-DefaultLogLines {
		t.Fatalf("ring holds %d lines, dropped %d", r.Len(), r.Dropped())
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
		t.Fatalf("heap grew by %d bytes for 200k lines; the ring should bound it", grew)
	}
}
