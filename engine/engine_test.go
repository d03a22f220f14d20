package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// testProfile is the demo's profile: a required stop (1.1.0 before
// 2.0.0) and a rename (NOTES_SECRET → APP_SECRET in 2.0.0).
func testProfile(t *testing.T) *profile.Profile {
	t.Helper()
	p := profile.Named("upshift-demo")
	if p == nil {
		t.Fatal("no upshift-demo profile")
	}
	return p
}

// notes are release notes in the demo's shape, one per version.
var notes = map[string]string{
	"1.0.0": "# 1.0.0\n\nFirst release.\n",
	"1.1.0": "# 1.1.0\n\nAdds word counts.\n",
	"2.0.0": "# 2.0.0\n\n## Breaking changes\n\n- `NOTES_SECRET` is renamed to `APP_SECRET`.\n",
	"2.1.0": "# 2.1.0\n\nFaster search.\n",
}

func testSession(t *testing.T, version string, p *profile.Profile) *Session {
	t.Helper()
	dir := t.TempDir()
	det := &detect.Result{
		Report:  detect.Report{Version: version, DB: detect.DBReport{Engine: "postgresql", ServerVersion: "15.8", Reachable: true}},
		Stack:   &detect.Stack{Invocation: dockerx.Project{Name: "demo", WorkingDir: dir}},
		Profile: p,
	}
	src := releases.VersionedSource{Versions: []string{"1.0.0", "1.1.0", "2.0.0", "2.1.0"}, Read: func(v string) ([]byte, error) { return []byte(notes[v]), nil }}
	return NewSession(nil, det, Options{Upshift: "test", Builtins: Builtins{Notes: map[string]releases.Source{"upshift-demo": src}}})
}

// A resumed run derives the .env renames exactly as a fresh run does (two
// derivations disagreed before: a resumed run dropped the renames).
func TestResumeKeepsRenames(t *testing.T) {
	s := testSession(t, "1.0.0", testProfile(t))
	ctx := context.Background()
	pl, err := s.Plan(ctx, "2.0.0", PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Hops) != 2 || pl.Hops[1].Version != "2.0.0" || len(pl.Hops[1].Renames) == 0 {
		t.Fatalf("fresh plan hops %+v: want 1.1.0 then 2.0.0 with the NOTES_SECRET rename", pl.Hops)
	}
	st := &steps.RunState{Info: steps.RunInfo{ID: "r1", From: "1.0.0", To: "2.0.0", Hops: []string{"1.1.0", "2.0.0"}}, Failed: "2.0.0/config"}
	for _, choice := range []Choice{Retry, Continue} {
		t.Run(string(choice), func(t *testing.T) {
			r, err := s.Resume(ctx, st, choice)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Hops, pl.Hops) {
				t.Fatalf("resumed hops %+v, fresh %+v", r.Hops, pl.Hops)
			}
			want := pl.Plan.IndexOf("2.0.0/config")
			if choice == Continue {
				want++
			}
			if r.Start != want {
				t.Fatalf("start %d, want %d", r.Start, want)
			}
		})
	}
}

func TestResumeRefuses(t *testing.T) {
	s := testSession(t, "1.0.0", testProfile(t))
	ctx := context.Background()
	t.Run("the path changed since the journal", func(t *testing.T) {
		st := &steps.RunState{Info: steps.RunInfo{ID: "r1", From: "1.0.0", To: "2.0.0", Hops: []string{"2.0.0"}}, Failed: "2.0.0/migrate"}
		_, err := s.Resume(ctx, st, Retry)
		if err == nil || !strings.Contains(err.Error(), "1.1.0 → 2.0.0") || !strings.Contains(err.Error(), "Nothing was changed") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("retry of a half-done rollback", func(t *testing.T) {
		st := &steps.RunState{Info: steps.RunInfo{ID: "r2", From: "1.0.0", To: "1.1.0", Hops: []string{"1.1.0"}}, Failed: "rollback/restore", RollingBack: true}
		for _, c := range []Choice{Retry, Continue} {
			if _, err := s.Resume(ctx, st, c); err == nil || !strings.Contains(err.Error(), "--rollback") {
				t.Fatalf("%s: err = %v", c, err)
			}
		}
	})
	t.Run("rollback without a restore point", func(t *testing.T) {
		st := &steps.RunState{Info: steps.RunInfo{ID: "r3", From: "1.0.0", To: "1.1.0", Hops: []string{"1.1.0"}}, Failed: "1.1.0/preflight"}
		r, err := s.Resume(ctx, st, Rollback)
		if err != nil || !r.NoRestorePoint {
			t.Fatalf("r = %+v, err = %v", r, err)
		}
	})
}

// A notice of the release-notes source (here: GitHub down, the cache
// used) reaches the plan.
func TestStaleNotesNoticeReachesPlan(t *testing.T) {
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, `{"message":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[{"tag_name":"v1.1.0","name":"1.1.0","body":"Adds word counts."},{"tag_name":"v1.0.0","name":"1.0.0","body":"First."}]`))
	}))
	defer srv.Close()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	p := *testProfile(t)
	p.Notes = profile.NotesSource{GitHub: "acme/notes"}
	p.Upgrade = profile.Upgrade{}
	p.Renames = nil
	ctx := context.Background()
	s := testSession(t, "1.0.0", &p)
	s.opts.GitHubURL = srv.URL
	if _, err := s.Plan(ctx, "1.1.0", PlanOptions{}); err != nil {
		t.Fatalf("online plan: %v", err)
	}
	down.Store(true)
	s = testSession(t, "1.0.0", &p)
	s.opts.GitHubURL = srv.URL
	pl, err := s.Plan(ctx, "1.1.0", PlanOptions{})
	if err != nil {
		t.Fatalf("offline plan: %v", err)
	}
	if len(pl.Notices) == 0 || !strings.Contains(strings.Join(pl.Notices, "\n"), "cached") {
		t.Fatalf("notices %q: want the stale-cache notice", pl.Notices)
	}
}

func TestUnattended(t *testing.T) {
	ctx := context.Background()
	d, err := Unattended(false, nil)(ctx, steps.Event{Step: "x/config"})
	if err != nil || !d.Approve {
		t.Fatalf("a plain confirmation: %+v %v", d, err)
	}
	if _, err := Unattended(false, nil)(ctx, steps.Event{Step: "x/terms", Consent: true}); err == nil || !strings.Contains(err.Error(), "--accept-terms") {
		t.Fatalf("a consent without --accept-terms: %v", err)
	}
	if d, err := Unattended(true, nil)(ctx, steps.Event{Step: "x/terms", Consent: true}); err != nil || !d.Approve {
		t.Fatalf("a consent with --accept-terms: %+v %v", d, err)
	}
	doubt := steps.Event{Step: "x/migrate", Doubt: true, Line: `failed to migrate table: type "mediumtext" does not exist`}
	if d, err := Unattended(false, nil)(ctx, doubt); err != nil || d.Approve {
		t.Fatalf("a survived migration error under --yes rolls back: %+v %v", d, err)
	}
	if d, _ := Unattended(false, regexp.MustCompile(`mediumtext`))(ctx, doubt); !d.Approve {
		t.Fatal("--accept-migration-errors matching the line keeps it")
	}
	if d, _ := Unattended(false, regexp.MustCompile(`other`))(ctx, doubt); d.Approve {
		t.Fatal("--accept-migration-errors not matching rolls back")
	}
}

func TestWhereItStopped(t *testing.T) {
	info := steps.RunInfo{From: "1.0.0", To: "2.0.0", Hops: []string{"1.1.0", "2.0.0"}}
	ok := steps.StatusOK
	cases := []struct {
		name     string
		started  []string
		finished map[string]string
		good     string
		changed  bool
	}{
		{"before any change", []string{"1.1.0/preflight", "1.1.0/backup"}, map[string]string{"1.1.0/preflight": ok}, "1.0.0", false},
		{"mid-migration", []string{"1.1.0/preflight", "1.1.0/backup", "1.1.0/images", "1.1.0/config", "1.1.0/stop", "1.1.0/migrate"}, map[string]string{"1.1.0/config": ok, "1.1.0/stop": ok}, "1.0.0", true},
		{"between two hops", []string{"1.1.0/config", "1.1.0/verify"}, map[string]string{"1.1.0/config": ok, "1.1.0/verify": ok}, "1.1.0", false},
		{"second hop changed", []string{"1.1.0/verify", "2.0.0/preflight", "2.0.0/config"}, map[string]string{"1.1.0/verify": ok}, "1.1.0", true},
		{"half-done rollback", []string{"1.1.0/verify", "2.0.0/migrate", "rollback/stop"}, map[string]string{"1.1.0/verify": ok, "2.0.0/migrate": steps.StatusFailed}, "1.1.0", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			good, changed := whereItStopped(&steps.RunState{Info: info, Started: c.started, Finished: c.finished})
			if good != c.good || changed != c.changed {
				t.Fatalf("got %s changed=%v, want %s changed=%v", good, changed, c.good, c.changed)
			}
		})
	}
}

// A run killed between two steps goes on after the last finished one; it
// never starts over at step 1 (which rolled back a verified upgrade).
func TestResumeBetweenSteps(t *testing.T) {
	s := testSession(t, "1.0.0", testProfile(t))
	ctx := context.Background()
	pl, err := s.Plan(ctx, "2.0.0", PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var started []string
	finished := map[string]string{}
	for _, st := range pl.Plan.Steps {
		id := st.Info().ID
		started = append(started, id)
		finished[id] = steps.StatusOK
		if id == "1.1.0/verify" {
			break
		}
	}
	st := &steps.RunState{Info: steps.RunInfo{ID: "r", From: "1.0.0", To: "2.0.0", Hops: []string{"1.1.0", "2.0.0"}}, Started: started, Finished: finished, Interrupted: true}
	for _, c := range []Choice{Retry, Continue} {
		r, err := s.Resume(ctx, st, c)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Plan.Steps[r.Start].Info().ID; got != "2.0.0/preflight" {
			t.Fatalf("%s starts at %s, want 2.0.0/preflight", c, got)
		}
		if r.Env.Current() != "1.1.0" {
			t.Fatalf("%s: current %s, want 1.1.0", c, r.Env.Current())
		}
	}
	r, err := s.Resume(ctx, st, Rollback)
	if err != nil {
		t.Fatal(err)
	}
	if !r.NoRestorePoint && r.NothingToUndo == "" {
		t.Fatalf("a rollback right after a verified hop restores nothing: %+v", r)
	}
}

// A failure points at the hop's release-note action it matches.
func TestHintForFailure(t *testing.T) {
	action := "Action required: the migration creates a unique index on `notes.body`. If your database already contains duplicate notes, the migration fails. Remove duplicates by hand before upgrading: DELETE FROM notes a USING notes b WHERE a.id > b.id AND a.body = b.body;"
	path := releases.Path{Hops: []releases.Hop{{Version: "2.1.0", Warnings: []releases.Warning{
		{Kind: releases.KindBreaking, Text: "Setting `LEGACY_TAGS` is removed."},
		{Kind: releases.KindManualAction, Text: action},
	}}}}
	hint := hintFor(path)
	got := hint(steps.StepInfo{ID: "2.1.0/migrate", Hop: "2.1.0"}, `the migration failed: exit status 1 ERROR: could not create unique index "notes_body_key" (SQLSTATE 23505)`)
	if !strings.Contains(got, "DELETE FROM notes") {
		t.Fatalf("hint %q", got)
	}
	if got := hint(steps.StepInfo{ID: "2.1.0/start", Hop: "2.1.0"}, "api did not start healthy: timeout"); got != "" {
		t.Fatalf("an unrelated failure got a hint: %q", got)
	}
	if got := hint(steps.StepInfo{ID: "2.0.0/migrate", Hop: "2.0.0"}, "could not create unique index"); got != "" {
		t.Fatalf("another hop's note: %q", got)
	}
}

// Planning to the running version is "nothing to do", not an error.
func TestPlanToTheRunningVersion(t *testing.T) {
	s := testSession(t, "2.0.0", testProfile(t))
	pl, err := s.Plan(context.Background(), "2.0.0", PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Path.Hops) != 0 || len(pl.Plan.Steps) != 0 {
		t.Fatalf("hops %v steps %d", pl.Path.Hops, len(pl.Plan.Steps))
	}
}

// --continue never skips an interrupted backup: the hop would have no
// restore point.
func TestResumeContinueRetakesTheBackup(t *testing.T) {
	s := testSession(t, "1.0.0", testProfile(t))
	st := &steps.RunState{
		Info:    steps.RunInfo{ID: "r", From: "1.0.0", To: "1.1.0", Hops: []string{"1.1.0"}},
		Started: []string{"1.1.0/preflight", "1.1.0/backup"}, Finished: map[string]string{"1.1.0/preflight": steps.StatusOK}, Failed: "1.1.0/backup", Interrupted: true,
	}
	r, err := s.Resume(context.Background(), st, Continue)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Plan.Steps[r.Start].Info().ID; got != "1.1.0/backup" {
		t.Fatalf("continue starts at %s, want the backup again", got)
	}
}
