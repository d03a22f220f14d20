package engine

import (
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// A rehearsal's failure finds the hop's release-note action by the words it
// shares with the migration's error (the demo's 2.1.0 duplicate notes).
func TestHintMatchesARehearsalFailure(t *testing.T) {
	action := "Action required: the migration creates a unique index on `notes.body`. If your database already contains duplicate notes, the migration fails. Remove duplicates by hand before upgrading: DELETE FROM notes a USING notes b WHERE a.id > b.id AND a.body = b.body;"
	path := releases.Path{Hops: []releases.Hop{
		{Version: "2.0.0", Warnings: []releases.Warning{{Kind: releases.KindBreaking, Text: "NOTES_SECRET is renamed APP_SECRET"}}},
		{Version: "2.1.0", Warnings: []releases.Warning{
			{Kind: releases.KindManualAction, Text: action},
			{Kind: releases.KindBreaking, Text: "Tags are enabled for every note"},
		}},
	}}
	failure := `the 2.1.0 migration failed in its rehearsal on a scratch copy of the database after 700ms, so nothing was changed (the app was never stopped): the migration exited with 1; the migration's first error line: ERROR migration c92d7f0e4b31 -> 5a7e3b9c1d02 (2.1.0) failed: CREATE UNIQUE INDEX notes_body_key ON notes (body): ERROR: could not create unique index "notes_body_key" (SQLSTATE 23505)`
	got := hintFor(path)(steps.StepInfo{ID: "2.1.0/rehearse", Hop: "2.1.0"}, failure)
	if !strings.Contains(got, "DELETE FROM notes a USING notes b") {
		t.Fatalf("hint %q", got)
	}
	if got := hintFor(path)(steps.StepInfo{ID: "2.0.0/rehearse", Hop: "2.0.0"}, failure); got != "" {
		t.Errorf("another hop's note matched: %q", got)
	}
}
