package pg

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/seed-e7a9fb3b/upshift/internal/schematool"
)

// ToolTable is a version the app keeps in a table of its own choosing
// (Miniflux's one-row schema_version): schema.table and schema.column say
// where.
const ToolTable = schematool.Table

// VersionTable is a table that looks like an app's own schema version
// record: its name and the column holding the version.
type VersionTable struct {
	Table  string `json:"table"`
	Column string `json:"column"`
	// Rows is how many rows it holds (one for a single-row record).
	Rows int64 `json:"rows"`
}

// versionColumns are the column names taken for a version, best first.
var versionColumns = []string{"version", "version_num", "version_id", "schema_version", "revision"}

// FindVersionTables lists the tables visible through search_path whose name
// looks like a version record (*schema*version*, *migrations*, *version*)
// and that have a version column, best candidates first. The tables of the
// known tools are left out: their readers know them better.
func (c *Conn) FindVersionTables(ctx context.Context) ([]VersionTable, error) {
	rows, err := c.conn.Query(ctx, `SELECT c.relname::text, a.attname::text
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)
			AND (c.relname ILIKE '%schema%version%' OR c.relname ILIKE '%migrations%' OR c.relname ILIKE '%version%')
		ORDER BY c.relname, a.attnum`)
	if err != nil {
		return nil, fmt.Errorf("look for version tables in database %s: %w", c.database, err)
	}
	type tc struct{ table, col string }
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tc, error) {
		var x tc
		if err := r.Scan(&x.table, &x.col); err != nil {
			return x, fmt.Errorf("scan: %w", err)
		}
		return x, nil
	})
	if err != nil {
		return nil, fmt.Errorf("look for version tables in database %s: %w", c.database, err)
	}
	own := map[string]bool{}
	for _, t := range Tools() {
		own[schematool.OwnTable(t)] = true
	}
	cols := map[string][]string{}
	var order []string
	for _, x := range all {
		if own[x.table] {
			continue
		}
		if _, ok := cols[x.table]; !ok {
			order = append(order, x.table)
		}
		cols[x.table] = append(cols[x.table], x.col)
	}
	var out []VersionTable
	for _, t := range order {
		col := pickVersionColumn(cols[t])
		if col == "" {
			continue
		}
		vt := VersionTable{Table: t, Column: col}
		if err := c.conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t}.Sanitize()).Scan(&vt.Rows); err != nil {
			return nil, fmt.Errorf("count rows of %s in database %s: %w", t, c.database, err)
		}
		out = append(out, vt)
	}
	slices.SortStableFunc(out, func(a, b VersionTable) int { return tableRank(a.Table) - tableRank(b.Table) })
	return out, nil
}

func pickVersionColumn(cols []string) string {
	for _, want := range versionColumns {
		if slices.Contains(cols, want) {
			return want
		}
	}
	return ""
}

// tableRank puts schema_version-like names before *migrations* and plain
// *version* tables (an app's own app_version of some record is the least
// likely).
func tableRank(name string) int {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "schema") && strings.Contains(n, "version"):
		return 0
	case strings.Contains(n, "migrations"):
		return 1
	}
	return 2
}

// ReadSchemaTable reads the head from column of table: the single row, or
// with several the newest (highest, in numeric order when the values are
// numbers). With table "" it reads the first table FindVersionTables
// finds. A dirty boolean column, where the table has one, is honoured.
func (c *Conn) ReadSchemaTable(ctx context.Context, table, column string) (Schema, error) {
	if table == "" {
		found, err := c.FindVersionTables(ctx)
		if err != nil {
			return Schema{}, err
		}
		if len(found) == 0 {
			return Schema{}, &NoSchemaTableError{Tool: ToolTable, Table: "*schema*version* or *migrations*", Database: c.database}
		}
		table, column = found[0].Table, found[0].Column
	}
	cols, err := c.columns(ctx, table)
	if err != nil {
		return Schema{}, err
	}
	if cols == nil {
		return Schema{}, &NoSchemaTableError{Tool: ToolTable, Table: table, Database: c.database}
	}
	if column == "" {
		column = pickVersionColumn(cols)
	}
	if column == "" || !slices.Contains(cols, column) {
		return Schema{}, fmt.Errorf("table %s in database %s has no column %q (it has %s): set schema.column to the one holding the version",
			table, c.database, column, strings.Join(cols, ", "))
	}
	s, err := c.readTable(ctx, table, column, slices.Contains(cols, "dirty"))
	if err != nil {
		return Schema{}, fmt.Errorf("read version table %s.%s in database %s: %w", table, column, c.database, err)
	}
	s.Tool, s.Table, s.Column = ToolTable, table, column
	return s, nil
}

func (c *Conn) readTable(ctx context.Context, table, column string, hasDirty bool) (Schema, error) {
	t, col := pgx.Identifier{table}.Sanitize(), pgx.Identifier{column}.Sanitize()
	dirty := "false"
	if hasDirty {
		dirty = `coalesce("dirty"::boolean, false)`
	}
	var s Schema
	var head *string
	var n int64
	err := c.conn.QueryRow(ctx, `SELECT `+col+`::text, `+dirty+`, (SELECT count(*) FROM `+t+`) FROM `+t+`
		ORDER BY CASE WHEN `+col+`::text ~ '^-?[0-9]+$' THEN `+col+`::text::numeric END DESC NULLS LAST, `+col+`::text DESC
		LIMIT 1`).Scan(&head, &s.Dirty, &n)
	if errors.Is(err, pgx.ErrNoRows) {
		s.Detail = table + " is empty: no version recorded"
		return s, nil
	}
	if err != nil {
		return Schema{}, fmt.Errorf("query: %w", err)
	}
	if head != nil {
		s.Head = *head
	}
	rows := "one row"
	if n != 1 {
		rows = strconv.FormatInt(n, 10) + " rows, the highest"
		s.Applied = int(n) // one row per migration
	}
	s.Detail = fmt.Sprintf("%s.%s = %s (%s)", table, column, s.Head, rows)
	if s.Dirty {
		s.Failed = []string{s.Head}
		s.Detail += ", marked dirty"
	}
	return s, nil
}
