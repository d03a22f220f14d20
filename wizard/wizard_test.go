package wizard

import (
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/steps"
	"github.com/seed-e7a9fb3b/upshift/upgrade"
)

func TestUnwrap(t *testing.T) {
	in := "This release adds the `word_count` column. The\n  backfill takes a second.\n\nSecond paragraph."
	if got, want := unwrap(in), "This release adds the `word_count` column. The backfill takes a second.\n\nSecond paragraph."; got != want {
		t.Fatalf("unwrap = %q", got)
	}
	code := "Run:\n```sql\nDELETE FROM x;\n```"
	if unwrap(code) != code {
		t.Fatal("code blocks must keep their lines")
	}
}

func TestPlanViewCarriesNotices(t *testing.T) {
	pl := &engine.Planned{
		Path:    releases.Path{From: "1.0.0", To: "1.1.0", Hops: []releases.Hop{{Version: "1.1.0"}}},
		Plan:    &steps.Plan{From: "1.0.0", To: "1.1.0"},
		Env:     &upgrade.Env{BackupDir: "/b"},
		Notices: []string{"GitHub answered 503; using release notes cached at 2026-11-30 10:00 UTC"},
	}
	pv := planView(pl, engine.Estimate{BackupBytes: 42 << 20, Downtime: 20 * time.Second}, []engine.Check{{Name: "database reachable", OK: true}})
	if len(pv.Notices) != 1 || !strings.Contains(pv.Notices[0], "cached") {
		t.Fatalf("notices %q", pv.Notices)
	}
	if pv.BackupEstimate != 42<<20 || pv.ExpectedDowntime != 20*time.Second || len(pv.Preconditions) != 1 {
		t.Fatalf("plan view %+v", pv)
	}
}

// The PostgreSQL major hop is a hop of its own on the wizard's path, before
// the app hop that needs it, with what it does as its notes.
func TestPlanViewPostgresHop(t *testing.T) {
	pl := &engine.Planned{
		Path: releases.Path{
			From: "2.0.0", To: "3.0.0", Hops: []releases.Hop{{Version: "2.1.0"}, {Version: "3.0.0"}},
			DBHop: &releases.DBHop{Before: "3.0.0", Engine: "postgresql", FromMajor: 15, ToMajor: 17, Image: "postgres:17-alpine"},
		},
		Plan: &steps.Plan{From: "2.0.0", To: "3.0.0"},
		Env:  &upgrade.Env{BackupDir: "/b"},
	}
	pv := planView(pl, engine.Estimate{}, nil)
	var path []string
	for _, h := range pv.Hops {
		path = append(path, h.Version)
	}
	if strings.Join(path, " | ") != "2.1.0 | PostgreSQL 15 → 17 | 3.0.0" {
		t.Fatalf("path %q", path)
	}
	if md := pv.Hops[1].NotesMarkdown; !strings.Contains(md, "restored into PostgreSQL 17 (postgres:17-alpine) on a new volume") || !strings.Contains(md, "rollback switches back") {
		t.Fatalf("notes of the hop: %q", md)
	}
}
