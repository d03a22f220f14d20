package backup_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/testpg"
)

// TestRestoreProofTiming measures a backup (dump + checksums from its
// snapshot) and its restore proof for a database of about
// UPSHIFT_PROOF_BENCH_MB megabytes; it only runs when that is set:
//
//	UPSHIFT_PROOF_BENCH_MB=100 go test ./backup -run TestRestoreProofTiming -count=1 -v
func TestRestoreProofTiming(t *testing.T) {
	mb, _ := strconv.Atoi(os.Getenv("UPSHIFT_PROOF_BENCH_MB"))
	if mb <= 0 {
		t.Skip("set UPSHIFT_PROOF_BENCH_MB to measure")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	db := testpg.Start(t)
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = eng.Close() }()
	// About 190 bytes a row on disk with its index.
	rows := mb * 1024 * 1024 / 190
	pgExec(t, db, "CREATE TABLE big (id bigserial PRIMARY KEY, at timestamptz DEFAULT now(), body text); "+
		"INSERT INTO big (body) SELECT repeat(md5(g::text), 3) FROM generate_series(1, "+strconv.Itoa(rows)+") g; "+
		"CREATE TABLE small AS SELECT g FROM generate_series(1, 1000) g")
	size := pgExec(t, db, "SELECT pg_size_pretty(pg_database_size(current_database()))")

	start := time.Now()
	q := "SELECT count(*), sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint) FROM big t"
	pgExec(t, db, q)
	sumOnly := time.Since(start)

	start = time.Now()
	set, err := backup.Create(ctx, eng, t.TempDir(), backup.Source{
		App: "bench", Version: "1",
		DB: &backup.DBSource{Container: db.Container, User: db.User, Password: db.Password, Database: db.Database},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	backupTook := time.Since(start)
	start = time.Now()
	proof, err := set.VerifyRestore(ctx, eng, testpg.Image(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("database %s (%d rows), dump %d bytes: backup with checksums %s (checksum scan alone %s); verify --restore %s: %s",
		size, rows, set.Manifest.Databases[0].DumpBytes, backupTook.Round(time.Millisecond), sumOnly.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), proof.Summary())
}
