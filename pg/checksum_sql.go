package pg

import (
	"crypto/md5" //nolint:gosec // a fingerprint of rows, not a security boundary
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// The checksum SQL for callers that cannot hold a pgx connection: a database
// inside a container on a network with no route from the host is reached by
// psql run in that container (backup's scratch restore), and a dump's snapshot
// is held by a psql session. Both must fingerprint exactly as TableChecksums
// does, so the text and the folding live here, once.

// textSettings fix how values print as text (t::text of a row), so that
// checksums do not depend on server, database or role defaults: a restore
// into another server must compare equal to its source.
var textSettings = [][2]string{
	{"TimeZone", "UTC"},
	{"DateStyle", "ISO, MDY"},
	{"IntervalStyle", "postgres"},
	{"extra_float_digits", "3"},
	{"bytea_output", "hex"},
	{"lc_monetary", "C"}, // money prints in the server's locale otherwise
}

// ChecksumSettingsSQL sets, for a psql session, the settings Connect gives
// every pgx session; run it before TableSumQuery.
func ChecksumSettingsSQL() string {
	var b strings.Builder
	for i, kv := range textSettings {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "SET %s = %s", kv[0], quoteLiteral(kv[1]))
	}
	return b.String()
}

// TablesQuery lists the user tables, one quoted schema.table per row, in the
// order and form TableChecksums keys them.
func TablesQuery() string { return userTables }

// TableSumQuery returns a query whose one row is `table|rows|a|b` for
// table, a name as TablesQuery returns it (quoted, so safe to splice in),
// fingerprinted with algo (SumMD5 or SumHash64, not SumAuto).
func TableSumQuery(table string, algo SumAlgo) string {
	q := strings.Replace(fmt.Sprintf(rowSums(algo), table), "SELECT count(*),", "SELECT "+quoteLiteral(table)+", count(*),", 1)
	return strings.Join(strings.Fields(q), " ")
}

// ParseTableSumRow folds one unaligned row of TableSumQuery (fields split by
// '|') into the table name and its TableSum.
func ParseTableSumRow(line string) (string, TableSum, error) {
	// The three numbers are the last fields: a quoted table name may hold '|'.
	f := strings.Split(line, "|")
	if len(f) < 4 {
		return "", TableSum{}, fmt.Errorf("checksum row %q: want 4 fields, got %d", line, len(f))
	}
	n := len(f)
	rows, err := strconv.ParseInt(f[n-3], 10, 64)
	if err != nil {
		return "", TableSum{}, fmt.Errorf("checksum row %q: %w", line, err)
	}
	return strings.Join(f[:n-3], "|"), foldSum(rows, f[n-2], f[n-1]), nil
}

func foldSum(rows int64, hi, lo string) TableSum {
	if lo == string(SumCount) {
		return TableSum{Rows: rows}
	}
	if lo == string(SumHash64) {
		sum := md5.Sum(fmt.Appendf(nil, "%d:%s", rows, hi)) //nolint:gosec // see import
		return TableSum{Rows: rows, MD5: hash64Prefix + hex.EncodeToString(sum[:])}
	}
	sum := md5.Sum(fmt.Appendf(nil, "%d:%s:%s", rows, hi, lo)) //nolint:gosec // see import
	return TableSum{Rows: rows, MD5: hex.EncodeToString(sum[:])}
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
