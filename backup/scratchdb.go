package backup

import (
	"context"
	"fmt"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// ScratchDB is a scratch PostgreSQL that holds a restored set, left running
// after its restore proof for a rehearsal of the next migration on it. It
// has its own volume and an internal network; Remove takes it (and any app
// container started next to it) away.
type ScratchDB struct {
	*dockerx.Scratch
	Image     string   // the image ID it runs
	Databases []string // the databases restored into it
	r         pgRunner
}

// Login makes user log in with password, as the app does on the real
// server. The dumps were restored --no-owner as the scratch superuser, so a
// new role is made a superuser to own and change what the migration
// touches; an existing one (the app logs in as the superuser, or the copy
// is physical: it has the live server's roles) only gets the password.
func (d *ScratchDB) Login(ctx context.Context, user, password string) error {
	if user == "" {
		return nil
	}
	stmt := fmt.Sprintf(`DO $upshift$ BEGIN
IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %[1]s) THEN
  EXECUTE format('ALTER ROLE %%I LOGIN PASSWORD %%L', %[1]s, %[2]s);
ELSE
  EXECUTE format('CREATE ROLE %%I LOGIN SUPERUSER PASSWORD %%L', %[1]s, %[2]s);
END IF;
END $upshift$`, quoteLit(user), quoteLit(password))
	// On stdin, not the command line: the password is in it.
	args := d.r.args("psql", "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--dbname", d.r.db.Database)
	code, stderr, err := d.r.run(ctx, args, strings.NewReader(stmt), nil, nil)
	if err == nil && code != 0 {
		err = fmt.Errorf("psql exited with %d: %s", code, lastLine(stderr))
	}
	if err != nil {
		msg := err.Error()
		if password != "" {
			msg = strings.ReplaceAll(msg, password, "****")
		}
		return fmt.Errorf("give the app's role %s a login on the scratch server: %s", user, msg)
	}
	return nil
}

// Query runs sql in database on the scratch server and returns its rows, one
// a line, columns separated by |.
func (d *ScratchDB) Query(ctx context.Context, database, sql string) (string, error) {
	out, err := d.r.psql(ctx, database, sql)
	return strings.TrimSpace(out), err
}
