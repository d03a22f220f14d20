// Package sqlitedb reads what upshift needs from an app's SQLite database
// (MaiBot): the schema version kept in PRAGMA user_version, the journal
// mode, and an integrity check, through a pure-Go SQLite (no cgo), so the
// static upshift binary can read a database the app has open in WAL mode.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Info is what upshift reads from a database file.
type Info struct {
	UserVersion int64
	JournalMode string
	Tables      int
	SizeBytes   int64 // the file plus its -wal
}

// ErrNoFile means the database file does not exist.
var ErrNoFile = errors.New("no such database file")

// Open opens path for reading. The database is not created when missing.
func Open(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNoFile, path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Read-write mode (not mode=ro) so that a WAL database whose -shm is
	// missing can still be read; query_only keeps this connection from
	// writing, and busy_timeout waits out the app's own transactions.
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// Read returns the schema version and facts of the database at path.
func Read(ctx context.Context, path string) (Info, error) {
	var in Info
	db, err := Open(path)
	if err != nil {
		return in, err
	}
	defer func() { _ = db.Close() }()
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&in.UserVersion); err != nil {
		return in, fmt.Errorf("read PRAGMA user_version of %s: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&in.JournalMode); err != nil {
		return in, fmt.Errorf("read the journal mode of %s: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table'`).Scan(&in.Tables); err != nil {
		return in, fmt.Errorf("list the tables of %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			in.SizeBytes += st.Size()
		}
	}
	return in, nil
}

// Check runs PRAGMA quick_check and returns its complaints (nil when the
// database is sound).
func Check(ctx context.Context, path string) error {
	db, err := Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	rows, err := db.QueryContext(ctx, `PRAGMA quick_check`)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer func() { _ = rows.Close() }()
	var bad []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("check %s: %w", path, err)
		}
		if s != "ok" {
			bad = append(bad, s)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s fails its integrity check: %v", path, bad)
	}
	return nil
}
