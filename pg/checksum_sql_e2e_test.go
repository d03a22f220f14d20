package pg_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/internal/testpg"
	"github.com/seed-e7a9fb3b/upshift/pg"
)

// TestChecksumsThroughPSQL: the sums psql computes with the exported SQL
// (as backup does in a container) equal TableChecksums over pgx, even when
// the database's defaults change how values print.
func TestChecksumsThroughPSQL(t *testing.T) {
	p, setup, c := freshDB(t)
	execAll(t, setup, checksumSchema...)
	execAll(t, setup, checksumRows...)
	execAll(t, setup,
		"ALTER DATABASE "+`"`+p.Database+`"`+" SET timezone = 'Asia/Tokyo'",
		"ALTER DATABASE "+`"`+p.Database+`"`+" SET extra_float_digits = 0",
		"ALTER DATABASE "+`"`+p.Database+`"`+" SET intervalstyle = 'sql_standard'")
	db := testpg.Shared(t)
	psql := func(sqls ...string) []string {
		args := []string{"exec", "-e", "PGPASSWORD=" + db.Password, db.Container, "psql", "-X", "-qtA", "-v", "ON_ERROR_STOP=1", "-U", db.User, "-d", p.Database}
		for _, s := range sqls {
			args = append(args, "-c", s)
		}
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("psql: %v: %s", err, out)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	tables := psql(pg.TablesQuery())
	for _, algo := range []pg.SumAlgo{pg.SumMD5, pg.SumHash64} {
		want, err := c.TableChecksums(t.Context(), algo)
		if err != nil {
			t.Fatal(err)
		}
		queries := []string{pg.ChecksumSettingsSQL()}
		for _, tb := range tables {
			queries = append(queries, pg.TableSumQuery(tb, algo))
		}
		got := map[string]pg.TableSum{}
		for _, line := range psql(queries...) {
			name, sum, err := pg.ParseTableSumRow(line)
			if err != nil {
				t.Fatal(err)
			}
			got[name] = sum
		}
		if len(got) != len(want) || len(want) != 3 {
			t.Fatalf("%s: psql %v, pgx %v", algo, got, want)
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s %s: psql %+v, pgx %+v", algo, name, got[name], w)
			}
		}
		// Without the settings the database's defaults show through: the
		// settings are what makes the two agree.
		line := psql(pg.TableSumQuery("public.items", algo))[0]
		if _, sum, _ := pg.ParseTableSumRow(line); sum == want["public.items"] {
			t.Errorf("%s: public.items sums equal even without the settings: the test proves nothing", algo)
		}
	}
}
