package backup_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/internal/testpg"
)

func pgExec(t *testing.T, db *testpg.DB, sql string) string {
	t.Helper()
	out, err := testenv.Docker("exec", "-e", "PGPASSWORD="+db.Password, db.Container,
		"psql", "-qtA", "-v", "ON_ERROR_STOP=1", "-U", db.User, "-d", db.Database, "-c", sql)
	if err != nil {
		t.Fatalf("%s: %v: %s", sql, err, out)
	}
	return strings.TrimSpace(out)
}

// scratchLeft fails on scratch parts this test process left (other test
// packages run their own scratch servers on the same engine meanwhile).
func scratchLeft(t *testing.T, ctx context.Context, eng *dockerx.Engine) {
	t.Helper()
	_ = ctx
	_ = eng
	mine := "label=" + dockerx.LabelScratchPID + "=" + strconv.Itoa(os.Getpid())
	var left []string
	for _, kind := range [][]string{{"ps", "-aq"}, {"network", "ls", "-q"}, {"volume", "ls", "-q"}} {
		out, err := testenv.Docker(append(kind, "--filter", mine)...)
		if err != nil {
			t.Fatalf("docker %v: %v\n%s", kind, err, out)
		}
		left = append(left, strings.Fields(out)...)
	}
	if len(left) > 0 {
		t.Errorf("scratch leftovers of this test (labelled %s): %v", dockerx.LabelScratch, left)
	}
}

// rewriteManifest edits the set's manifest the way a damaged or forged set
// would look, and reopens the set.
func rewriteManifest(t *testing.T, set *backup.Set, edit func(*backup.Manifest)) *backup.Set {
	t.Helper()
	m := set.Manifest
	m.Databases = append([]backup.DatabaseEntry(nil), m.Databases...)
	m.Files = append([]backup.File(nil), m.Files...)
	edit(&m)
	b, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(set.Dir, backup.ManifestName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := backup.Open(filepath.Dir(set.Dir), set.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRestoreProof makes a set of a real PostgreSQL while a writer keeps
// inserting, proves it by a restore into a scratch server (every table equal
// to the sums taken from the dump's snapshot), then shows that a set whose
// dump lost a table's data, and one whose recorded sums were edited, fail
// clearly; no scratch container, network or volume is left.
func TestRestoreProof(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db := testpg.Start(t)
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = eng.Close() }()
	// Values whose text form depends on session settings, and a role whose
	// defaults differ from the scratch server's: the sums must not care.
	pgExec(t, db, `ALTER ROLE `+db.User+` SET timezone = 'America/New_York'`)
	pgExec(t, db, `ALTER ROLE `+db.User+` SET extra_float_digits = 0`)
	pgExec(t, db, `ALTER ROLE `+db.User+` SET intervalstyle = 'iso_8601'`)
	pgExec(t, db, `CREATE TABLE notes (id serial PRIMARY KEY, body text);
		CREATE TABLE "Odd|Name" (k int, v jsonb);
		CREATE SCHEMA app; CREATE TABLE app.events (id bigserial, at timestamptz DEFAULT now(), took interval DEFAULT '1 day 2 hours', ratio float8 DEFAULT 0.1, payload bytea);
		INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 20000) g;
		INSERT INTO "Odd|Name" SELECT g, jsonb_build_object('g', g) FROM generate_series(1, 300) g;
		INSERT INTO app.events (payload) SELECT decode(md5(g::text), 'hex') FROM generate_series(1, 5000) g;`)

	// A writer keeps inserting during the dump: the recorded sums must still
	// describe exactly the rows the dump holds (one snapshot for both).
	var stop atomic.Bool
	var wrote atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if _, err := testenv.Docker("exec", "-e", "PGPASSWORD="+db.Password, db.Container, "psql", "-qtA", "-U", db.User, "-d", db.Database,
				"-c", "INSERT INTO notes (body) SELECT 'late' FROM generate_series(1, 50)"); err == nil {
				wrote.Add(50)
			}
		}
	}()
	root := t.TempDir()
	set, err := backup.Create(ctx, eng, root, backup.Source{
		App: "proof-test", Version: "1.0.0",
		DB: &backup.DBSource{Container: db.Container, User: db.User, Password: db.Password, Database: db.Database},
	}, func(backup.Progress) {})
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("writer inserted %d rows around the dump", wrote.Load())
	d := set.Manifest.Databases[0]
	if len(d.Tables) != 3 || d.Tables["public.notes"].Rows < 20000 || d.Tables[`public."Odd|Name"`].Rows != 300 || d.Tables["app.events"].Rows != 5000 {
		t.Fatalf("recorded sums: %+v (note %q)", d.Tables, d.TablesNote)
	}

	live := pgExec(t, db, "SELECT count(*) FROM notes")
	proof, err := set.VerifyRestore(ctx, eng, testpg.Image(), nil)
	if err != nil {
		t.Fatalf("verify --restore of a good set: %v", err)
	}
	t.Logf("good set: %s", proof.Summary())
	if !proof.Passed || proof.Tables != 3 || len(proof.Unchecked) != 0 {
		t.Fatalf("proof: %+v", proof)
	}
	reopened, err := backup.Open(root, set.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rp := reopened.Manifest.RestoreProof; rp == nil || !rp.Passed || rp.Seconds <= 0 || rp.At.IsZero() || !reopened.Manifest.Verified {
		t.Fatalf("manifest after the proof: %+v", reopened.Manifest.RestoreProof)
	}
	scratchLeft(t, ctx, eng)

	t.Run("not a PostgreSQL image", func(t *testing.T) {
		img := demo.ImageRef("1.0.0")
		if _, ok, _ := eng.ImageInspect(ctx, img); !ok {
			t.Skip(img + " is not built here")
		}
		start := time.Now()
		_, err := reopened.VerifyRestore(ctx, eng, img, nil)
		if !errors.Is(err, backup.ErrNoScratch) || !strings.Contains(err.Error(), "PostgreSQL image") || time.Since(start) > 30*time.Second {
			t.Fatalf("want a fast, clear refusal, got %v after %s", err, time.Since(start))
		}
		t.Logf("not a PostgreSQL image: %v", err)
		scratchLeft(t, ctx, eng)
	})

	t.Run("image missing", func(t *testing.T) {
		_, err := reopened.VerifyRestore(ctx, eng, "upshift-test/no-such-postgres:0", nil)
		if !errors.Is(err, dockerx.ErrImageMissing) {
			t.Fatalf("want ErrImageMissing, got %v", err)
		}
	})

	t.Run("edited checksum", func(t *testing.T) {
		bad := rewriteManifest(t, reopened, func(m *backup.Manifest) {
			ts := m.Databases[0].Tables["app.events"]
			ts.Rows++
			m.Databases[0].Tables = cloneSums(m.Databases[0].Tables)
			m.Databases[0].Tables["app.events"] = ts
		})
		_, err := bad.VerifyRestore(ctx, eng, testpg.Image(), nil)
		if !errors.Is(err, backup.ErrRestoreProof) || !strings.Contains(err.Error(), "table app.events has 5000 rows restored, 5001 at dump time") {
			t.Fatalf("want a clear mismatch, got %v", err)
		}
		t.Logf("edited checksum: %v", err)
		scratchLeft(t, ctx, eng)
	})

	tampered := reopened
	t.Run("dump without a table's data", func(t *testing.T) {
		// A dump that silently lost the rows of notes (as a buggy or
		// truncated dump would), with file checksums that match it, so only
		// the restore can tell.
		file := filepath.Join(reopened.Dir, d.File)
		out, err := os.Create(file)
		if err != nil {
			t.Fatal(err)
		}
		c := exec.Command("docker", "exec", "-e", "PGPASSWORD="+db.Password, db.Container, "pg_dump", "-U", db.User, "--format=custom", "--compress=1", "--exclude-table-data=public.notes", db.Database)
		c.Stdout = out
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		_ = out.Close()
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		bad := rewriteManifest(t, reopened, func(m *backup.Manifest) {
			for i := range m.Files {
				if m.Files[i].Path == d.File {
					m.Files[i].Size, m.Files[i].SHA256 = int64(len(body)), hex.EncodeToString(sum[:])
				}
			}
		})
		_, err = bad.VerifyRestore(ctx, eng, testpg.Image(), nil)
		want := "table public.notes has 0 rows restored, " + strconv.FormatInt(d.Tables["public.notes"].Rows, 10) + " at dump time"
		if !errors.Is(err, backup.ErrRestoreProof) || !strings.Contains(err.Error(), want) {
			t.Fatalf("want %q, got %v", want, err)
		}
		t.Logf("dump without data: %v", err)
		tampered = bad
		again, _ := backup.Open(root, set.ID)
		if again.Manifest.Verified || again.Manifest.RestoreProof == nil || again.Manifest.RestoreProof.Passed {
			t.Fatalf("a failed proof must be recorded: %+v", again.Manifest.RestoreProof)
		}
		scratchLeft(t, ctx, eng)
	})

	t.Run("set made before sums were recorded", func(t *testing.T) {
		old := rewriteManifest(t, tampered, func(m *backup.Manifest) { m.Databases[0].Tables = nil })
		// The dump on disk is still the one without notes' data: it restores,
		// and nothing can be compared, which the proof must say.
		proof, err := old.VerifyRestore(ctx, eng, testpg.Image(), nil)
		if err != nil || len(proof.Unchecked) != 1 || !strings.Contains(proof.Summary(), "not compared") || strings.Contains(proof.Summary(), "0 tables") {
			t.Fatalf("old set: %v %+v", err, proof)
		}
		t.Logf("old set: %s", proof.Summary())
	})

	if got := pgExec(t, db, "SELECT count(*) FROM notes"); got != live {
		t.Fatalf("the live database changed: %s rows, was %s", got, live)
	}
	scratchLeft(t, ctx, eng)
}

func cloneSums(m map[string]backup.TableSum) map[string]backup.TableSum {
	out := make(map[string]backup.TableSum, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
