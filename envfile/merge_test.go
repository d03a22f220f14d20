package envfile

import (
	"slices"
	"strings"
	"testing"
)

func mustGet(t *testing.T, data []byte, key string) string {
	t.Helper()
	f, err := Parse(data)
	if err != nil {
		t.Fatalf("merged file does not parse: %v\n%s", err, data)
	}
	v, ok := f.Get(key)
	if !ok {
		t.Fatalf("%s missing from merged file:\n%s", key, data)
	}
	return v
}

func TestMergeRules(t *testing.T) {
	base := []byte("# header\nA=1\nB=2\nC=3\nOLD=x\nD=4\n")
	theirs := []byte("# header\nA=1\nB=20\nC=30\n\n# the new one\nNEW=n\nD=4\n")
	ours := []byte("# header\nA=11\nB=2\nC=33\nOLD=mine # note\nCUSTOM=c\n")
	r, err := Merge(base, theirs, ours, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "# header\nA=11\nB=20\nC=33\n\n# the new one\nNEW=n\n" +
		"# upshift: OLD is not in the new template any more; kept here, commented out.\n# OLD=mine # note\nCUSTOM=c\n"
	if string(r.Merged) != want {
		t.Errorf("merged:\n%s\nwant:\n%s", r.Merged, want)
	}
	if len(r.Conflicts) != 1 || r.Conflicts[0].Key != "C" || r.Conflicts[0].Ours != "33" || r.Conflicts[0].Theirs != "30" {
		t.Fatalf("conflicts = %+v", r.Conflicts)
	}
	if !slices.Equal(r.Summary.Removed, []string{"D"}) || !slices.Equal(r.Summary.Deprecated, []string{"OLD"}) {
		t.Errorf("summary = %+v", r.Summary)
	}
	if err := r.Resolve("C", true); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, r.Merged, "C"); got != "30" {
		t.Errorf("after Resolve C = %q", got)
	}
	if len(r.Unresolved()) != 0 {
		t.Errorf("unresolved: %+v", r.Unresolved())
	}
	if err := r.Resolve("A", true); err == nil {
		t.Error("Resolve on a non-conflict succeeded")
	}
}

func TestMergeTwoWay(t *testing.T) {
	theirs := []byte("A=new-default\nB=2\n")
	ours := []byte("A=admin\nONLY=mine\n")
	r, err := Merge(nil, theirs, ours, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, r.Merged, "A"); got != "admin" {
		t.Errorf("two-way overwrote the admin value: A=%q", got)
	}
	if mustGet(t, r.Merged, "B") != "2" || mustGet(t, r.Merged, "ONLY") != "mine" || !r.TwoWay {
		t.Errorf("merged:\n%s", r.Merged)
	}
}

func TestMergeFormats(t *testing.T) {
	tests := []struct {
		name, base, theirs, ours, key, want string
	}{
		{"quoted ours, new default", "A=1\n", "A=\"two words\"\n", "export A='1' # c\n", "A", "two words"},
		{"inherited theirs", "A=1\n", "A\n", "A=1\n", "A", ""},
		{"crlf", "A=1\r\n", "A=1\r\nB=2\r\n", "A=5\r\n", "B", "2"},
		{"no final newline", "A=1", "A=1\nB=2\n", "A=5", "B", "2"},
		{"multi-line", "K=\"a\nb\"\n", "K=\"a\nc\"\n", "K=\"a\nb\"\n", "K", "a\nc"},
		{"interpolation kept", "U=x\n", "U=${HOST:-db}:5432\n", "U=x\n", "U", "db:5432"},
		{"new key first", "B=1\n", "# top\nA=0\n\nB=1\n", "# mine\nB=1\n", "A", "0"},
		{"empty ours", "", "A=1\n", "", "A", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Merge([]byte(tc.base), []byte(tc.theirs), []byte(tc.ours), nil)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(r.Merged)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := f.Get(tc.key)
			if tc.want != "" && got != tc.want {
				t.Errorf("%s = %q, want %q; merged:\n%s", tc.key, got, tc.want, r.Merged)
			}
			t.Logf("merged:\n%s", r.Merged)
		})
	}
}

func TestMergeRenameEdgeCases(t *testing.T) {
	base := []byte("OLD=d\n")
	theirs := []byte("NEW=d2\n")
	t.Run("changed default moves too", func(t *testing.T) {
		r, err := Merge(base, theirs, []byte("OLD=d\n"), []Rename{{"OLD", "NEW"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, r.Merged, "NEW"); got != "d2" {
			t.Errorf("NEW=%q\n%s", got, r.Merged)
		}
	})
	t.Run("duplicate old key", func(t *testing.T) {
		r, err := Merge(base, theirs, []byte("OLD=a\nOLD=b\n"), []Rename{{"OLD", "NEW"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, r.Merged, "NEW"); got != "b" || len(r.Conflicts) != 1 {
			t.Errorf("NEW=%q %+v\n%s", got, r.Conflicts, r.Merged)
		}
	})
	t.Run("bad rename", func(t *testing.T) {
		if _, err := Merge(base, theirs, base, []Rename{{"OLD", "N W"}}); err == nil {
			t.Error("accepted a rename to a name with a space")
		}
	})
}

func TestMergeBadInput(t *testing.T) {
	_, err := Merge(nil, []byte("A=1\n"), []byte("A='open\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "current .env: line 1") {
		t.Errorf("err = %v", err)
	}
}
