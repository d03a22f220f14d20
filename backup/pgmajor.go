package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/pg"
)

// What a PostgreSQL major upgrade needs of a server, besides the dumps and
// restores of a set: the list of its databases, its roles (globals), a
// readiness wait and the comparison of its tables with what a set
// recorded. The client tools run inside the container they talk to.

// ErrCompare means a server's tables differ from what a set recorded.
var ErrCompare = errors.New("the tables differ from the backup")

// ServerDatabase is a database of a server.
type ServerDatabase struct {
	Name  string
	Owner string
	// Empty: no schema, table, sequence, view or extension of its own (a
	// dump of it would list nothing).
	Empty bool
}

// emptyDBQuery counts a database's own objects.
const emptyDBQuery = `SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%')
 + (SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp%')
 + (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql')`

// ListDatabases lists the databases of the server that can be connected to,
// except the templates, with their owner and whether they are empty.
func ListDatabases(ctx context.Context, eng *dockerx.Engine, db DBSource) ([]ServerDatabase, error) {
	r := pgRunner{eng: eng, db: db}
	red := newRedactor(db.Password)
	out, err := r.psql(ctx, db.Database, "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname")
	if err != nil {
		return nil, red.err(fmt.Errorf("list the databases: %w", err))
	}
	var dbs []ServerDatabase
	for _, l := range strings.Split(out, "\n") {
		name, owner, ok := strings.Cut(strings.TrimSpace(l), "|")
		if !ok || name == "" {
			continue
		}
		n, err := r.psql(ctx, name, emptyDBQuery)
		if err != nil {
			return nil, red.err(fmt.Errorf("look into database %s: %w", name, err))
		}
		dbs = append(dbs, ServerDatabase{Name: name, Owner: owner, Empty: strings.TrimSpace(n) == "0"})
	}
	return dbs, nil
}

// CreateDatabase creates an empty database owned by owner (a database a
// dump cannot carry because it holds nothing).
func CreateDatabase(ctx context.Context, eng *dockerx.Engine, db DBSource, name, owner string) error {
	r := pgRunner{eng: eng, db: db}
	stmt := "CREATE DATABASE " + quoteIdent(name)
	if owner != "" {
		stmt += " OWNER " + quoteIdent(owner)
	}
	if _, err := r.psql(ctx, maintenanceDB(name), stmt); err != nil {
		return newRedactor(db.Password).err(fmt.Errorf("create database %s: %w", name, err))
	}
	return nil
}

// CopyGlobals copies the roles and tablespaces of the server from into the
// server to: pg_dumpall --globals-only in from's container, fed to psql in
// to's. A role that exists already (the new server's bootstrap superuser)
// is altered, not an error; any other error fails. Role passwords are
// never written anywhere but the pipe between the two containers.
func CopyGlobals(ctx context.Context, eng *dockerx.Engine, from, to DBSource, log func(string)) error {
	red := newRedactor(from.Password, to.Password)
	src := pgRunner{eng: eng, db: from}
	var globals bytes.Buffer
	code, stderr, err := src.run(ctx, src.args("pg_dumpall", "--globals-only", "--database", from.Database), nil, &globals, nil)
	if err == nil && code != 0 {
		err = fmt.Errorf("pg_dumpall --globals-only exited with %d: %s", code, lastLine(stderr))
	}
	if err != nil {
		return red.err(fmt.Errorf("read the roles of the old server: %w (pg_dumpall needs a superuser: the database service's POSTGRES_USER is one in the official images)", err))
	}
	dst := pgRunner{eng: eng, db: to}
	var problems []string
	line := func(l string) {
		l = strings.TrimSpace(l)
		if l == "" {
			return
		}
		if strings.Contains(l, "ERROR:") && !strings.Contains(l, "already exists") {
			problems = append(problems, red.text(l))
		}
	}
	cmd := dst.args("psql", "--no-psqlrc", "--quiet", "--dbname", to.Database)
	code, _, err = dst.run(ctx, cmd, bytes.NewReader(globals.Bytes()), &bytes.Buffer{}, line)
	if err == nil && code != 0 {
		err = fmt.Errorf("psql exited with %d", code)
	}
	if err != nil {
		return red.err(fmt.Errorf("create the roles in the new server: %w", err))
	}
	if len(problems) > 0 {
		return fmt.Errorf("create the roles in the new server: %s", strings.Join(problems, "; "))
	}
	if log != nil {
		log(fmt.Sprintf("roles and tablespaces copied (%d statements)", bytes.Count(globals.Bytes(), []byte(";\n"))))
	}
	return nil
}

// WaitServer waits until the server accepts a TCP connection inside its
// container (an image's init phase listens on the socket only), up to
// timeout; it fails early, with the container's last lines, when the
// container exits.
func WaitServer(ctx context.Context, eng *dockerx.Engine, db DBSource, timeout time.Duration) error {
	if db.Host == "" {
		db.Host = "127.0.0.1"
	}
	r := pgRunner{eng: eng, db: db}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		_, err := r.psql(ctx, db.Database, "SELECT 1")
		if err == nil {
			return nil
		}
		last = err
		if c, err := eng.Inspect(ctx, db.Container); err == nil && c.State != "running" {
			return fmt.Errorf("the new server exited (%d) before it accepted connections: %s", c.ExitCode, scratchLog(ctx, eng, db.Container))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return newRedactor(db.Password).err(fmt.Errorf("the new server did not accept connections within %s: %v; its log: %s", timeout, last, scratchLog(ctx, eng, db.Container)))
}

// CompareServer checksums every table of every database the set recorded
// sums for, on the server db, and compares them with the sums. It returns
// the number of tables compared; an error wrapping ErrCompare lists the
// differences.
func (s *Set) CompareServer(ctx context.Context, eng *dockerx.Engine, db DBSource) (int, error) {
	return s.compareServer(ctx, eng, db, false)
}

// CompareServerCounts is CompareServer with row counts only: for the data
// directory CompareServer has just proven, once another container runs it.
func (s *Set) CompareServerCounts(ctx context.Context, eng *dockerx.Engine, db DBSource) (int, error) {
	return s.compareServer(ctx, eng, db, true)
}

func (s *Set) compareServer(ctx context.Context, eng *dockerx.Engine, db DBSource, counts bool) (int, error) {
	r := pgRunner{eng: eng, db: db}
	var problems []string
	n := 0
	for _, d := range s.Manifest.Databases {
		if d.Tables == nil {
			return n, fmt.Errorf("%w: backup %s recorded no table checksums for database %s, so its copy cannot be proven (%s)", ErrCompare, s.ID, d.Name, orNone(d.TablesNote))
		}
		sess := r.openSession(ctx, d.Name)
		algo, want := sumAlgo(d.Tables), d.Tables
		if counts {
			algo, want = pg.SumCount, make(map[string]TableSum, len(d.Tables))
			for t, w := range d.Tables {
				want[t] = TableSum{Rows: w.Rows}
			}
		}
		got, err := sess.tableSums(algo)
		if cerr := sess.close(); err == nil {
			err = cerr
		}
		if err != nil {
			return n, newRedactor(db.Password).err(fmt.Errorf("checksum database %s: %w", d.Name, err))
		}
		n += len(d.Tables)
		problems = append(problems, compareTables(d.Name, want, got)...)
	}
	if len(problems) > 0 {
		return n, fmt.Errorf("%w %s: %s", ErrCompare, s.ID, strings.Join(problems, "; "))
	}
	return n, nil
}

func orNone(s string) string {
	if s == "" {
		return "no reason recorded"
	}
	return s
}

// ServerVersionNum is the server's server_version_num (170002 for 17.2).
func ServerVersionNum(ctx context.Context, eng *dockerx.Engine, db DBSource) (int, error) {
	r := pgRunner{eng: eng, db: db}
	out, err := r.psql(ctx, db.Database, "SHOW server_version_num")
	if err != nil {
		return 0, newRedactor(db.Password).err(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("server_version_num %q: %w", out, err)
	}
	return n, nil
}
