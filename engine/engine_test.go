package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
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
	for _, p := range profile.Builtin() {
		if p.Name == "upshift-demo" {
			return p
		}
	}
	t.Fatal("no upshift-demo profile")
	return nil
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
	d, err := Unattended(false)(ctx, steps.Event{Step: "x/config"})
	if err != nil || !d.Approve {
		t.Fatalf("a plain confirmation: %+v %v", d, err)
	}
	if _, err := Unattended(false)(ctx, steps.Event{Step: "x/terms", Consent: true}); err == nil || !strings.Contains(err.Error(), "--accept-terms") {
		t.Fatalf("a consent without --accept-terms: %v", err)
	}
	if d, err := Unattended(true)(ctx, steps.Event{Step: "x/terms", Consent: true}); err != nil || !d.Approve {
		t.Fatalf("a consent with --accept-terms: %+v %v", d, err)
	}
}
