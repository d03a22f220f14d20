package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

func TestExitCodes(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"success", ctx, nil, exitOK},
		{"failure", ctx, errors.New("boom"), exitFailure},
		{"usage", ctx, usageError{errors.New("--to is required")}, exitUsage},
		{"timeout", ctx, fmt.Errorf("x: %w", context.DeadlineExceeded), exitTimeout},
		{"aborted", cancelled, errors.New("interrupted"), exitAborted},
		{"rolled back", ctx, outcomeErr(steps.Result{Outcome: steps.OutcomeRolledBack, Reached: "2.0.0", Backup: "b1"}), exitRolledBack},
		{"stuck", ctx, outcomeErr(steps.Result{Outcome: steps.OutcomeFailed, Backup: "b1", Error: "restore failed"}), exitStuck},
		{"failed before any change", ctx, outcomeErr(steps.Result{Outcome: steps.OutcomeFailed, Message: "nothing was changed"}), exitFailure},
		{"failed after the backup, unchanged", ctx, outcomeErr(steps.Result{Outcome: steps.OutcomeFailed, Backup: "b1", Unchanged: true}), exitFailure},
		{"declined", ctx, outcomeErr(steps.Result{Outcome: steps.OutcomeAborted, Error: "declined"}), exitAborted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.ctx, tt.err); got != tt.want {
				t.Fatalf("exit code %d, want %d", got, tt.want)
			}
		})
	}
	if outcomeErr(steps.Result{Outcome: steps.OutcomeSuccess}) != nil {
		t.Fatal("success must not be an error")
	}
}

func TestRootRejectsBadFlags(t *testing.T) {
	root := newRootCmd()
	root.SetArgs([]string{"plan", "--no-such-flag"})
	root.SetOut(new(nopWriter))
	root.SetErr(new(nopWriter))
	err := root.ExecuteContext(context.Background())
	if exitCode(context.Background(), err) != exitUsage {
		t.Fatalf("unknown flag: %v", err)
	}
}

type nopWriter struct{}

func (*nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func TestPlainOutputWhenNotATerminal(t *testing.T) {
	var f stackFlags
	if !f.plain(new(nopWriter)) {
		t.Fatal("a pipe or a buffer must get plain output")
	}
	t.Setenv("NO_COLOR", "1")
	if !f.plain(os.Stdout) {
		t.Fatal("NO_COLOR must give plain output")
	}
}
