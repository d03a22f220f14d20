package render

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/steps"
	"github.com/seed-e7a9fb3b/upshift/upgrade"
)

func TestPlanPrintsNoticesAndEstimate(t *testing.T) {
	pl := &engine.Planned{
		Path:    releases.Path{From: "1.0.0", To: "1.1.0", Hops: []releases.Hop{{Version: "1.1.0", Warnings: []releases.Warning{{Version: "1.1.0", Kind: releases.KindBreaking, Text: "X is removed."}}}}},
		Plan:    &steps.Plan{From: "1.0.0", To: "1.1.0"},
		Env:     &upgrade.Env{BackupDir: "/srv/b"},
		Notices: []string{"GitHub answered 503; using release notes cached at 2026-11-30 10:00 UTC"},
	}
	var b bytes.Buffer
	Plan(&b, pl, engine.Estimate{BackupBytes: 3 << 30, Downtime: 40 * time.Second}, false)
	out := b.String()
	for _, want := range []string{"note: GitHub answered 503", "breaking", "X is removed.", "3.0 GiB in /srv/b", "40s"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := PlanJSON(&b, pl, engine.Estimate{BackupBytes: 7}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"notices": [`) || !strings.Contains(b.String(), `"backup_bytes": 7`) {
		t.Errorf("plan --json lacks notices or the estimate:\n%s", b.String())
	}
}

// `detect | cat` gets no escape bytes: the report is plain when asked.
func TestReportPlainHasNoEscapes(t *testing.T) {
	var b bytes.Buffer
	r := &detect.Report{
		Project: "p", Dir: "/d", Profile: "generic", Version: "1.0", VersionSource: "image tag",
		Services: []detect.ServiceReport{{Name: "api", Role: "app", Image: "a:1", State: "running"}}, Warnings: []string{"DRIFT: x"},
	}
	r.Schema.Dirty = true
	if err := Report(&b, r, true); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(b.String(), '\x1b') {
		t.Fatalf("escape bytes in plain output:\n%q", b.String())
	}
	if !strings.Contains(b.String(), "api") || !strings.Contains(b.String(), "DIRTY") {
		t.Fatalf("report:\n%s", b.String())
	}
}
