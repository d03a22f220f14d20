// Package pg owns all SQL upshift runs against the app's database: connecting,
// reading the server version, size and sessions, per-table checksums and the
// schema head each migration tool records. It has no business rules: it never
// decides whether an upgrade may go ahead, it only reports what it reads.
//
// It is the only package that imports pgx. Callers declare their own small
// interfaces with the methods of *Conn they use.
package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/seed-e7a9fb3b/upshift/envfile"
)

// ConnectTimeout bounds one connection attempt.
const ConnectTimeout = 5 * time.Second

// Params say where the app's database is and how to log in.
type Params struct {
	Host     string
	Port     string // "5432" when empty
	User     string
	Password string
	Database string
	SSLMode  string // libpq sslmode; "prefer" when empty
}

func (p Params) port() string {
	if p.Port == "" {
		return "5432"
	}
	return p.Port
}

func (p Params) sslMode() string {
	if p.SSLMode == "" {
		return "prefer"
	}
	return p.SSLMode
}

func (p Params) addr() string { return net.JoinHostPort(p.Host, p.port()) }

// Redacted is a postgres:// URL for logs and messages, with the password
// masked.
func (p Params) Redacted() string {
	var user string
	switch {
	case p.Password != "":
		// Built by hand: url.UserPassword would escape the mask to %2A.
		user = url.User(p.User).String() + ":****@"
	case p.User != "":
		user = url.User(p.User).String() + "@"
	}
	return "postgres://" + user + p.addr() + "/" + url.PathEscape(p.Database) + "?sslmode=" + url.QueryEscape(p.sslMode())
}

// connString renders p as a libpq keyword/value string, quoting every value,
// so passwords with spaces, quotes or backslashes survive.
func (p Params) connString() string {
	quote := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	kv := [][2]string{
		{"host", p.Host},
		{"port", p.port()},
		{"user", p.User},
		{"password", p.Password},
		{"dbname", p.Database},
		{"sslmode", p.sslMode()},
		{"application_name", "upshift"},
	}
	parts := make([]string, 0, len(kv))
	for _, e := range kv {
		parts = append(parts, e[0]+"='"+quote.Replace(e[1])+"'")
	}
	return strings.Join(parts, " ")
}

// Conn is one session on the app's database.
type Conn struct {
	conn     *pgx.Conn
	database string
}

// Connect opens a session. Failures come back as *ConnectError, classified
// so the admin is told what to fix; no error text contains the password.
func Connect(ctx context.Context, p Params) (*Conn, error) {
	if p.Host == "" {
		return nil, errors.New("no PostgreSQL host given: the profile or .env must name the database host")
	}
	cfg, err := pgx.ParseConfig(p.connString())
	if err != nil {
		// pgx masks the password in parse errors; scrub anyway.
		return nil, &ConnectError{
			Kind: FailureOther, Params: p, Err: err,
			msg: fmt.Sprintf("invalid connection settings %s: %s", p.Redacted(), scrub(err.Error(), p.Password)),
		}
	}
	cfg.ConnectTimeout = ConnectTimeout
	// Fix how values print as text, so checksums do not depend on server
	// or role defaults (a restore must compare equal to its source).
	for _, kv := range textSettings {
		cfg.RuntimeParams[kv[0]] = kv[1]
	}
	start := time.Now()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, classify(p, err, time.Since(start))
	}
	// cfg.Database is what the server was asked for (the user name when empty).
	return &Conn{conn: conn, database: cfg.Database}, nil
}

// Close ends the session.
func (c *Conn) Close(ctx context.Context) error {
	if err := c.conn.Close(ctx); err != nil {
		return fmt.Errorf("close connection to database %s: %w", c.database, err)
	}
	return nil
}

// ConnectFailure says why Connect failed.
type ConnectFailure int

// The kinds of connection failure.
const (
	FailureOther       ConnectFailure = iota
	FailureUnreachable                // no server answered: wrong host/port, container down, firewall
	FailureAuth                       // the server refused the user or password
	FailureNoDatabase                 // the server has no such database
)

// Sentinels for errors.Is on a *ConnectError.
var (
	ErrUnreachable = errors.New("database server unreachable")
	ErrAuth        = errors.New("database authentication failed")
	ErrNoDatabase  = errors.New("database does not exist")
)

// ConnectError is a failed Connect. Its text says what happened and what to
// do, and never contains the password.
type ConnectError struct {
	Kind   ConnectFailure
	Params Params // as given; print with Params.Redacted
	Err    error  // the pgx error
	msg    string
}

func (e *ConnectError) Error() string { return e.msg }

func (e *ConnectError) Unwrap() error { return e.Err }

// Is matches ErrUnreachable, ErrAuth and ErrNoDatabase by Kind.
func (e *ConnectError) Is(target error) bool {
	switch e.Kind {
	case FailureUnreachable:
		return target == ErrUnreachable
	case FailureAuth:
		return target == ErrAuth
	case FailureNoDatabase:
		return target == ErrNoDatabase
	default:
		return false
	}
}

func classify(p Params, err error, waited time.Duration) *ConnectError {
	ce := &ConnectError{Kind: FailureOther, Params: p, Err: err}
	var pgErr *pgconn.PgError
	var netErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &pgErr):
		ce.msg = pgMessage(p, pgErr, ce)
	case errors.As(err, &dnsErr):
		ce.Kind = FailureUnreachable
		ce.msg = fmt.Sprintf("cannot reach PostgreSQL at %s: host name %q does not resolve. "+
			"Fix: check the database host in the profile or .env (inside compose it is the service name, from the host use the container's IP or a published port)",
			p.addr(), p.Host)
	case pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded):
		ce.Kind = FailureUnreachable
		ce.msg = fmt.Sprintf("cannot reach PostgreSQL at %s: no answer after %s. "+
			"Fix: check that the database container is running and that the host and port are right",
			p.addr(), waited.Round(time.Second))
	case errors.Is(err, context.Canceled):
		ce.msg = fmt.Sprintf("connecting to PostgreSQL at %s was cancelled", p.addr())
	case errors.As(err, &netErr), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		ce.Kind = FailureUnreachable
		cause := "connection failed"
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			cause = "connection refused (nothing listens on that port)"
		case netErr != nil:
			cause = netErr.Err.Error()
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			cause = "the server closed the connection (still starting up?)"
		}
		ce.msg = fmt.Sprintf("cannot reach PostgreSQL at %s: %s. "+
			"Fix: check that the database container is running and healthy and that the host and port are right",
			p.addr(), cause)
	default:
		ce.msg = fmt.Sprintf("cannot connect to PostgreSQL %s: %s", p.Redacted(), scrub(err.Error(), p.Password))
	}
	return ce
}

func pgMessage(p Params, pgErr *pgconn.PgError, ce *ConnectError) string {
	switch pgErr.Code {
	case "28P01": // invalid_password
		ce.Kind = FailureAuth
		return fmt.Sprintf("password authentication failed for user %s: the password in .env does not match the database's. "+
			"Fix: put the password the database was created with back into .env "+
			"(POSTGRES_PASSWORD only takes effect when the data volume is first initialised), "+
			"or change the role's password in the database with ALTER ROLE %s PASSWORD '...'",
			p.User, pgx.Identifier{p.User}.Sanitize())
	case "28000": // invalid_authorization_specification: unknown role, pg_hba reject
		ce.Kind = FailureAuth
		return fmt.Sprintf("the database server refused user %s: %s. "+
			"Fix: check the database user in .env, and that pg_hba.conf allows it from this host",
			p.User, pgErr.Message)
	case "42501": // insufficient_privilege: no CONNECT on the database
		ce.Kind = FailureAuth
		return fmt.Sprintf("user %s may not connect to database %s: %s. Fix: GRANT CONNECT ON DATABASE to the user, or use the app's own user",
			p.User, p.Database, pgErr.Message)
	case "3D000": // invalid_catalog_name
		ce.Kind = FailureNoDatabase
		return fmt.Sprintf("database %s does not exist on %s. "+
			"Fix: check the database name in .env (POSTGRES_DB), or whether the data volume is the one the app uses",
			p.Database, p.addr())
	case "57P03": // cannot_connect_now: starting up, shutting down, recovery
		ce.Kind = FailureUnreachable
		return fmt.Sprintf("PostgreSQL at %s is not accepting connections yet: %s. Fix: wait until the database container is healthy",
			p.addr(), pgErr.Message)
	default:
		return fmt.Sprintf("PostgreSQL at %s refused the connection: %s (SQLSTATE %s)",
			p.addr(), scrub(pgErr.Message, p.Password), pgErr.Code)
	}
}

// scrub masks the password in text we did not write ourselves (the one
// redactor: whole tokens only for a short password).
func scrub(s, password string) string {
	return envfile.NewRedactor(password).Redact(s)
}

// ParseDSN reads an app's own connection string (a URL or libpq key=value
// pairs) into Params. The password never appears in the error.
func ParseDSN(dsn string) (Params, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return Params{}, errors.New("not a PostgreSQL connection string (want postgres://user:password@host/db or host=… user=… dbname=…)")
	}
	return Params{
		Host: cfg.Host, Port: fmt.Sprint(cfg.Port), User: cfg.User, Password: cfg.Password, Database: cfg.Database,
	}, nil
}
