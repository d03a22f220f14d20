package pg_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/pg"
)

// Miniflux's own record: one row, an integer.
const minifluxDDL = "CREATE TABLE schema_version (version text not null)"

func TestReadSchemaTable(t *testing.T) {
	tests := []struct {
		name          string
		setup         []string
		table, column string
		head          string
		dirty         bool
		detail        string
	}{
		{
			name:  "single row, text (miniflux)",
			setup: join(minifluxDDL, "INSERT INTO schema_version VALUES ('108')"),
			table: "schema_version", column: "version", head: "108", detail: "schema_version.version = 108 (one row)",
		},
		{
			name:  "newest of several integer rows",
			setup: join("CREATE TABLE app_migrations (id serial, version bigint, applied timestamptz default now())", "INSERT INTO app_migrations (version) VALUES (9), (10), (2)"),
			table: "app_migrations", column: "version", head: "10", detail: "3 rows, the highest",
		},
		{
			name:  "found by looking",
			setup: join("CREATE TABLE users (id int)", "CREATE TABLE my_schema_versions (version_num int, dirty boolean)", "INSERT INTO my_schema_versions VALUES (7, true)"),
			head:  "7", dirty: true, detail: "marked dirty",
		},
		{
			name:  "empty",
			setup: join(minifluxDDL),
			table: "schema_version", detail: "is empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, setup, c := freshDB(t)
			execAll(t, setup, tt.setup...)
			got, err := c.ReadSchemaIn(t.Context(), pg.ToolTable, tt.table, tt.column)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", got)
			if got.Tool != pg.ToolTable || got.Head != tt.head || got.Dirty != tt.dirty || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("got %+v, want head %q dirty %v detail ~%q", got, tt.head, tt.dirty, tt.detail)
			}
		})
	}
}

func TestReadSchemaTableErrors(t *testing.T) {
	_, setup, c := freshDB(t)
	execAll(t, setup, "CREATE TABLE schema_version (v int)")
	if _, err := c.ReadSchemaIn(t.Context(), pg.ToolTable, "missing_version", "version"); !errors.Is(err, pg.ErrNoSchemaTable) {
		t.Errorf("missing table: %v, want ErrNoSchemaTable", err)
	}
	_, err := c.ReadSchemaIn(t.Context(), pg.ToolTable, "schema_version", "version")
	if err == nil || !strings.Contains(err.Error(), `no column "version" (it has v)`) {
		t.Errorf("missing column: %v", err)
	}
	if _, err := c.ReadSchema(t.Context(), pg.ToolTable); !errors.Is(err, pg.ErrNoSchemaTable) {
		t.Errorf("nothing to find: %v, want ErrNoSchemaTable", err)
	}
}

func TestDetectSchemaFindsOwnTable(t *testing.T) {
	_, setup, c := freshDB(t)
	execAll(t, setup, join("CREATE TABLE users (id int)", minifluxDDL, "INSERT INTO schema_version VALUES ('112')",
		"CREATE TABLE app_version_log (version text)")...)
	got, err := c.DetectSchema(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.Tool != pg.ToolTable || got.Head != "112" || got.Table != "schema_version" || got.Column != "version" {
		t.Errorf("DetectSchema = %+v, want table schema_version.version 112", got)
	}
	found, err := c.FindVersionTables(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found[0].Table != "schema_version" || found[0].Rows != 1 || found[1].Table != "app_version_log" {
		t.Errorf("FindVersionTables = %+v", found)
	}
}
