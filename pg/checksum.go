package pg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// TableSum fingerprints the rows of one table.
type TableSum struct {
	Rows int64
	MD5  string // hex; equal for equal multisets of rows, whatever their physical order
}

// rowSums hashes each row's text form with md5 and adds the two 64-bit halves
// of the hashes up as exact numerics. The sum does not depend on row order, so
// it needs no sort and no string_agg, whose 1 GB limit big tables would hit.
const rowSums = `SELECT count(*),
		coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint), 0)::text,
		coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint), 0)::text
	FROM (SELECT md5(t::text) AS h FROM %s AS t) AS s`

// TableChecksums fingerprints every user table, keyed by the names Tables
// returns, all from one snapshot. Comparing the result before a backup and
// after its restore proves the data came back identical.
func (c *Conn) TableChecksums(ctx context.Context) (map[string]TableSum, error) {
	tx, err := c.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("checksum tables of database %s: begin snapshot: %w", c.database, err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // read-only: nothing to keep

	tables, err := (&Conn{conn: tx.Conn(), database: c.database}).Tables(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]TableSum, len(tables))
	for _, table := range tables {
		var rows int64
		var hi, lo string
		// table comes from quote_ident, so it is safe to splice in.
		if err := tx.QueryRow(ctx, fmt.Sprintf(rowSums, table)).Scan(&rows, &hi, &lo); err != nil {
			return nil, fmt.Errorf("checksum table %s in database %s: %w", table, c.database, err)
		}
		out[table] = foldSum(rows, hi, lo)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("checksum tables of database %s: end snapshot: %w", c.database, err)
	}
	return out, nil
}
