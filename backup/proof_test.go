package backup

import (
	"strings"
	"testing"
)

func TestCompareTables(t *testing.T) {
	want := map[string]TableSum{"public.a": {Rows: 3, MD5: "aaa"}, "public.b": {Rows: 2, MD5: "bbb"}, "public.c": {Rows: 1, MD5: "ccc"}}
	tests := []struct {
		name string
		got  map[string]TableSum
		want []string
	}{
		{"equal", map[string]TableSum{"public.a": {3, "aaa"}, "public.b": {2, "bbb"}, "public.c": {1, "ccc"}}, nil},
		{"missing table", map[string]TableSum{"public.a": {3, "aaa"}, "public.b": {2, "bbb"}}, []string{"table public.c (1 rows at dump time) is missing"}},
		{"rows lost", map[string]TableSum{"public.a": {0, "zzz"}, "public.b": {2, "bbb"}, "public.c": {1, "ccc"}}, []string{"table public.a has 0 rows restored, 3 at dump time"}},
		{"contents differ", map[string]TableSum{"public.a": {3, "aab"}, "public.b": {2, "bbb"}, "public.c": {1, "ccc"}}, []string{"table public.a has its 3 rows but other contents"}},
		{"extra table", map[string]TableSum{"public.a": {3, "aaa"}, "public.b": {2, "bbb"}, "public.c": {1, "ccc"}, "public.d": {0, "x"}}, []string{"table public.d was restored but not recorded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := compareTables("app", want, tt.got)
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %d problems", got, len(tt.want))
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) || !strings.HasPrefix(got[i], "database app: ") {
					t.Errorf("problem %d: %q does not say %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestRestoreProofSummary(t *testing.T) {
	p := &RestoreProof{Passed: true, Image: "sha256:0123456789abcdef0123", Seconds: 2.5, Tables: 4}
	if s := p.Summary(); !strings.Contains(s, "(0123456789ab) in 2.5s; 4 tables") {
		t.Errorf("summary: %s", s)
	}
	p = &RestoreProof{Passed: true, Image: "postgres:15", Unchecked: []string{"app"}}
	if s := p.Summary(); strings.Contains(s, "0 tables") || !strings.Contains(s, "database app restored but its rows not compared") || !strings.Contains(s, "postgres:15") {
		t.Errorf("summary of an old set: %s", s)
	}
	p = &RestoreProof{Problem: "x"}
	if s := p.Summary(); s != "restore proof failed: x" {
		t.Errorf("summary of a failure: %s", s)
	}
}

func TestImagePGDATA(t *testing.T) {
	if got := imagePGDATA([]string{"PATH=/bin", "PGDATA=/var/lib/postgresql/18/docker"}); got != "/var/lib/postgresql/18/docker" {
		t.Error(got)
	}
	if got := imagePGDATA(nil); got != "/var/lib/postgresql/data" {
		t.Error(got)
	}
}

func TestOutOfSpace(t *testing.T) {
	for msg, want := range map[string]bool{
		`pg_restore: error: could not execute query: ERROR:  could not extend file "base/16384/16390": No space left on device`: true,
		"initdb: error: could not write to file: No space left on device":                                                       true,
		"pg_restore: error: relation \"x\" does not exist":                                                                      false,
	} {
		if got := outOfSpace(msg); got != want {
			t.Errorf("%q: got %v", msg, got)
		}
	}
}
