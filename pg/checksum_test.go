package pg_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/pg"
)

// checksumSchema has the column types whose text form depends on session
// settings (timestamptz, float, interval, bytea) and a quoted table name.
var checksumSchema = []string{
	"CREATE TABLE items (id int PRIMARY KEY, name text, price float8, at timestamptz, took interval, blob bytea, tags text[], meta jsonb)",
	`CREATE TABLE "Audit Log" (id bigserial PRIMARY KEY, line text)`,
	"CREATE TABLE empty (id int)",
}

var checksumRows = []string{
	`INSERT INTO items VALUES (1, 'apple', 0.1, '2024-03-01 12:00:00+01', '1 day 2 hours', '\xdeadbeef', '{a,b}', '{"k": 1}')`,
	`INSERT INTO items VALUES (2, 'pear', 1e-300, '2024-03-02 00:00:00+00', '5 minutes', '', '{}', 'null')`,
	`INSERT INTO items VALUES (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	`INSERT INTO "Audit Log" (line) VALUES ('one'), ('two'), ('two')`,
}

func checksums(t *testing.T, c *pg.Conn, algo pg.SumAlgo) map[string]pg.TableSum {
	t.Helper()
	sums, err := c.TableChecksums(t.Context(), algo)
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

func TestTableChecksums(t *testing.T) {
	for _, algo := range []pg.SumAlgo{pg.SumMD5, pg.SumHash64} {
		t.Run(string(algo), func(t *testing.T) { t.Parallel(); testTableChecksums(t, algo) })
	}
}

func testTableChecksums(t *testing.T, algo pg.SumAlgo) {
	_, setupA, a := freshDB(t)
	execAll(t, setupA, checksumSchema...)
	execAll(t, setupA, checksumRows...)
	sumsA := checksums(t, a, algo)
	if auto := checksums(t, a, pg.SumAuto); algo == pg.SumHash64 && fmt.Sprint(auto) != fmt.Sprint(sumsA) {
		t.Errorf("SumAuto on PostgreSQL 15 is not hash64: %v", auto)
	}

	if got := len(sumsA); got != 3 {
		t.Fatalf("checksummed %d tables, want 3: %v", got, sumsA)
	}
	wantLen := map[pg.SumAlgo]int{pg.SumMD5: 32, pg.SumHash64: 36}[algo]
	if s := sumsA["public.items"]; s.Rows != 3 || len(s.MD5) != wantLen {
		t.Errorf("items = %+v, want 3 rows and a %d-char sum", s, wantLen)
	}
	if s := sumsA[`public."Audit Log"`]; s.Rows != 3 {
		t.Errorf(`"Audit Log" = %+v, want 3 rows`, s)
	}
	if s := sumsA["public.empty"]; s.Rows != 0 || s.MD5 == "" {
		t.Errorf("empty = %+v, want 0 rows and a fixed md5", s)
	}

	tests := []struct {
		name  string
		setup []string // run in a second database after the schema
		same  bool
	}{
		{
			name:  "same rows in another order and session time zone",
			setup: append([]string{"SET TimeZone = 'America/New_York'", "SET extra_float_digits = 0"}, reversed(checksumRows)...),
			same:  true,
		},
		{
			name:  "same rows after updates that changed nothing",
			setup: append(append([]string{}, checksumRows...), "UPDATE items SET name = name", "VACUUM FULL items"),
			same:  true,
		},
		{
			name:  "one value changed",
			setup: append(append([]string{}, checksumRows...), "UPDATE items SET price = 0.1000000001 WHERE id = 1"),
		},
		{
			name:  "one timestamp moved by a microsecond",
			setup: append(append([]string{}, checksumRows...), "UPDATE items SET at = at + interval '1 microsecond' WHERE id = 1"),
		},
		{
			name:  "a duplicate row removed and another duplicated",
			setup: append(append([]string{}, checksumRows...), "DELETE FROM \"Audit Log\" WHERE id = 3", "INSERT INTO \"Audit Log\" VALUES (3, 'one')"),
		},
		{
			name:  "null versus empty string",
			setup: append(append([]string{}, checksumRows...), "UPDATE items SET name = '' WHERE id = 3"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, setupB, b := freshDB(t)
			execAll(t, setupB, checksumSchema...)
			execAll(t, setupB, tt.setup...)
			sumsB := checksums(t, b, algo)
			equal := fmt.Sprint(sumsA) == fmt.Sprint(sumsB)
			if equal != tt.same {
				t.Errorf("checksums equal = %v, want %v\nA: %v\nB: %v", equal, tt.same, sumsA, sumsB)
			}
		})
	}
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func BenchmarkTableChecksums(b *testing.B) {
	for _, algo := range []pg.SumAlgo{pg.SumMD5, pg.SumHash64} {
		b.Run(string(algo), func(b *testing.B) { benchmarkTableChecksums(b, algo) })
	}
}

func benchmarkTableChecksums(b *testing.B, algo pg.SumAlgo) {
	_, setup, c := freshDB(b)
	execAll(b, setup,
		"CREATE TABLE posts (id bigint PRIMARY KEY, author int, body text, created timestamptz)",
		"INSERT INTO posts SELECT g, g % 97, repeat(md5(g::text), 4), now() - g * interval '1 minute' FROM generate_series(1, 100000) g",
		"ANALYZE posts",
	)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.TableChecksums(ctx, algo); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(100000, "rows/op")
}
