package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// TestPostgres17Image: the second test major (scripts/pg-image.sh 17, from
// Debian trixie's packages) starts with the entrypoint conventions of the 15
// image (POSTGRES_USER/PASSWORD/DB, uid 999) and reports server_version 17,
// with the client tools upshift runs in it.
func TestPostgres17Image(t *testing.T) {
	testenv.RequireDocker(t)
	image := testenv.PostgresImageMajor(17)
	testenv.RequireImage(t, image)
	name := testenv.UniqueName("h14pg-pg17-smoke")
	if out, err := testenv.Docker("run", "-d", "--name", name, "-e", "POSTGRES_USER=smoke",
		"-e", "POSTGRES_PASSWORD=smoke-secret", "-e", "POSTGRES_DB=smokedb", image); err != nil {
		t.Fatalf("docker run %s: %v\n%s", image, err, out)
	}
	t.Cleanup(func() { _, _ = testenv.Docker("rm", "-f", "-v", name) })

	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := testenv.Docker("exec", name, "pg_isready", "-U", "smoke", "-d", "smokedb")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := testenv.Docker("logs", name)
			t.Fatalf("%s not ready after 60s: %s\n%s", image, out, logs)
		}
		time.Sleep(300 * time.Millisecond)
	}
	out, err := testenv.Docker("exec", name, "psql", "-U", "smoke", "-d", "smokedb", "-qtAc",
		"SELECT current_setting('server_version_num'), current_user, current_database()")
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(out); !strings.HasPrefix(got, "17") || !strings.HasSuffix(got, "|smoke|smokedb") {
		t.Fatalf("server_version_num|user|db = %q, want 17xxxx|smoke|smokedb", got)
	}
	out, err = testenv.Docker("exec", name, "sh", "-c", "id -u && pg_dump --version && pg_dumpall --version && pg_restore --version")
	if err != nil || !strings.HasPrefix(out, "999\n") || strings.Count(out, "(PostgreSQL) 17.") != 3 {
		t.Fatalf("uid and client tools: %v\n%s", err, out)
	}
}

// pgHopProfile writes the demo profile with its minimum-PostgreSQL rule
// moved to target (the real rule is on 3.0.0, behind 2.1.0's unique note
// bodies), so that the hop to target needs PostgreSQL 16 on the demo's 15.
func pgHopProfile(t *testing.T, s *testenv.Stack, target string) string {
	t.Helper()
	out, err := s.Run("profile", "show", "upshift-demo")
	if err != nil {
		t.Fatalf("profile show: %v\n%s", err, out)
	}
	const rule = `targets: ">=3.0.0"`
	if !strings.Contains(out, rule) {
		t.Fatalf("the demo profile has no %s min_db rule any more:\n%s", rule, out)
	}
	path := filepath.Join(t.TempDir(), "demo-pg.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(out, rule, `targets: ">=`+target+`"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fingerprint is every public table of the database: row count and an md5
// of its rows in order (the columns given, or the whole row).
func fingerprint(t *testing.T, psql func(string) (string, error), cols map[string]string) map[string]string {
	t.Helper()
	out, err := psql(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatalf("list tables: %v\n%s", err, out)
	}
	fp := map[string]string{}
	for _, tbl := range strings.Fields(out) {
		expr := "t::text"
		if c, ok := cols[tbl]; ok {
			expr = c
		} else if len(cols) > 0 {
			continue
		}
		got, err := psql(fmt.Sprintf(`SELECT count(*) || ' ' || coalesce(md5(string_agg(%s, ',' ORDER BY %s)), '-') FROM %q t`, expr, expr, tbl))
		if err != nil {
			t.Fatalf("fingerprint %s: %v\n%s", tbl, err, got)
		}
		fp[tbl] = got
	}
	return fp
}

// dropVolumesAtEnd removes both data volumes when the test ends: after a
// PostgreSQL hop (or its rollback) the compose file declares only one of
// them in use, and `compose down --volumes` leaves the other.
func dropVolumesAtEnd(t *testing.T, s *testenv.Stack, vol string) {
	t.Helper()
	t.Cleanup(func() {
		s.Down()
		for _, v := range []string{vol, vol + "-pg17"} {
			if out, err := testenv.Docker("volume", "rm", "-f", v); err != nil {
				t.Logf("remove volume %s: %v %s", v, err, out)
			}
		}
	})
}

func dbVolume(t *testing.T, s *testenv.Stack) string {
	t.Helper()
	out, err := testenv.Docker("inspect", "--format", `{{range .Mounts}}{{if eq .Destination "/var/lib/postgresql/data"}}{{.Name}}{{end}}{{end}}`, s.Container("db"))
	if err != nil {
		t.Fatalf("inspect db: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

// onVolume starts image on a data volume in a throw-away container and
// returns a psql on it (removed when the test ends).
func onVolume(t *testing.T, s *testenv.Stack, image, volume string) func(string) (string, error) {
	t.Helper()
	name := testenv.UniqueName("h14pg-oldvol")
	if out, err := testenv.Docker("run", "-d", "--name", name, "--network", "none", "-v", volume+":/var/lib/postgresql/data", image); err != nil {
		t.Fatalf("start %s on %s: %v\n%s", image, volume, err, out)
	}
	t.Cleanup(func() { _, _ = testenv.Docker("rm", "-f", name) })
	user, db := s.Env("DB_USER"), s.Env("DB_NAME")
	psql := func(q string) (string, error) {
		out, err := testenv.Docker("exec", name, "psql", "-v", "ON_ERROR_STOP=1", "-qtA", "-U", user, "-d", db, "-c", q)
		return strings.TrimSpace(out), err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := psql("SELECT 1"); err == nil {
			return psql
		}
		if time.Now().After(deadline) {
			logs, _ := testenv.Docker("logs", name)
			t.Fatalf("%s on %s not ready: %s", image, volume, logs)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func serverVersionNum(t *testing.T, s *testenv.Stack) string {
	t.Helper()
	v, err := s.PSQL("SHOW server_version_num")
	if err != nil {
		t.Fatalf("server_version_num: %v %s", err, v)
	}
	return v
}

// TestPostgresMajorHop: the demo at 1.0.0 on PostgreSQL 15, a target that
// needs 16 (a profile rule), `upgrade --yes --postgres-image
// upshift-test/postgres:17`: the plan has a "PostgreSQL 15 → 17" hop before
// the app hop; afterwards the server is 17 on a new volume, every row the
// old server had is there unchanged, the stack is healthy at the target,
// and the old volume still exists with exactly the old data.
func TestPostgresMajorHop(t *testing.T) {
	t.Parallel()
	testenv.RequireDocker(t)
	testenv.RequireImage(t, testenv.PostgresImageMajor(17))
	s := testenv.StartDemoAs(t, "h14pg-pgmajor", "1.0.0")
	prof := pgHopProfile(t, s, "1.1.0")
	quietWorker(t, s)
	if _, err := s.PSQL(`INSERT INTO notes (body) VALUES ('before the PostgreSQL upgrade'), ('ünïcode ✓')`); err != nil {
		t.Fatal(err)
	}
	oldVol := dbVolume(t, s)
	dropVolumesAtEnd(t, s, oldVol)
	if v := serverVersionNum(t, s); !strings.HasPrefix(v, "15") {
		t.Fatalf("the demo runs PostgreSQL %s, want 15", v)
	}
	// 1.1.0 adds a column to notes: compare what both versions have.
	keep := map[string]string{"notes": "t.id::text || '|' || t.body || '|' || t.created_at::text"}
	before := fingerprint(t, s.PSQL, keep)
	all := fingerprint(t, s.PSQL, nil)

	out, err := s.Run("plan", "--to", "1.1.0", "--profile", prof)
	if err == nil || !strings.Contains(out, "BLOCKED") || !strings.Contains(out, "--postgres-image") {
		t.Fatalf("plan without an image: want blocked with the --postgres-image hint: %v\n%s", err, out)
	}
	img := testenv.PostgresImageMajor(17)
	out, err = s.Run("plan", "--to", "1.1.0", "--profile", prof, "--postgres-image", img)
	if err != nil || !strings.Contains(out, "hop 1: PostgreSQL 15 → 17") || !strings.Contains(out, "hop 2: 1.1.0") || strings.Contains(out, "BLOCKED") {
		t.Fatalf("plan with --postgres-image: %v\n%s", err, out)
	}

	start := time.Now()
	// The app hop's own restore proof is not what this test is about.
	out, err = s.Run("upgrade", "--to", "1.1.0", "--yes", "--json", "--profile", prof, "--postgres-image", img, "--restore-proof", "never")
	t.Logf("upgrade with the PostgreSQL hop took %s", time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	if res := lastResult(t, out); res.Outcome != "success" || res.Reached != "1.1.0" {
		t.Fatalf("result %+v\n%s", res, out)
	}
	if v := serverVersionNum(t, s); !strings.HasPrefix(v, "17") {
		t.Fatalf("after the hop the server is %s, want 17", v)
	}
	if got := dbVolume(t, s); got != oldVol+"-pg17" {
		t.Fatalf("the db runs on volume %q, want %q", got, oldVol+"-pg17")
	}
	if got := s.Env("POSTGRES_IMAGE"); got != img {
		t.Fatalf(".env POSTGRES_IMAGE = %q, want %q", got, img)
	}
	if v, err := s.APIVersion(); err != nil || !strings.Contains(v, "1.1.0") {
		t.Fatalf("api /version: %q %v", v, err)
	}
	if after := fingerprint(t, s.PSQL, keep); !maps.Equal(after, before) {
		t.Fatalf("rows changed across the PostgreSQL hop:\nbefore %v\nafter  %v", before, after)
	}
	// The app's role logs in with its old password over TCP (scram), as the app does.
	if out, err := testenv.Docker("exec", "-e", "PGPASSWORD="+s.Env("DB_PASSWORD"), s.Container("db"), "psql", "-h", "127.0.0.1", "-U", s.Env("DB_USER"), "-d", s.Env("DB_NAME"), "-qtAc", "SELECT 1"); err != nil {
		t.Fatalf("password login on the new server: %v\n%s", err, out)
	}
	// The old volume is kept, with exactly the old data.
	old := onVolume(t, s, testenv.PostgresImage(), oldVol)
	if got := fingerprint(t, old, nil); !maps.Equal(got, all) {
		t.Fatalf("the old volume changed:\nbefore %v\nnow    %v", all, got)
	}
	// The copy's server container is gone (other tests' scratch servers
	// may run on this engine at the same time: only ours are looked for).
	if out, err := testenv.Docker("ps", "-aq", "--filter", "label=io.upshift.helper=pg-major"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("the copy's server container was left: %v %s", err, out)
	}
}

// TestPostgresMajorHopRollback: the PostgreSQL hop succeeds, then the app
// hop after it fails (the demo 2.1.0 migration on duplicate notes); with
// --rollback-to start the rollback switches the files back and starts
// PostgreSQL 15 on the old, untouched volume: identical tables, exit 3.
func TestPostgresMajorHopRollback(t *testing.T) {
	t.Parallel()
	testenv.RequireDocker(t)
	testenv.RequireImage(t, testenv.PostgresImageMajor(17))
	s := testenv.StartDemoAs(t, "h14pg-pgmajor-rb", "2.0.0")
	prof := pgHopProfile(t, s, "2.1.0")
	quietWorker(t, s)
	if _, err := s.PSQL(`INSERT INTO notes (body, word_count, owner) VALUES ('dup', 1, 'a'), ('dup', 1, 'b')`); err != nil {
		t.Fatal(err)
	}
	oldVol := dbVolume(t, s)
	dropVolumesAtEnd(t, s, oldVol)
	compose, err := os.ReadFile(filepath.Join(s.Dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	oldImage := s.Env("POSTGRES_IMAGE")
	before := fingerprint(t, s.PSQL, nil)

	out, err := s.Run("upgrade", "--to", "2.1.0", "--yes", "--json", "--profile", prof,
		"--postgres-image", testenv.PostgresImageMajor(17), "--rollback-to", "start", "--restore-proof", "never",
		// A rehearsal would catch the failing migration before its downtime:
		// this test needs the failure after the switch.
		"--no-rehearsal")
	if code := exitCode(err); code != 3 {
		t.Fatalf("upgrade: exit %d (%v), want 3 (rolled back)\n%s", code, err, out)
	}
	res := lastResult(t, out)
	if res.Outcome != "rolled_back" || res.FailedStep != "2.1.0/migrate" || res.Reached != "2.0.0" {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(out, "switched back to the old database volume, untouched") {
		t.Fatalf("the rollback did not switch back to the old volume:\n%s", out)
	}
	if v := serverVersionNum(t, s); !strings.HasPrefix(v, "15") {
		t.Fatalf("after the rollback the server is %s, want 15", v)
	}
	if got := dbVolume(t, s); got != oldVol {
		t.Fatalf("the db runs on volume %q, want the old %q", got, oldVol)
	}
	if got, err := os.ReadFile(filepath.Join(s.Dir, "compose.yaml")); err != nil || string(got) != string(compose) {
		t.Fatalf("compose.yaml not restored (%v):\n%s", err, got)
	}
	if got := s.Env("POSTGRES_IMAGE"); got != oldImage {
		t.Fatalf(".env POSTGRES_IMAGE = %q, want %q", got, oldImage)
	}
	if after := fingerprint(t, s.PSQL, nil); !maps.Equal(after, before) {
		t.Fatalf("tables differ after the rollback:\nbefore %v\nafter  %v", before, after)
	}
	if v, err := s.APIVersion(); err != nil || !strings.Contains(v, "2.0.0") {
		t.Fatalf("api /version: %q %v", v, err)
	}
}

// TestPostgresMajorHopDemo: the issue's own path on the demo's real rule
// (3.0.0 needs PostgreSQL 16): 2.0.0 on 15, the 2.1.0 note's DELETE of
// duplicate notes run, `upgrade --to 3.0.0 --yes --postgres-image
// upshift-test/postgres:17` goes PostgreSQL 15 → 17, then 3.0.0 (whose
// migration refuses 15); every note kept, the old volume still there.
func TestPostgresMajorHopDemo(t *testing.T) {
	t.Parallel()
	testenv.RequireDocker(t)
	testenv.RequireImage(t, testenv.PostgresImageMajor(17))
	s := testenv.StartDemoAs(t, "h14pg-pgmajor-demo", "2.0.0")
	quietWorker(t, s)
	oldVol := dbVolume(t, s)
	dropVolumesAtEnd(t, s, oldVol)
	if out, err := s.PSQL(`DELETE FROM notes a USING notes b WHERE a.id > b.id AND a.body = b.body`); err != nil {
		t.Fatalf("the 2.1.0 note's DELETE: %v %s", err, out)
	}
	maxID, err := s.PSQL(`SELECT max(id) FROM notes`)
	if err != nil {
		t.Fatal(maxID)
	}
	notes := func() string {
		out, err := s.PSQL(`SELECT count(*) || ' ' || md5(string_agg(id || '|' || body || '|' || created_at, ',' ORDER BY id)) FROM notes WHERE id <= ` + maxID)
		if err != nil {
			t.Fatalf("notes: %v %s", err, out)
		}
		return out
	}
	before := notes()
	out, err := s.Run("upgrade", "--to", "3.0.0", "--yes", "--json", "--postgres-image", testenv.PostgresImageMajor(17), "--restore-proof", "never")
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	if res := lastResult(t, out); res.Outcome != "success" || res.Reached != "3.0.0" {
		t.Fatalf("result %+v", res)
	}
	if v := serverVersionNum(t, s); !strings.HasPrefix(v, "17") {
		t.Fatalf("server %s, want 17", v)
	}
	if v, err := s.APIVersion(); err != nil || !strings.Contains(v, "3.0.0") {
		t.Fatalf("api /version: %q %v", v, err)
	}
	if after := notes(); after != before {
		t.Fatalf("notes changed: before %s, after %s", before, after)
	}
	if out, err := testenv.Docker("volume", "inspect", "--format", "{{.Name}}", oldVol); err != nil {
		t.Fatalf("the old volume %s is gone: %v %s", oldVol, err, out)
	}
}
