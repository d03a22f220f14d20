package sqlitedb_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/seed-e7a9fb3b/upshift/sqlitedb"
)

// TestReadWAL reads the user_version of a database another connection holds
// open in WAL mode, with the latest version still only in the -wal file.
func TestReadWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "My Bot.db")
	w, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(wal)")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	w.SetMaxOpenConns(1)
	for _, q := range []string{
		`PRAGMA wal_autocheckpoint=0`,
		`CREATE TABLE messages (id INTEGER PRIMARY KEY, text TEXT)`,
		`INSERT INTO messages (text) VALUES ('hi')`,
		`PRAGMA user_version = 38`,
	} {
		if _, err := w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if st, err := os.Stat(path + "-wal"); err != nil || st.Size() == 0 {
		t.Fatalf("expected a non-empty -wal: %v", err)
	}
	in, err := sqlitedb.Read(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if in.UserVersion != 38 || in.JournalMode != "wal" || in.Tables != 1 || in.SizeBytes == 0 {
		t.Errorf("read %+v", in)
	}
	if err := sqlitedb.Check(ctx, path); err != nil {
		t.Error(err)
	}
	// Reading never writes: the schema version is unchanged for the app.
	var v int
	if err := w.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil || v != 38 {
		t.Errorf("user_version after read: %d %v", v, err)
	}
}

func TestMissingAndCorrupt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := sqlitedb.Read(ctx, filepath.Join(dir, "none.db")); !errors.Is(err, sqlitedb.ErrNoFile) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !errors.Is(err, os.ErrNotExist) {
		t.Error("reading a missing database created it")
	}
	bad := filepath.Join(dir, "bad.db")
	if err := os.WriteFile(bad, []byte("this is not a database, just text long enough to have a header"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlitedb.Read(ctx, bad); err == nil {
		t.Error("a text file read as a database")
	}
}
