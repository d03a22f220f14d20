package backup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/testpg"
)

// TestScratchCleanupOnCancel: a restore proof cancelled while its scratch
// server runs removes it before it returns (dockerx.TestCleanupScratch
// covers the leftovers of a killed upshift).
func TestScratchCleanupOnCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db := testpg.Start(t)
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = eng.Close() }()

	pgExec(t, db, `CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 8) AS body FROM generate_series(1, 200000) g`)
	set, err := backup.Create(ctx, eng, t.TempDir(), backup.Source{
		App: "proof-test", Version: "1.0.0",
		DB: &backup.DBSource{Container: db.Container, User: db.User, Password: db.Password, Database: db.Database},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithCancel(ctx)
	_, err = set.VerifyRestore(pctx, eng, testpg.Image(), func(p backup.Progress) {
		if p.Phase == "restore-proof" {
			pcancel() // the scratch server is up and being restored into
		}
	})
	pcancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want a cancelled proof, got %v", err)
	}
	scratchLeft(t, ctx, eng)
}
