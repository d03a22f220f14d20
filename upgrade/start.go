package upgrade

import (
	"context"
	"fmt"
	"time"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- start

type startStep struct {
	env     *Env
	hop     string
	version string
}

func (s *startStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: id(s.hop, "start"), Hop: s.hop, Name: "Start " + s.version,
		Explain: "Starts the whole stack with your own docker compose project (same name, files, profiles and .env), in dependency order, and waits until every service with a health check is healthy. Downtime ends here.",
		Touches: []string{"docker compose up -d --wait"},
	}
}

func (s *startStep) Run(ctx context.Context, sink steps.Sink) error {
	err := s.env.Compose.Run(ctx, sink.Log, "up", "--detach", "--wait", "--wait-timeout", "180", "--remove-orphans")
	if err != nil {
		s.env.tailLogs(ctx, sink)
		return fmt.Errorf("%s did not start healthy: %w", s.version, err)
	}
	return nil
}

// tailLogs shows the last lines of the app services (why did it not start?).
func (e *Env) tailLogs(ctx context.Context, sink steps.Sink) {
	det, err := e.detectNow(ctx)
	if err != nil {
		return
	}
	for _, name := range e.Writers() {
		c, ok := det.Containers[name]
		if !ok {
			continue
		}
		var lines []string
		_ = e.Docker.Logs(ctx, c.ID, false, time.Now().Add(-3*time.Minute), func(l string) { lines = append(lines, l) })
		for _, l := range steps.LastN(lines, 5) {
			sink.Log(name + " | " + l)
		}
	}
}
