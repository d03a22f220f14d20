package pg_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/seed-e7a9fb3b/upshift/internal/testpg"
	"github.com/seed-e7a9fb3b/upshift/pg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// paramsOf turns a testpg DSN into Params.
func paramsOf(t testing.TB, dsn string) pg.Params {
	t.Helper()
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", dsn, err)
	}
	return pg.Params{
		Host: cfg.Host, Port: strconv.Itoa(int(cfg.Port)),
		User: cfg.User, Password: cfg.Password, Database: cfg.Database, SSLMode: "disable",
	}
}

// freshDB creates a database on the shared server and returns its params, a
// superuser setup connection to it and an upshift connection.
func freshDB(t testing.TB) (pg.Params, *pgx.Conn, *pg.Conn) {
	t.Helper()
	dsn := testpg.Shared(t).NewDatabase(t, t.Name())
	setup, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("setup connection: %v", err)
	}
	t.Cleanup(func() { _ = setup.Close(context.Background()) })
	p := paramsOf(t, dsn)
	c, err := pg.Connect(context.Background(), p)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return p, setup, c
}

func execAll(t testing.TB, conn *pgx.Conn, sqls ...string) {
	t.Helper()
	for _, s := range sqls {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// unusedPort returns a local port nothing listens on.
func unusedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	_ = l.Close()
	return port
}

// silentPort accepts connections and never says a word.
func silentPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func TestConnectErrors(t *testing.T) {
	db := testpg.Shared(t)
	good := paramsOf(t, db.DSN)
	const secret = "Sup3r-Secret-Passw0rd"

	tests := []struct {
		name    string
		params  func(p pg.Params) pg.Params
		timeout time.Duration
		kind    pg.ConnectFailure
		is      error
		want    []string
	}{
		{
			name:   "wrong password",
			params: func(p pg.Params) pg.Params { p.Password = secret; return p },
			kind:   pg.FailureAuth, is: pg.ErrAuth,
			want: []string{"password authentication failed for user upshift", "the password in .env does not match the database's", "Fix:"},
		},
		{
			name:   "unknown user",
			params: func(p pg.Params) pg.Params { p.User = "nobody"; p.Password = secret; return p },
			kind:   pg.FailureAuth, is: pg.ErrAuth,
			want: []string{"user nobody"},
		},
		{
			name:   "missing database",
			params: func(p pg.Params) pg.Params { p.Database = "no_such_db"; return p },
			kind:   pg.FailureNoDatabase, is: pg.ErrNoDatabase,
			want: []string{"database no_such_db does not exist", "Fix:"},
		},
		{
			name:   "connection refused",
			params: func(p pg.Params) pg.Params { p.Port = unusedPort(t); p.Password = secret; return p },
			kind:   pg.FailureUnreachable, is: pg.ErrUnreachable,
			want: []string{"cannot reach PostgreSQL at 127.0.0.1:", "connection refused", "Fix:"},
		},
		{
			name:   "unknown host",
			params: func(p pg.Params) pg.Params { p.Host = "no-such-host.invalid"; p.Password = secret; return p },
			kind:   pg.FailureUnreachable, is: pg.ErrUnreachable,
			want: []string{"cannot reach PostgreSQL at no-such-host.invalid:"},
		},
		{
			// A server that accepts but never answers; the caller's deadline ends the wait.
			name:    "no answer",
			params:  func(p pg.Params) pg.Params { p.Port = silentPort(t); p.Password = secret; return p },
			timeout: time.Second,
			kind:    pg.FailureUnreachable, is: pg.ErrUnreachable,
			want: []string{"cannot reach PostgreSQL at 127.0.0.1:", "no answer after 1s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			p := tt.params(good)
			c, err := pg.Connect(ctx, p)
			if err == nil {
				_ = c.Close(ctx)
				t.Fatal("Connect succeeded, want an error")
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			var ce *pg.ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *pg.ConnectError", err)
			}
			if ce.Kind != tt.kind {
				t.Errorf("Kind = %v, want %v", ce.Kind, tt.kind)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(err, %v) = false", tt.is)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, p.Password) {
				t.Errorf("error contains the password: %q", msg)
			}
		})
	}
}

func TestConnectNoHost(t *testing.T) {
	if _, err := pg.Connect(context.Background(), pg.Params{User: "u"}); err == nil || !strings.Contains(err.Error(), "no PostgreSQL host") {
		t.Fatalf("err = %v, want no host error", err)
	}
}

func TestConnectOddPassword(t *testing.T) {
	// Quotes, backslashes and spaces must survive the connection string.
	p, setup, _ := freshDB(t)
	const odd = `it's a \ "pass" word`
	execAll(t, setup, "CREATE ROLE odd LOGIN PASSWORD "+quoteLiteral(odd))
	t.Cleanup(func() { _, _ = setup.Exec(context.Background(), "DROP OWNED BY odd; DROP ROLE odd") })
	p.User, p.Password = "odd", odd
	c, err := pg.Connect(context.Background(), p)
	if err != nil {
		t.Fatalf("Connect with odd password: %v", err)
	}
	_ = c.Close(context.Background())
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func TestRedacted(t *testing.T) {
	tests := []struct {
		name string
		p    pg.Params
		want string
	}{
		{
			"full",
			pg.Params{Host: "10.0.0.5", Port: "5433", User: "dify", Password: "hunter2", Database: "dify", SSLMode: "disable"},
			"postgres://dify:****@10.0.0.5:5433/dify?sslmode=disable",
		},
		{"defaults", pg.Params{Host: "db", User: "app", Database: "app"}, "postgres://app@db:5432/app?sslmode=prefer"},
		{"ipv6", pg.Params{Host: "::1", User: "u", Password: "pw6", Database: "d"}, "postgres://u:****@[::1]:5432/d?sslmode=prefer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.p.Redacted()
			if got != tt.want {
				t.Errorf("Redacted() = %q, want %q", got, tt.want)
			}
			if tt.p.Password != "" && strings.Contains(got, tt.p.Password) {
				t.Errorf("Redacted() leaks the password: %q", got)
			}
		})
	}
}
