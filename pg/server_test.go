package pg_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/seed-e7a9fb3b/upshift/pg"
)

func TestServerVersion(t *testing.T) {
	_, _, c := freshDB(t)
	v, err := c.ServerVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v.Major != 15 || v.Num < 150000 || v.Num >= 160000 {
		t.Errorf("version = %+v, want major 15", v)
	}
	if !regexp.MustCompile(`^15\.\d+$`).MatchString(v.Text) {
		t.Errorf("Text = %q, want 15.N", v.Text)
	}
}

func TestDatabaseSize(t *testing.T) {
	_, setup, c := freshDB(t)
	before, err := c.DatabaseSize(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if before <= 0 {
		t.Fatalf("size = %d, want > 0", before)
	}
	execAll(t, setup, "CREATE TABLE big AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 20000) g")
	after, err := c.DatabaseSize(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("size after 20000 rows = %d, before = %d, want growth", after, before)
	}
}

func TestConnectionsAndTerminateOthers(t *testing.T) {
	p, setup, c := freshDB(t)
	ctx := t.Context()
	// setup is one other session already; open two more.
	dsn := setup.Config().ConnString()
	for range 2 {
		other, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = other.Close(context.Background()) })
	}
	n, err := c.Connections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("Connections = %d, want 3 (excluding our own)", n)
	}
	ended, err := c.TerminateOthers(ctx, p.Database)
	if err != nil {
		t.Fatal(err)
	}
	if ended != 3 {
		t.Errorf("TerminateOthers = %d, want 3", ended)
	}
	// Our own session survives.
	if n, err = c.Connections(ctx); err != nil {
		t.Fatalf("own session was terminated: %v", err)
	}
	if n != 0 {
		t.Errorf("Connections after terminate = %d, want 0", n)
	}
}

func TestCanDDL(t *testing.T) {
	tests := []struct {
		name  string
		setup []string // run as superuser in the fresh database; role "app" is the one checked
		user  string
		want  bool
		words []string
	}{
		{name: "superuser", want: true, words: []string{"superuser"}},
		{
			name:  "owner",
			setup: []string{"CREATE ROLE app_owner LOGIN PASSWORD 'pw'", "ALTER DATABASE %DB% OWNER TO app_owner"},
			user:  "app_owner", want: true, words: []string{"owns database"},
		},
		{
			name:  "granted create",
			setup: []string{"CREATE ROLE app_granted LOGIN PASSWORD 'pw'", "GRANT CREATE ON SCHEMA public TO app_granted"},
			user:  "app_granted", want: true, words: []string{"may create in schema public"},
		},
		{
			// PostgreSQL 15 no longer lets every role create in public.
			name:  "plain role",
			setup: []string{"CREATE ROLE app_plain LOGIN PASSWORD 'pw'"},
			user:  "app_plain", want: false, words: []string{"neither owns", "Fix:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, setup, c := freshDB(t)
			// Roles are cluster-wide: make the name unique to this database.
			role := ""
			if tt.user != "" {
				role = tt.user + "_" + p.Database
			}
			dbName := pgx.Identifier{p.Database}.Sanitize()
			for _, s := range tt.setup {
				s = strings.ReplaceAll(s, "%DB%", dbName)
				execAll(t, setup, strings.ReplaceAll(s, tt.user, role))
			}
			if role != "" {
				super := p.User
				t.Cleanup(func() {
					for _, s := range []string{
						"ALTER DATABASE " + dbName + " OWNER TO " + super,
						"DROP OWNED BY " + role,
						"DROP ROLE " + role,
					} {
						if _, err := setup.Exec(context.Background(), s); err != nil {
							t.Logf("cleanup: %s: %v", s, err)
						}
					}
				})
				p.User, p.Password = role, "pw"
				var err error
				if c, err = pg.Connect(t.Context(), p); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = c.Close(context.Background()) }()
			}
			ok, why, err := c.CanDDL(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("CanDDL: %v, %s", ok, why)
			if ok != tt.want {
				t.Errorf("CanDDL = %v (%s), want %v", ok, why, tt.want)
			}
			for _, w := range tt.words {
				if !strings.Contains(why, w) {
					t.Errorf("reason %q does not contain %q", why, w)
				}
			}
		})
	}
}

func TestTables(t *testing.T) {
	_, setup, c := freshDB(t)
	execAll(t, setup,
		"CREATE TABLE users (id int)",
		`CREATE TABLE "Mixed Case" (id int)`,
		"CREATE SCHEMA billing",
		"CREATE TABLE billing.invoices (id int)",
		"CREATE TABLE events (at date) PARTITION BY RANGE (at)",
		"CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
		"CREATE VIEW v AS SELECT 1",
		"CREATE TEMP TABLE scratch (id int)",
	)
	got, err := c.Tables(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"billing.invoices", `public."Mixed Case"`, "public.events", "public.users"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Tables = %q, want %q", got, want)
	}
}
