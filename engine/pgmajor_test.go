package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/upgrade"
)

func pgPath() releases.Path {
	b := "3.0.0 needs PostgreSQL 16 or newer"
	return releases.Path{
		From: "2.0.0", To: "3.0.0",
		Hops:     []releases.Hop{{Version: "2.1.0"}, {Version: "3.0.0"}},
		Blocked:  true,
		Blockers: []string{b},
		DBNeeds:  []releases.DBNeed{{Hop: "3.0.0", Engine: profile.EnginePostgres, Version: "16", Blocker: b}},
	}
}

func pgSession(image string, major int, tmpl string) *Session {
	p := &profile.Profile{Name: "x", DB: profile.DB{Engine: profile.EnginePostgres, MajorImage: tmpl}}
	det := &detect.Result{Profile: p}
	det.Report.DB.ServerVersion = "15.8 (Debian 15.8-1)"
	return &Session{Det: det, opts: Options{PostgresImage: image, PostgresMajor: major}}
}

// An unmet min_db rule becomes a PostgreSQL hop before the first app hop
// that needs it, with the image's major; the blocker goes.
func TestPlanDBHop(t *testing.T) {
	cases := []struct {
		name, image, tmpl string
		major             int
		wantTo            int
		wantImage         string
		blocked, notice   bool
	}{
		{name: "image tag", image: "postgres:17-alpine", wantTo: 17, wantImage: "postgres:17-alpine"},
		{name: "template, smallest major", tmpl: "postgres:{{major}}-alpine", wantTo: 16, wantImage: "postgres:16-alpine"},
		{name: "template, --postgres-major", tmpl: "postgres:{{major}}", major: 18, wantTo: 18, wantImage: "postgres:18"},
		{name: "no image: blocked, with a notice", blocked: true, notice: true},
		{name: "image too old", image: "postgres:15.4", blocked: true},
		{name: "image of an unknown major", image: "postgres:latest", blocked: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := pgPath()
			notices := pgSession(tc.image, tc.major, tc.tmpl).planDBHop(context.Background(), &path)
			if path.Blocked != tc.blocked || (len(notices) > 0) != tc.notice {
				t.Fatalf("blocked %v %v, notices %v", path.Blocked, path.Blockers, notices)
			}
			if tc.blocked {
				if path.DBHop != nil {
					t.Fatalf("a hop on a blocked path: %+v", path.DBHop)
				}
				if tc.notice && !strings.Contains(notices[0], "--postgres-image") {
					t.Errorf("notice %q", notices[0])
				}
				return
			}
			h := path.DBHop
			if h == nil || h.Before != "3.0.0" || h.FromMajor != 15 || h.ToMajor != tc.wantTo || h.Image != tc.wantImage || len(path.Blockers) != 0 {
				t.Fatalf("hop %+v, blockers %v", h, path.Blockers)
			}
			hops := withDBHop(path, []upgrade.Hop{{Version: "2.1.0"}, {Version: "3.0.0"}})
			if len(hops) != 3 || hops[1].Postgres == nil || hops[1].Version != "2.1.0" || hops[1].Postgres.ToMajor != tc.wantTo || hops[2].Version != "3.0.0" {
				t.Fatalf("hops %+v", hops)
			}
		})
	}
}
