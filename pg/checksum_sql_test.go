package pg

import (
	"strings"
	"testing"
)

func TestTableSumQuery(t *testing.T) {
	q := TableSumQuery(`public."it's"`)
	if !strings.HasPrefix(q, `SELECT 'public."it''s"', count(*),`) || !strings.Contains(q, `FROM public."it's" AS t`) {
		t.Errorf("query: %s", q)
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
