package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// lastResult finds the final {"result": ...} line of --json output.
func lastResult(t *testing.T, out string) steps.Result {
	t.Helper()
	var res steps.Result
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, `{"result"`) {
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("bad result line %q: %v", line, err)
			}
		}
	}
	if res.Outcome == "" {
		t.Fatalf("no result line in output:\n%s", out)
	}
	return res
}

// TestUpgradeThroughRequiredStop: 1.0.0 → 2.0.0 with --yes goes through the
// 1.1.0 stop, merges .env (NOTES_SECRET → APP_SECRET, new keys), ends healthy
// at 2.0.0's schema head, and loses no acknowledged row.
func TestUpgradeThroughRequiredStop(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	secret := s.Env("NOTES_SECRET")
	s.SetEnv("LOG_LEVEL", "debug") // an admin's own value: must survive the merge
	acked := followLogs(t, s.Container("worker"))

	out, err := s.Run("upgrade", "--to", "2.0.0", "--yes", "--json")
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	res := lastResult(t, out)
	if res.Outcome != steps.OutcomeSuccess || res.Reached != "2.0.0" || res.Backup == "" {
		t.Fatalf("result %+v", res)
	}
	for _, want := range []string{`"step":"1.1.0/migrate"`, `"step":"2.0.0/migrate"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s (hop through the required stop)", want)
		}
	}
	// The worker kept committing while each hop's backup ran, and each
	// migration was rehearsed on a copy: each hop's restore point is still
	// a base backup sealed at its stop, so it lacks nothing and no late
	// writes are reported (issue #15).
	if m := regexp.MustCompile(`restore point \S+ sealed at`).FindAllString(out, -1); len(m) != 2 || strings.Contains(out, "write transaction(s) were committed") {
		t.Errorf("restore points sealed %d times (want once per hop), late writes reported: %v", len(m), strings.Contains(out, "write transaction(s) were committed"))
	}
	if n := strings.Count(out, "passed its rehearsal"); n != 2 {
		t.Errorf("%d hops rehearsed, want 2", n)
	}
	if strings.Contains(out, secret) || strings.Contains(out, s.Env("DB_PASSWORD")) {
		t.Error("a secret leaked into the JSON events")
	}
	if v, err := s.APIVersion(); err != nil || v != "2.0.0" {
		t.Fatalf("api version %q %v", v, err)
	}
	if head, _ := s.PSQL("SELECT version_num FROM alembic_version"); head != demo.Rev200 {
		t.Fatalf("schema head %s, want %s", head, demo.Rev200)
	}
	if got := s.Env("APP_SECRET"); got != secret {
		t.Errorf("APP_SECRET = %q, want the admin's NOTES_SECRET value", got)
	}
	if s.Env("NOTES_SECRET") != "" {
		t.Error("NOTES_SECRET is still an active key after the rename")
	}
	if s.Env("PAGE_SIZE") != "50" || s.Env("LOG_LEVEL") != "debug" || s.Env("APP_VERSION") != "2.0.0" {
		t.Errorf(".env after merge: PAGE_SIZE=%q LOG_LEVEL=%q APP_VERSION=%q", s.Env("PAGE_SIZE"), s.Env("LOG_LEVEL"), s.Env("APP_VERSION"))
	}
	// Rows the 1.0.0 worker acknowledged before the stop, and those of the
	// worker running now, are all there.
	assertIDsPresent(t, s, committedRe.FindAllStringSubmatch(acked(), -1))
	assertAckedPresent(t, s)
}

// followLogs follows a container's log until it stops; the returned func
// waits for that and returns the log.
func followLogs(t *testing.T, container string) func() string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, "docker", "logs", "-f", container)
	var buf strings.Builder
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	return func() string {
		_ = cmd.Wait()
		cancel()
		return buf.String()
	}
}

func assertIDsPresent(t *testing.T, s *testenv.Stack, ids [][]string) {
	t.Helper()
	if len(ids) == 0 {
		t.Fatal("the worker acknowledged nothing")
	}
	rows, err := s.PSQL("SELECT id FROM notes")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range strings.Fields(rows) {
		have[f] = true
	}
	for _, m := range ids {
		if !have[m[1]] {
			t.Fatalf("acknowledged row %s is missing", m[1])
		}
	}
}

func assertAckedPresent(t *testing.T, s *testenv.Stack) {
	t.Helper()
	logs, err := s.Compose("logs", "--no-color", "worker")
	if err != nil {
		t.Fatal(err)
	}
	assertIDsPresent(t, s, committedRe.FindAllStringSubmatch(logs, -1))
}

func tableSums(t *testing.T, s *testenv.Stack) string {
	t.Helper()
	q := `SELECT string_agg(tbl || ':' || n || ':' || h, ' ' ORDER BY tbl) FROM (
	  SELECT c.relname AS tbl,
	    (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', c.relname), false, true, '')))[1]::text AS n,
	    (xpath('/row/h/text()', query_to_xml(format('SELECT md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) AS h FROM %I t', c.relname), false, true, '')))[1]::text AS h
	  FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
	  WHERE c.relkind = 'r' AND ns.nspname = 'public') x`
	out, err := s.PSQL(q)
	if err != nil {
		t.Fatalf("checksums: %v: %s", err, out)
	}
	return out
}

// quietWorker makes the worker write once an hour so the database holds
// still and per-table checksums can be compared across a rollback.
func quietWorker(t *testing.T, s *testenv.Stack) {
	t.Helper()
	s.SetEnv("WORKER_INTERVAL_MS", "3600000")
	s.SetEnv("SCHEDULER_INTERVAL_MS", "3600000") // 2.0.0 and later: the scheduler writes too
	writers := []string{"worker"}
	if services, err := s.Compose("config", "--services"); err == nil && strings.Contains(services, "scheduler") {
		writers = append(writers, "scheduler")
	}
	if out, err := s.Compose(append([]string{"up", "-d", "--wait"}, writers...)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestFailingMigrationRollsBack: 2.0.0 → 2.1.0 fails halfway on real data;
// upshift restores the backup by itself and exits with the rolled-back code;
// the database is identical to before.
func TestFailingMigrationRollsBack(t *testing.T) {
	s := testenv.StartDemo(t, "2.0.0")
	// The seeded 1.x history holds duplicate notes.
	quietWorker(t, s)
	before := tableSums(t, s)

	// Without the rehearsal, which would stop it before the downtime
	// (rehearse_test.go): this is the rollback's test.
	out, err := s.Run("upgrade", "--to", "2.1.0", "--yes", "--json", "--no-rehearsal")
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit code %d, want 3 (rolled back)\n%s", code, out)
	}
	res := lastResult(t, out)
	if res.Outcome != steps.OutcomeRolledBack || res.Reached != "2.0.0" || res.FailedStep != "2.1.0/migrate" {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(out, "could not create unique index") {
		t.Error("the migration's own error is not in the events")
	}
	if v, err := s.APIVersion(); err != nil || v != "2.0.0" {
		t.Fatalf("after rollback api version %q %v", v, err)
	}
	if after := tableSums(t, s); after != before {
		t.Fatalf("database differs after rollback:\nbefore %s\nafter  %s", before, after)
	}
	if s.Env("APP_VERSION") != "2.0.0" {
		t.Errorf(".env APP_VERSION = %s after rollback", s.Env("APP_VERSION"))
	}
	hist, err := s.Run("history", "--json")
	if err != nil || !strings.Contains(hist, `"outcome": "rolled_back"`) {
		t.Errorf("history: %v\n%s", err, hist)
	}
}

// startUpgrade starts `upshift upgrade` in the background and returns once
// the migration step started.
func startUpgrade(t *testing.T, s *testenv.Stack, to string, extra ...string) (*exec.Cmd, context.CancelFunc) {
	t.Helper()
	return startUpgradeUntil(t, s, to, to+"/migrate", extra...)
}

// startUpgradeUntil starts `upgrade --to to --yes --json extra…` and
// returns once step has started (its output drained from then on).
func startUpgradeUntil(t *testing.T, s *testenv.Stack, to, step string, extra ...string) (*exec.Cmd, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, s.Bin, append([]string{"upgrade", "--to", to, "--yes", "--json"}, extra...)...)
	cmd.Dir = s.Dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"event":"step_started"`) && strings.Contains(sc.Text(), `"step":"`+step+`"`) {
			go func() {
				for sc.Scan() {
				}
			}()
			return cmd, cancel
		}
	}
	cancel()
	t.Fatalf("upgrade ended before its step %s started", step)
	return nil, nil
}

// TestKillDuringMigrationThenResume: kill -9 of upshift in the middle of a
// (slow) migration, then `resume --yes` rolls back to a consistent 1.0.0 with
// nothing lost (the backup was taken after the writers stopped).
func TestKillDuringMigrationThenResume(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	s.SetEnv("DEMO_MIGRATION_DELAY", "4s")
	acked := followLogs(t, s.Container("worker"))
	cmd, cancel := startUpgrade(t, s, "1.1.0", "--backup-after-stop")
	defer cancel()

	// While it runs, a second upgrade must refuse.
	out, err := s.Run("upgrade", "--to", "1.1.0", "--yes")
	if err == nil || !strings.Contains(out, "another upshift is running") {
		t.Errorf("second concurrent upgrade: err=%v\n%s", err, out)
	}

	time.Sleep(time.Second)
	_ = cmd.Process.Kill() // SIGKILL
	_ = cmd.Wait()

	out, err = s.Run("resume", "--yes", "--json")
	if code := exitCode(err); code != 3 {
		t.Fatalf("resume (rollback): exit %d, want 3 (rolled back): %v\n%s", code, err, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeRolledBack || res.To != "1.0.0" {
		t.Fatalf("resume result %+v", res)
	}
	// history tells the truth: the upgrade was rolled back.
	hist, err := s.Run("history", "--json")
	if err != nil || !strings.Contains(hist, `"outcome": "rolled_back"`) {
		t.Fatalf("history after a resumed rollback: %v\n%s", err, hist)
	}
	if v, err := s.APIVersion(); err != nil || v != "1.0.0" {
		t.Fatalf("after resume (rollback) api version %q %v", v, err)
	}
	if head, _ := s.PSQL("SELECT version_num FROM alembic_version"); head != demo.Rev100 {
		t.Fatalf("after rollback the schema is at %s, want 1.0.0's %s", head, demo.Rev100)
	}
	assertIDsPresent(t, s, committedRe.FindAllStringSubmatch(acked(), -1))
}

// TestResumeRetry: kill -9 mid-migration, then `resume --retry --yes`
// finishes the upgrade.
func TestResumeRetry(t *testing.T) {
	s := testenv.StartDemo(t, "1.0.0")
	s.SetEnv("DEMO_MIGRATION_DELAY", "4s")
	cmd, cancel := startUpgrade(t, s, "1.1.0")
	defer cancel()
	time.Sleep(time.Second)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	out, err := s.Run("resume", "--retry", "--yes", "--json")
	if err != nil {
		t.Fatalf("resume --retry: %v\n%s", err, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || res.Reached != "1.1.0" {
		t.Fatalf("resume result %+v", res)
	}
	if v, err := s.APIVersion(); err != nil || v != "1.1.0" {
		t.Fatalf("api version %q %v", v, err)
	}
	if head, _ := s.PSQL("SELECT version_num FROM alembic_version"); head != demo.Rev110 {
		t.Fatalf("schema at %s, want %s", head, demo.Rev110)
	}
	assertAckedPresent(t, s)
}
