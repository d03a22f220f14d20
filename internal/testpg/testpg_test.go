package testpg

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func TestSharedNewDatabase(t *testing.T) {
	db := Shared(t)
	if db2 := Shared(t); db2 != db {
		t.Fatalf("Shared started a second server")
	}
	dsn := db.NewDatabase(t, t.Name())
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to new database: %v", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var name string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "testsharednewdatabase_") {
		t.Errorf("current_database() = %q, want testsharednewdatabase_N", name)
	}
}

func TestStart(t *testing.T) {
	t.Parallel()
	db := Start(t)
	if db.Container == "" || db.Port == "" || db.DSN == "" {
		t.Fatalf("incomplete DB: %+v", db)
	}
}

func TestSafeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"TestX/sub case", "testx_sub_case"},
		{"1abc", "db_1abc"},
		{"", "db_"},
		{strings.Repeat("a", 100), strings.Repeat("a", 40)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := safeName(tt.in); got != tt.want {
				t.Errorf("safeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
