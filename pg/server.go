package pg

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Version is the PostgreSQL server version.
type Version struct {
	Num   int    // server_version_num, e.g. 150020
	Text  string // e.g. "15.20"
	Major int    // e.g. 15 (9 for 9.6)
}

// ServerVersion reads the server's version.
func (c *Conn) ServerVersion(ctx context.Context) (Version, error) {
	var v Version
	var num string
	err := c.conn.QueryRow(ctx, "SELECT current_setting('server_version_num'), current_setting('server_version')").Scan(&num, &v.Text)
	if err != nil {
		return Version{}, fmt.Errorf("read server version: %w", err)
	}
	if _, err := fmt.Sscan(num, &v.Num); err != nil {
		return Version{}, fmt.Errorf("server_version_num %q is not a number: %w", num, err)
	}
	// Distribution builds append "(Debian 15.20-1.pgdg120+1)".
	if f := strings.Fields(v.Text); len(f) > 0 {
		v.Text = f[0]
	}
	v.Major = v.Num / 10000 // 150020 -> 15, 90624 -> 9
	return v, nil
}

// DatabaseSize is the on-disk size of the current database in bytes.
func (c *Conn) DatabaseSize(ctx context.Context) (int64, error) {
	var n int64
	if err := c.conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n); err != nil {
		return 0, fmt.Errorf("read size of database %s: %w", c.database, err)
	}
	return n, nil
}

// Connections counts the client sessions on the current database other than
// this one: the app's own connections, psql sessions, other tools.
func (c *Conn) Connections(ctx context.Context) (int, error) {
	var n int
	err := c.conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count connections to database %s: %w", c.database, err)
	}
	return n, nil
}

// CanDDL says whether the role may create tables in the public schema, which
// migrations need, and explains the answer in one line for a preflight.
func (c *Conn) CanDDL(ctx context.Context) (bool, string, error) {
	var (
		role                  string
		super, owner, create  bool
		publicExists, dbOwner bool
	)
	err := c.conn.QueryRow(ctx, `SELECT current_user,
			r.rolsuper,
			pg_get_userbyid(d.datdba) = current_user,
			pg_has_role(current_user, d.datdba, 'USAGE'),
			to_regnamespace('public') IS NOT NULL,
			to_regnamespace('public') IS NOT NULL AND has_schema_privilege('public', 'CREATE')
		FROM pg_database d, pg_roles r
		WHERE d.datname = current_database() AND r.rolname = current_user`).
		Scan(&role, &super, &owner, &dbOwner, &publicExists, &create)
	if err != nil {
		return false, "", fmt.Errorf("read privileges of the current role on database %s: %w", c.database, err)
	}
	switch {
	case super:
		return true, fmt.Sprintf("role %s is a superuser", role), nil
	case create:
		if owner {
			return true, fmt.Sprintf("role %s owns database %s and may create in schema public", role, c.database), nil
		}
		return true, fmt.Sprintf("role %s may create in schema public of database %s", role, c.database), nil
	case !publicExists:
		return false, fmt.Sprintf("database %s has no schema public, so role %s cannot create tables there", c.database, role), nil
	case owner || dbOwner:
		return false, fmt.Sprintf("role %s owns database %s but may not create in schema public. Fix: GRANT CREATE ON SCHEMA public TO %s",
			role, c.database, role), nil
	default:
		return false, fmt.Sprintf("role %s neither owns database %s nor may create in schema public, so migrations would fail. "+
			"Fix: ALTER DATABASE %s OWNER TO %s, or GRANT CREATE ON SCHEMA public TO %s", role, c.database, c.database, role, role), nil
	}
}

// userTables lists ordinary and partitioned tables outside the system
// schemas, skipping partitions (their rows are read through the parent).
const userTables = `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
	  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
	ORDER BY n.nspname, c.relname`

// Tables lists the user tables as schema.table, quoted where PostgreSQL needs
// quotes, so each name can be used in SQL as is.
func (c *Conn) Tables(ctx context.Context) ([]string, error) {
	rows, err := c.conn.Query(ctx, userTables)
	if err != nil {
		return nil, fmt.Errorf("list tables of database %s: %w", c.database, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("list tables of database %s: %w", c.database, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables of database %s: %w", c.database, err)
	}
	return out, nil
}

// TerminateOthers ends every other session on database (the app's pooled
// connections, idle psql sessions) and returns how many it ended, so a restore
// or a migration is not blocked by their locks.
func (c *Conn) TerminateOthers(ctx context.Context, database string) (int, error) {
	var pids []int32
	// CASE, not AND: PostgreSQL may evaluate AND operands in any order, and
	// must never get to terminate our own session.
	err := c.conn.QueryRow(ctx, `SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity
		WHERE CASE WHEN datname = $1 AND pid <> pg_backend_pid() THEN pg_terminate_backend(pid) ELSE false END`,
		database).Scan(&pids)
	if err != nil {
		return 0, fmt.Errorf("terminate other sessions on database %s (needs a superuser or the sessions' own role): %w", database, err)
	}
	// pg_terminate_backend only signals; wait until the sessions are gone, so
	// the caller's next step does not trip over them.
	deadline := time.Now().Add(terminateWait)
	for len(pids) > 0 && time.Now().Before(deadline) {
		var left int
		err := c.conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", pids).Scan(&left)
		if err != nil {
			return len(pids), fmt.Errorf("wait for terminated sessions on database %s to end: %w", database, err)
		}
		if left == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return len(pids), fmt.Errorf("wait for terminated sessions on database %s to end: %w", database, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return len(pids), nil
}

// terminateWait bounds how long TerminateOthers waits for sessions to exit.
const terminateWait = 5 * time.Second

// NextXID is the transaction ID the next writing transaction will get
// (read-only transactions get none): the difference of two readings counts
// the write transactions started in between.
func (c *Conn) NextXID(ctx context.Context) (int64, error) {
	var x int64
	if err := c.conn.QueryRow(ctx, `SELECT txid_snapshot_xmax(txid_current_snapshot())`).Scan(&x); err != nil {
		return 0, fmt.Errorf("read the next transaction ID: %w", err)
	}
	return x, nil
}
