package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// TestPostgresMajorHopBindMount: the real layouts keep PostgreSQL's data in
// a directory of the host, named by a .env variable (Mattermost's
// POSTGRES_DATA_PATH; Dify's ./volumes/db/data). The demo at 2.0.0 is moved
// onto such a layout, then `upgrade --to 2.1.0` with a rule that 2.1.0
// needs PostgreSQL 16:
//   - a directory of the new one's name that upshift did not make is
//     refused, untouched;
//   - with duplicate notes and --rollback-to start, the PostgreSQL hop
//     succeeds, 2.1.0 fails, and the rollback switches back: the .env names
//     the old directory again, PostgreSQL 15 runs on it, every table equal;
//   - after the 2.1.0 note's DELETE the same command succeeds: PostgreSQL 17
//     runs on the new directory next to the old one (the first attempt's
//     replaced), every row there, and the old directory still holds 15.
func TestPostgresMajorHopBindMount(t *testing.T) {
	t.Parallel()
	testenv.RequireDocker(t)
	testenv.RequireImage(t, testenv.PostgresImageMajor(17))
	s := testenv.StartDemoAs(t, "pgbind", "2.0.0")
	prof := pgHopProfile(t, s, "2.1.0")
	quietWorker(t, s)
	oldVol := dbVolume(t, s)
	dropVolumesAtEnd(t, s, oldVol)

	oldDir := onHostDir(t, s, oldVol)
	composePath := filepath.Join(s.Dir, "compose.yaml")
	compose, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	dbSource := func() string { return dbMount(t, s) }
	if _, err := s.PSQL(`INSERT INTO notes (body, word_count, owner) VALUES ('dup', 1, 'a'), ('dup', 1, 'b')`); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join(s.Dir, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	before := fingerprint(t, s.PSQL, nil)
	img := testenv.PostgresImageMajor(17)
	newDir := oldDir + "-pg17"

	// A directory of that name that upshift did not make: refused before
	// anything is touched.
	if err := os.MkdirAll(newDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(newDir, "someone.txt"), []byte("mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := s.Run("upgrade", "--to", "2.1.0", "--yes", "--json", "--profile", prof, "--postgres-image", img, "--no-rehearsal")
	if code := exitCode(err); code != 1 || !strings.Contains(out, "upshift did not make it") {
		t.Fatalf("upgrade with someone's %s: exit %d, want 1 naming it\n%s", newDir, code, out)
	}
	if b, err := os.ReadFile(filepath.Join(newDir, "someone.txt")); err != nil || string(b) != "mine\n" {
		t.Fatalf("someone's file was touched: %q %v", b, err)
	}
	if err := os.RemoveAll(newDir); err != nil {
		t.Fatal(err)
	}

	out, err = s.Run("upgrade", "--to", "2.1.0", "--yes", "--json", "--profile", prof, "--postgres-image", img,
		"--rollback-to", "start", "--restore-proof", "never", "--no-rehearsal")
	if code := exitCode(err); code != 3 {
		t.Fatalf("upgrade with duplicates: exit %d (%v), want 3 (rolled back)\n%s", code, err, out)
	}
	if !strings.Contains(out, "the new data will be in the directory "+newDir) {
		t.Errorf("the preflight did not name the new directory %s:\n%s", newDir, out)
	}
	if got := dbSource(); got != "bind "+oldDir {
		t.Fatalf("after the rollback the db runs on %q, want the old directory", got)
	}
	if v := serverVersionNum(t, s); !strings.HasPrefix(v, "15") {
		t.Fatalf("after the rollback the server is %s, want 15", v)
	}
	if got, _ := os.ReadFile(filepath.Join(s.Dir, ".env")); string(got) != string(env) {
		t.Fatalf(".env after the rollback:\n%s\nwant:\n%s", got, env)
	}
	if got, _ := os.ReadFile(composePath); string(got) != string(compose) {
		t.Fatalf("compose.yaml after the rollback:\n%s", got)
	}
	if after := fingerprint(t, s.PSQL, nil); !maps.Equal(after, before) {
		t.Fatalf("tables differ after the rollback:\nbefore %v\nafter  %v", before, after)
	}

	if out, err := s.PSQL(`DELETE FROM notes a USING notes b WHERE a.id > b.id AND a.body = b.body`); err != nil {
		t.Fatalf("the 2.1.0 note's DELETE: %v %s", err, out)
	}
	keep := map[string]string{"notes": "t.id::text || '|' || t.body || '|' || t.created_at::text"}
	before = fingerprint(t, s.PSQL, keep)
	out, err = s.Run("upgrade", "--to", "2.1.0", "--yes", "--json", "--profile", prof, "--postgres-image", img, "--restore-proof", "never")
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	if res := lastResult(t, out); res.Outcome != "success" || res.Reached != "2.1.0" {
		t.Fatalf("result %+v\n%s", res, out)
	}
	if !strings.Contains(out, "was left by an earlier attempt that never switched to it") {
		t.Errorf("the first attempt's directory was not recognised as upshift's:\n%s", out)
	}
	if v := serverVersionNum(t, s); !strings.HasPrefix(v, "17") {
		t.Fatalf("after the hop the server is %s, want 17", v)
	}
	if got := dbSource(); got != "bind "+newDir {
		t.Fatalf("the db runs on %q, want the directory %s", got, newDir)
	}
	if got := s.Env("PG_DATA_PATH"); got != "./volumes/db/data-pg17" {
		t.Fatalf(".env PG_DATA_PATH = %q", got)
	}
	if got, _ := os.ReadFile(composePath); !strings.Contains(string(got), "      - ${PG_DATA_PATH}:/var/lib/postgresql/data # my data") {
		t.Fatalf("the admin's volume line changed:\n%s", got)
	}
	if after := fingerprint(t, s.PSQL, keep); !maps.Equal(after, before) {
		t.Fatalf("rows changed across the PostgreSQL hop:\nbefore %v\nafter  %v", before, after)
	}
	if v, err := s.APIVersion(); err != nil || !strings.Contains(v, "2.1.0") {
		t.Fatalf("api /version: %q %v", v, err)
	}
	if b, err := os.ReadFile(filepath.Join(oldDir, "PG_VERSION")); err != nil || strings.TrimSpace(string(b)) != "15" {
		t.Fatalf("the old directory's PG_VERSION: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(newDir), ".upshift-made-data-pg17")); err != nil {
		t.Fatalf("no marker next to the new directory: %v", err)
	}
}

// onHostDir moves the demo's database from its named volume onto the
// directory volumes/db/data of the stack, named in the compose file by the
// .env variable PG_DATA_PATH (Mattermost's layout), and returns the
// directory; the test's end removes it.
func onHostDir(t *testing.T, s *testenv.Stack, oldVol string) string {
	t.Helper()
	oldDir := filepath.Join(s.Dir, "volumes", "db", "data")
	if err := os.MkdirAll(oldDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The server's files belong to its uid: removed by a container.
		_, _ = testenv.Docker("run", "--rm", "-u", "0", "--network", "none", "-v", filepath.Join(s.Dir, "volumes")+":/v", "--entrypoint", "/bin/sh", testenv.PostgresImage(), "-c", "rm -rf /v/db")
	})
	if out, err := s.Compose("stop"); err != nil {
		t.Fatalf("stop: %v\n%s", err, out)
	}
	if out, err := testenv.Docker("run", "--rm", "-u", "0", "--network", "none", "-v", oldVol+":/from", "-v", oldDir+":/to", "--entrypoint", "/bin/sh", testenv.PostgresImage(), "-c", "cp -a /from/. /to/"); err != nil {
		t.Fatalf("copy the data directory: %v\n%s", err, out)
	}
	composePath := filepath.Join(s.Dir, "compose.yaml")
	compose, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	const volLine = "      - db-data:/var/lib/postgresql/data"
	if !strings.Contains(string(compose), volLine) {
		t.Fatalf("the demo's compose file has no %q line any more:\n%s", volLine, compose)
	}
	compose = []byte(strings.Replace(string(compose), volLine, "      - ${PG_DATA_PATH}:/var/lib/postgresql/data # my data", 1))
	if err := os.WriteFile(composePath, compose, 0o644); err != nil {
		t.Fatal(err)
	}
	s.SetEnv("PG_DATA_PATH", "./volumes/db/data")
	if out, err := s.Compose("up", "-d", "--wait"); err != nil {
		t.Fatalf("up on the directory: %v\n%s", err, out)
	}
	if got := dbMount(t, s); got != "bind "+oldDir {
		t.Fatalf("the db runs on %q, want the directory %s", got, oldDir)
	}
	return oldDir
}

// dbMount is "TYPE SOURCE" of the db container's data directory mount.
func dbMount(t *testing.T, s *testenv.Stack) string {
	t.Helper()
	out, err := testenv.Docker("inspect", "--format", `{{range .Mounts}}{{if eq .Destination "/var/lib/postgresql/data"}}{{.Type}} {{.Source}}{{end}}{{end}}`, s.Container("db"))
	if err != nil {
		t.Fatalf("inspect db: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

// TestPostgresMajorHopKilledThenRetry: kill -9 while the PostgreSQL hop
// copies the data (the app stopped), on a data directory of the host; a
// plain `resume --retry --yes` (no --postgres-image: the journal keeps the
// run's) finishes it: PostgreSQL 17 on the new directory, every row there,
// the old directory untouched.
func TestPostgresMajorHopKilledThenRetry(t *testing.T) {
	t.Parallel()
	testenv.RequireDocker(t)
	testenv.RequireImage(t, testenv.PostgresImageMajor(17))
	s := testenv.StartDemoAs(t, "pgkill", "2.0.0")
	prof := pgHopProfile(t, s, "2.1.0")
	quietWorker(t, s)
	oldVol := dbVolume(t, s)
	dropVolumesAtEnd(t, s, oldVol)
	oldDir := onHostDir(t, s, oldVol)
	if out, err := s.PSQL(`DELETE FROM notes a USING notes b WHERE a.id > b.id AND a.body = b.body`); err != nil {
		t.Fatalf("the 2.1.0 note's DELETE: %v %s", err, out)
	}
	keep := map[string]string{"notes": "t.id::text || '|' || t.body || '|' || t.created_at::text"}
	before := fingerprint(t, s.PSQL, keep)

	cmd, cancel := startUpgradeUntil(t, s, "2.1.0", "postgresql-17/backup", "--profile", prof,
		"--postgres-image", testenv.PostgresImageMajor(17), "--restore-proof", "never")
	defer cancel()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if v, _ := s.APIVersion(); v != "" {
		t.Logf("the api answers %q after the kill", v)
	}

	out, err := s.Run("resume", "--retry", "--yes", "--json")
	if err != nil {
		t.Fatalf("resume --retry: %v\n%s", err, out)
	}
	if res := lastResult(t, out); res.Outcome != "success" || res.Reached != "2.1.0" {
		t.Fatalf("result %+v\n%s", res, out)
	}
	if v := serverVersionNum(t, s); !strings.HasPrefix(v, "17") {
		t.Fatalf("after the resume the server is %s, want 17", v)
	}
	if got := dbMount(t, s); got != "bind "+oldDir+"-pg17" {
		t.Fatalf("the db runs on %q", got)
	}
	if after := fingerprint(t, s.PSQL, keep); !maps.Equal(after, before) {
		t.Fatalf("rows changed across the killed and resumed hop:\nbefore %v\nafter  %v", before, after)
	}
	if b, err := os.ReadFile(filepath.Join(oldDir, "PG_VERSION")); err != nil || strings.TrimSpace(string(b)) != "15" {
		t.Fatalf("the old directory's PG_VERSION: %q %v", b, err)
	}
}
