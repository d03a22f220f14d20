package detect

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

func TestDrift(t *testing.T) {
	p := &profile.Profile{Schema: profile.Schema{Tool: "alembic", Heads: map[string]string{
		"1.0.0": "aaa", "1.1.0": "bbb", "1.2.0": "ccc",
	}}}
	for _, tc := range []struct {
		name, version, head string
		want                *Drift
		prose               string
	}{
		{"heads agree", "1.1.0", "bbb", nil, ""},
		{
			"head unknown to every release", "1.1.0", "zzz",
			&Drift{Kind: DriftUnknownHead, Head: "zzz", Expected: "bbb"},
			"DRIFT: the schema head zzz is unknown to demo 1.1.0 (it expects bbb): the database is probably ahead of the image",
		},
		{
			"database ahead of the image", "1.1.0", "ccc",
			&Drift{Kind: DriftDBAhead, Head: "ccc", Expected: "bbb", Version: "1.2.0"},
			"DRIFT: the database schema is at 1.2.0's head (ccc) but the running image is 1.1.0: an image was rolled back",
		},
		{
			"migrations pending", "1.1.0", "aaa",
			&Drift{Kind: DriftMigrationsPending, Head: "aaa", Expected: "bbb", Version: "1.0.0"},
			"DRIFT: the database schema is at 1.0.0's head (aaa) but the running image is 1.1.0 (expects bbb): migrations did not run",
		},
		{"version without a known head", "9.9.9", "aaa", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &Report{App: "demo", Version: tc.version, Schema: SchemaReport{Tool: "alembic", Head: tc.head}}
			warnings := judge(p, rep)
			switch {
			case tc.want == nil && rep.Drift != nil:
				t.Fatalf("Drift = %+v, want none", rep.Drift)
			case tc.want != nil && (rep.Drift == nil || *rep.Drift != *tc.want):
				t.Fatalf("Drift = %+v, want %+v", rep.Drift, tc.want)
			}
			var drift []string
			for _, w := range warnings {
				if strings.HasPrefix(w, "DRIFT") {
					drift = append(drift, w)
				}
			}
			if tc.prose == "" {
				if len(drift) != 0 {
					t.Errorf("warnings = %q, want no drift", drift)
				}
				return
			}
			if len(drift) != 1 || !strings.HasPrefix(drift[0], tc.prose) {
				t.Errorf("warnings = %q, want one starting %q", drift, tc.prose)
			}
		})
	}
}

func TestDriftJSON(t *testing.T) {
	b, err := json.Marshal(Report{Drift: &Drift{Kind: DriftDBAhead, Head: "ccc", Expected: "bbb", Version: "1.2.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `"drift":{"kind":"db_ahead","head":"ccc","expected":"bbb","version":"1.2.0"}`; !strings.Contains(string(b), want) {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	if b, _ := json.Marshal(Report{}); strings.Contains(string(b), "drift") {
		t.Errorf("no drift, yet JSON = %s", b)
	}
}
