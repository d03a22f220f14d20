package pg

import (
	"strings"
	"testing"
)

func TestTableSumQuery(t *testing.T) {
	for _, algo := range []SumAlgo{SumMD5, SumHash64} {
		q := TableSumQuery(`public."it's"`, algo)
		if !strings.HasPrefix(q, `SELECT 'public."it''s"', count(*),`) || !strings.Contains(q, `FROM public."it's" AS t`) {
			t.Errorf("%s query: %s", algo, q)
		}
	}
	if q := TableSumQuery("public.t", SumHash64); !strings.Contains(q, "hashtextextended(t::text, 0)") || strings.Contains(q, "md5") {
		t.Errorf("hash64 query: %s", q)
	}
}

func TestAlgoOf(t *testing.T) {
	seq := func(v ...string) func(func(string) bool) {
		return func(yield func(string) bool) {
			for _, s := range v {
				if !yield(s) {
					return
				}
			}
		}
	}
	_, h, _ := ParseTableSumRow("public.t|3|123|h64")
	_, m, _ := ParseTableSumRow("public.t|3|10|20")
	if !strings.HasPrefix(h.MD5, "h64:") || len(h.MD5) != 36 || strings.HasPrefix(m.MD5, "h64:") || len(m.MD5) != 32 {
		t.Fatalf("folded %q and %q", h.MD5, m.MD5)
	}
	for _, tt := range []struct {
		in   []string
		want SumAlgo
	}{
		{[]string{h.MD5, h.MD5}, SumHash64},
		{[]string{h.MD5, m.MD5}, SumMD5}, // a set recorded before hash64 compares with md5
		{[]string{m.MD5}, SumMD5},
		{nil, SumHash64},
	} {
		if got := AlgoOf(seq(tt.in...)); got != tt.want {
			t.Errorf("AlgoOf(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if AlgoFor(100023) != SumMD5 || AlgoFor(110000) != SumHash64 || AlgoFor(170002) != SumHash64 {
		t.Error("AlgoFor: PostgreSQL 11 is the first with hashtextextended")
	}
}

func TestParseTableSumRow(t *testing.T) {
	name, sum, err := ParseTableSumRow(`public."a|b"|3|10|20`)
	if err != nil || name != `public."a|b"` || sum != foldSum(3, "10", "20") || sum.Rows != 3 {
		t.Fatalf("%q %+v %v", name, sum, err)
	}
	for _, bad := range []string{"", "a|b|c", "t|x|1|2"} {
		if _, _, err := ParseTableSumRow(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestChecksumSettingsSQL(t *testing.T) {
	want := "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = '3'; SET bytea_output = 'hex'; SET lc_monetary = 'C'"
	if got := ChecksumSettingsSQL(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
