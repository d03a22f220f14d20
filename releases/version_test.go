package releases

import (
	"slices"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/releases/version"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"1.2.3", "1.2.3", true},
		{"v9.1.1", "9.1.1", true},
		{"1.2", "1.2.0", true},
		{"2024.01.3", "2024.1.3", true},
		{"1.0.0-rc.1", "1.0.0-rc.1", true},
		{"1.0.0+build.5", "1.0.0+build.5", true},
		{"v6.0.0-ga.2", "6.0.0-ga.2", true},
		{"10.11.17", "10.11.17", true},
		{"release-7", "", false},
		{"latest", "", false},
		{"", "", false},
		{"v", "", false},
		{"1..2", "", false},
		{"1.2.3-", "", false},
		{"1.2.3+", "", false},
		{"99999999999999999999", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, err := Parse(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("Parse(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if tt.ok && v.String() != tt.want {
				t.Errorf("String() = %q, want %q", v.String(), tt.want)
			}
		})
	}
}

func TestVersionOrder(t *testing.T) {
	in := []string{"1.0.0", "1.0.0-rc.1", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.11", "1.0.0-beta.2", "0.9", "v1.0.1", "1.0.0-rc.1+b7", "2024.01.3", "1.10.0", "1.9.9"}
	var vs []Version
	for _, s := range in {
		v, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	slices.SortStableFunc(vs, func(a, b Version) int { return a.Compare(b) })
	var got []string
	for _, v := range vs {
		got = append(got, v.Original)
	}
	want := []string{"0.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0-rc.1+b7", "1.0.0", "v1.0.1", "1.9.9", "1.10.0", "2024.01.3"}
	if !slices.Equal(got, want) {
		t.Errorf("order\n got %v\nwant %v", got, want)
	}
	if Compare("v1.2", "1.2.0") != 0 || Compare("1.2.0+a", "1.2.0+b") != 0 {
		t.Error("v prefix, missing parts and build metadata must not change precedence")
	}
	if Compare("release-7", "1.0.0") >= 0 {
		t.Error("unparseable versions sort first")
	}
}

func TestSortNotesPutsAside(t *testing.T) {
	notes := []Note{{Version: "v1.1.0"}, {Version: "release-7"}, {Version: "1.0.0"}, {Version: "1.1.0"}, {Version: "main"}}
	sorted, aside := SortNotes(notes)
	if len(sorted) != 2 || sorted[0].Version != "1.0.0" || sorted[1].Version != "v1.1.0" {
		t.Errorf("sorted = %+v", sorted)
	}
	if len(aside) != 3 {
		t.Fatalf("aside = %+v", aside)
	}
	for _, a := range aside {
		if a.Reason == "" {
			t.Errorf("no reason for %s", a.Version)
		}
	}
}

func TestConstraint(t *testing.T) {
	tests := []struct {
		c, v string
		want bool
	}{
		{">=2.0.0", "2.0.0", true},
		{">=2.0.0", "1.9.9", false},
		{">=2.0.0 <3.0.0", "3.0.0", false},
		{">= 2.0, <3", "2.5.1", true},
		{"1.1.0", "1.1.0", true},
		{"!=1.1.0", "1.1.0", false},
		{"", "9.9.9", true},
	}
	for _, tt := range tests {
		c, err := version.ParseConstraint(tt.c)
		if err != nil {
			t.Fatalf("%q: %v", tt.c, err)
		}
		if got := c.Check(version.MustParse(tt.v)); got != tt.want {
			t.Errorf("%q.Check(%s) = %v", tt.c, tt.v, got)
		}
	}
	for _, bad := range []string{">=", ">=x", "~1.2"} {
		if _, err := version.ParseConstraint(bad); err == nil {
			t.Errorf("ParseConstraint(%q) succeeded", bad)
		}
	}
}
