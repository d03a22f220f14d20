package releases

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

func demoProfile(t *testing.T) *profile.Profile {
	t.Helper()
	for _, p := range profile.Builtin() {
		if p.Name == "upshift-demo" {
			return p
		}
	}
	t.Fatal("no upshift-demo profile")
	return nil
}

func demoNotes(t *testing.T) []Note {
	t.Helper()
	// The demo's notes as files (demo.ReleaseNotes embeds the same files);
	// read through a VersionedSource as the CLI wires the built-in demo.
	dir := DirSource{Dir: filepath.Join("..", "demo", "releases")}
	read := func(v string) ([]byte, error) { return os.ReadFile(filepath.Join(dir.Dir, v+".md")) }
	src, err := SourceFor(demoProfile(t), SourceOptions{Builtins: map[string]Source{
		"upshift-demo": VersionedSource{Versions: []string{"1.0.0", "1.1.0", "2.0.0", "2.1.0", "3.0.0"}, Read: read},
	}})
	if err != nil {
		t.Fatal(err)
	}
	fromDir, err := dir.Notes(context.Background())
	if err != nil || len(fromDir) != 5 {
		t.Fatalf("demo notes dir: %d notes, %v", len(fromDir), err)
	}
	notes, err := src.Notes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return notes
}

func hopVersions(p Path) []string {
	var out []string
	for _, h := range p.Hops {
		out = append(out, h.Version)
	}
	return out
}

func TestPlanDemo(t *testing.T) {
	p, notes := demoProfile(t), demoNotes(t)
	pg16 := DBFacts{Engine: "postgresql", ServerVersion: "16.4"}

	path, err := PlanPath(p, notes, "1.0.0", "2.0.0", pg16)
	if err != nil {
		t.Fatal(err)
	}
	if got := hopVersions(path); !slices.Equal(got, []string{"1.1.0", "2.0.0"}) {
		t.Fatalf("hops = %v", got)
	}
	if !path.Hops[0].RequiredStop || path.Hops[1].RequiredStop || path.Blocked {
		t.Errorf("path = %+v", path)
	}
	found := false
	for _, w := range path.Hops[1].Warnings {
		if slices.ContainsFunc(w.Renames, func(r Rename) bool { return r.From == "NOTES_SECRET" && r.To == "APP_SECRET" }) {
			found = w.Kind == KindBreaking
		}
	}
	if !found {
		t.Errorf("2.0.0 has no breaking warning renaming NOTES_SECRET: %+v", path.Hops[1].Warnings)
	}
	if len(path.Hops[1].Renames) != 1 || path.Hops[1].Renames[0].To != "APP_SECRET" {
		t.Errorf("hop renames = %+v", path.Hops[1].Renames)
	}

	// From 1.1.0 no stop is needed; 2.0.0's notes are folded into 2.1.0.
	path, err = PlanPath(p, notes, "1.1.0", "2.1.0", pg16)
	if err != nil {
		t.Fatal(err)
	}
	if got := hopVersions(path); !slices.Equal(got, []string{"2.1.0"}) || len(path.Hops[0].Notes) != 2 {
		t.Errorf("hops = %v, notes %d", got, len(path.Hops[0].Notes))
	}

	// To 3.0.0 on PostgreSQL 15: blocked.
	path, err = PlanPath(p, notes, "1.0.0", "3.0.0", DBFacts{Engine: "postgres", ServerVersion: "PostgreSQL 15.8 on x86_64-pc-linux-gnu"})
	if err != nil {
		t.Fatal(err)
	}
	if !path.Blocked || len(path.Blockers) != 1 || !strings.Contains(path.Blockers[0], "PostgreSQL 16") {
		t.Errorf("blocked = %v, blockers %v", path.Blocked, path.Blockers)
	}
	if got := hopVersions(path); !slices.Equal(got, []string{"1.1.0", "3.0.0"}) {
		t.Errorf("hops = %v", got)
	}

	// Unknown DB version: a warning, not a blocker.
	path, err = PlanPath(p, notes, "2.1.0", "latest", DBFacts{})
	if err != nil {
		t.Fatal(err)
	}
	if path.Blocked || path.To != "3.0.0" {
		t.Errorf("path = %+v", path)
	}
	if !slices.ContainsFunc(path.Hops[0].Warnings, func(w Warning) bool {
		return w.Kind == KindRequirement && strings.Contains(w.Text, "unknown")
	}) {
		t.Errorf("no unknown-DB warning: %+v", path.Hops[0].Warnings)
	}
}

func TestPlanErrors(t *testing.T) {
	p, notes := demoProfile(t), demoNotes(t)
	tests := []struct{ from, to, want string }{
		{"2.0.0", "1.0.0", "not newer"},
		{"2.0.0", "2.0.0", "not newer"},
		{"1.0.0", "2.5.0", "no release notes for 2.5.0"},
		{"weird", "2.0.0", "running version"},
		{"1.0.0", "x.y", "target"},
		{"3.0.0", "latest", "not newer"},
	}
	for _, tt := range tests {
		_, err := PlanPath(p, notes, tt.from, tt.to, DBFacts{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("PlanPath(%s, %s) err = %v, want %q", tt.from, tt.to, err, tt.want)
		}
	}
	if _, err := PlanPath(nil, notes, "1.0.0", "2.0.0", DBFacts{}); err == nil {
		t.Error("nil profile accepted")
	}
	if _, err := PlanPath(p, nil, "1.0.0", "latest", DBFacts{}); err == nil {
		t.Error("latest without notes accepted")
	}
}

func notesFor(vs ...string) []Note {
	var out []Note
	for _, v := range vs {
		out = append(out, Note{Version: v, Body: "- fixes"})
	}
	return out
}

func TestPlanESRAndBlocked(t *testing.T) {
	p, err := profile.Load("testdata/esr-profile.yaml")
	if err != nil {
		t.Fatal(err)
	}
	notes := notesFor("10.5.0", "10.5.9", "10.6.0", "10.11.0", "10.11.17", "10.11.20", "11.0.0", "11.7.0", "11.7.2", "11.7.3", "11.8.0", "release-11", "11.8.1-rc.1")
	path, err := PlanPath(p, notes, "10.5.0", "11.8.0", DBFacts{Engine: "postgresql", ServerVersion: "16"})
	if err != nil {
		t.Fatal(err)
	}
	if got := hopVersions(path); !slices.Equal(got, []string{"10.5.9", "10.11.20", "11.7.3", "11.8.0"}) {
		t.Errorf("hops = %v", got)
	}
	if path.Blocked {
		t.Errorf("blockers = %v", path.Blockers)
	}
	if !slices.ContainsFunc(path.Skipped, func(s string) bool { return strings.HasPrefix(s, "release-11:") }) {
		t.Errorf("skipped = %v", path.Skipped)
	}
	if got := path.Hops[2].ManualActions; len(got) != 1 {
		t.Errorf("manual actions of 11.7.3 = %v", got)
	}
	// A target inside the blocked range.
	path, err = PlanPath(p, notes, "10.11.17", "11.7.2", DBFacts{Engine: "postgresql", ServerVersion: "16"})
	if err != nil {
		t.Fatal(err)
	}
	if !path.Blocked || !strings.Contains(path.Blockers[0], "renumbers") {
		t.Errorf("path = %+v", path)
	}
	// PostgreSQL 13 is too old for 11.x.
	path, err = PlanPath(p, notes, "10.11.20", "11.8.0", DBFacts{Engine: "postgresql", ServerVersion: "13.9"})
	if err != nil {
		t.Fatal(err)
	}
	if !path.Blocked || len(path.Blockers) != 2 {
		t.Errorf("blockers = %v", path.Blockers)
	}
}

func TestPlanLatestPatchOfEachMinor(t *testing.T) {
	p, err := profile.Load("testdata/minor-profile.yaml")
	if err != nil {
		t.Fatal(err)
	}
	notes := notesFor("v5.9.0", "v6.0.0", "v6.0.3", "v6.1.0", "v7.0.0", "v7.0.4", "v7.1.0", "v7.1.2", "v8.0.0", "v8.0.1", "v8.1.0", "v9.0.0")
	path, err := PlanPath(p, notes, "v5.9.0", "v8.1.0", DBFacts{})
	if err != nil {
		t.Fatal(err)
	}
	if got := hopVersions(path); !slices.Equal(got, []string{"v6.0.3", "v7.0.4", "v7.1.2", "v8.0.1", "v8.1.0"}) {
		t.Errorf("hops = %v", got)
	}
}

func TestPathJSON(t *testing.T) {
	path, err := PlanPath(demoProfile(t), demoNotes(t), "1.0.0", "2.0.0", DBFacts{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		From string `json:"from"`
		To   string `json:"to"`
		Hops []struct {
			Version      string `json:"version"`
			RequiredStop bool   `json:"required_stop"`
			Warnings     []struct {
				Kind string `json:"kind"`
				Text string `json:"text"`
			} `json:"warnings"`
		} `json:"hops"`
		Blocked  *bool     `json:"blocked"`
		Blockers *[]string `json:"blockers"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.From != "1.0.0" || got.To != "2.0.0" || len(got.Hops) != 2 || !got.Hops[0].RequiredStop || got.Blocked == nil || got.Blockers == nil {
		t.Errorf("json = %s", data)
	}
	if got.Hops[1].Warnings[0].Kind == "" || got.Hops[1].Warnings[0].Text == "" {
		t.Errorf("warning json = %s", data)
	}
}
