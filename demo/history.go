package demo

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// SeedEnv, set to 1 on `demo-app migrate`, gives a new database the notes a
// real install would have from its years on 1.x (`demo up` sets it).
const SeedEnv = "UPSHIFT_DEMO_SEED"

// history are the notes a 1.x install collected. 1.x had no check against
// the same note posted twice (a double-clicked form): two of them are
// there twice, which 2.1.0's unique index on notes.body refuses until the
// admin runs the DELETE of its release note.
var history = []string{
	"Welcome to the notes app",
	"Order new toner for the office printer",
	"Order new toner for the office printer",
	"Team meeting moved to Thursday",
	"Renew the TLS certificate before March",
	"Renew the TLS certificate before March",
	"Backup drill passed",
}

// seedHistory fills an empty notes table with history (on 2.1.0 and
// later, where duplicates cannot exist, each note once).
func seedHistory(ctx context.Context, conn *pgx.Conn, version string) error {
	var n int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM notes`).Scan(&n); err != nil {
		return fmt.Errorf("count notes: %w", err)
	}
	if n > 0 {
		return nil
	}
	seen := map[string]bool{}
	for _, body := range history {
		if seen[body] && version >= "2.1.0" {
			continue
		}
		seen[body] = true
		if _, err := insertNote(ctx, conn, version, body); err != nil {
			return err
		}
	}
	log.Printf("seeded %d notes of a 1.x history", len(history))
	return nil
}

var heartbeats atomic.Int64

// heartbeatBody is what the worker writes each beat, each one unique (its
// time and a counter), so the only duplicates 2.1.0's unique note bodies
// refuse are those of the seeded 1.x history: once the release note's
// DELETE has run they do not come back while an upgrade goes on.
func heartbeatBody() string {
	return strings.Join([]string{"worker heartbeat", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprint(heartbeats.Add(1))}, " ")
}
