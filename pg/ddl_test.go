package pg_test

import (
	"context"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/pg"
)

// A superuser has DDL rights; a role that may only read and write the
// tables another role owns, and may not create in public, has not.
func TestDDLRights(t *testing.T) {
	ctx := context.Background()
	p, setup, c := freshDB(t)
	if missing, err := c.DDLRights(ctx); err != nil || len(missing) != 0 {
		t.Fatalf("superuser: %v %v", missing, err)
	}
	role := "n9e_rw_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))
	execAll(t, setup,
		`CREATE TABLE alert_rule (id bigserial PRIMARY KEY, name text)`,
		`DROP ROLE IF EXISTS `+role,
		`CREATE ROLE `+role+` LOGIN PASSWORD 'n9e-pw'`,
		`GRANT CONNECT ON DATABASE "`+p.Database+`" TO `+role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON alert_rule TO `+role,
		`REVOKE CREATE ON SCHEMA public FROM PUBLIC`,
	)
	t.Cleanup(func() {
		_, _ = setup.Exec(context.Background(), `DROP OWNED BY `+role)
		_, _ = setup.Exec(context.Background(), `DROP ROLE IF EXISTS `+role)
	})
	rp := p
	rp.User, rp.Password = role, "n9e-pw"
	rc, err := pg.Connect(ctx, rp)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close(ctx) }()
	missing, err := rc.DDLRights(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 2 || !strings.Contains(missing[0], "CREATE") || !strings.Contains(missing[1], "public.alert_rule") {
		t.Fatalf("missing %q", missing)
	}
	// Owning the tables and creating in public is enough.
	execAll(t, setup, `GRANT CREATE ON SCHEMA public TO `+role, `ALTER TABLE alert_rule OWNER TO `+role)
	if missing, err := rc.DDLRights(ctx); err != nil || len(missing) != 0 {
		t.Errorf("owner: %v %v", missing, err)
	}
}

func TestParseDSN(t *testing.T) {
	p, err := pg.ParseDSN("host=postgres port=5432 user=n9e dbname=n9e_v6 password=s3cret-pw sslmode=disable")
	if err != nil || p.Host != "postgres" || p.User != "n9e" || p.Database != "n9e_v6" || p.Password != "s3cret-pw" || p.Port != "5432" {
		t.Errorf("key=value: %+v %v", p, err)
	}
	p, err = pg.ParseDSN("postgres://dify:pw@db:5433/dify?sslmode=disable")
	if err != nil || p.User != "dify" || p.Port != "5433" || p.Database != "dify" {
		t.Errorf("url: %+v %v", p, err)
	}
	if _, err := pg.ParseDSN("postgres://u:leaky-pw@host:notaport/db"); err == nil || strings.Contains(err.Error(), "leaky-pw") {
		t.Errorf("bad DSN: %v", err)
	}
}
