package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/render"
)

func TestStatusExitCodes(t *testing.T) {
	for _, tt := range []struct {
		st   engine.Status
		code int
		text string
	}{
		{engine.Status{State: engine.StatusOK, Project: "p", Version: "2.0.0"}, exitOK, "no upgrade run journaled yet"},
		{engine.Status{State: engine.StatusInProgress, Project: "p", InProgress: &engine.CurrentRun{Holder: "pid 7", ID: "r", Step: "2.0.0/migrate", StepName: "Migrate", InStep: true, Since: time.Now().Add(-time.Minute)}}, exitInProgress, "in step Migrate (2.0.0/migrate) for 1m"},
		{engine.Status{State: engine.StatusLastFailed, Project: "p", LastRun: &engine.PastRun{ID: "r", Outcome: "rolled_back", FailedStep: "2.1.0/migrate"}}, exitFailure, "rolled_back at 2.1.0/migrate"},
		{engine.Status{State: engine.StatusInterrupted, Project: "p", LastRun: &engine.PastRun{ID: "r", Outcome: "interrupted"}, Next: "upshift resume"}, exitFailure, "what to do: upshift resume"},
	} {
		t.Run(string(tt.st.State), func(t *testing.T) {
			err := statusErr(&tt.st)
			if got := exitCode(t.Context(), err); got != tt.code {
				t.Errorf("exit %d, want %d", got, tt.code)
			}
			var b bytes.Buffer
			if err := render.Status(&b, &tt.st, false, time.Now()); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tt.text) {
				t.Errorf("output lacks %q:\n%s", tt.text, b.String())
			}
		})
	}
}
