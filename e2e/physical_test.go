package e2e

import (
	"bufio"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// seedDuplicates makes 2.1.0's unique index fail whatever the worker writes.
func seedDuplicates(t *testing.T, s *testenv.Stack) {
	t.Helper()
	if _, err := s.PSQL("INSERT INTO notes (body, word_count) VALUES ('h15 duplicate', 2), ('h15 duplicate', 2)"); err != nil {
		t.Fatal(err)
	}
}

// stagedLeft lists upshift's directories left in the db container's data
// directory (staged copies of base backups, a swap's old directory).
func stagedLeft(t *testing.T, st *testenv.Stack) string {
	t.Helper()
	dirs, err := st.UpshiftDirs()
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

func slotCount(t *testing.T, s *testenv.Stack) string {
	t.Helper()
	n, err := s.PSQL("SELECT count(*) FROM pg_replication_slots")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPhysicalRollbackLosesNothing: with the backup taken while the worker
// commits every 100 ms (the default order), a failing 2.0.0 → 2.1.0 rolls
// back to a database holding every id the worker logged as committed
// before the stop, with no "write transactions … not in it" notice, and no
// replication slot left.
func TestPhysicalRollbackLosesNothing(t *testing.T) {
	s := testenv.StartDemo(t, "2.0.0")
	seedDuplicates(t, s)
	acked := followLogs(t, s.Container("worker"))
	out, err := s.Run("upgrade", "--to", "2.1.0", "--yes", "--json", "--no-rehearsal")
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit code %d, want 3 (rolled back)\n%s", code, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeRolledBack || res.Reached != "2.0.0" {
		t.Fatalf("result %+v\n%s", res, out)
	}
	for _, want := range []string{"restore point: a base backup", "base backup unpacked next to the data directory", "sealed at", "swapping in the base backup unpacked before the stop", "replaying the WAL"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the events:\n%s", want, out)
		}
	}
	if strings.Contains(out, "write transaction") {
		t.Errorf("a late-writes notice although nothing is lost:\n%s", out)
	}
	ids := committedRe.FindAllStringSubmatch(acked(), -1)
	if len(ids) < 5 {
		t.Fatalf("the worker logged only %d commits", len(ids))
	}
	assertIDsPresent(t, s, ids)
	if n := slotCount(t, s); n != "0" {
		t.Errorf("%s replication slots after the run", n)
	}
	if v, err := s.APIVersion(); err != nil || v != "2.0.0" {
		t.Fatalf("after rollback api version %q %v", v, err)
	}
	if l := stagedLeft(t, s); l != "" {
		t.Errorf("left in the data directory after the rollback: %s", l)
	}
}

// TestPhysicalKillDuringMigrationThenRollback: the default order — backup
// while the app runs, the migration rehearsed on a copy first — then kill -9
// of upshift during the real migration, and `resume --rollback` restores
// every committed id (the restore point is a base backup sealed at the
// stop even though the hop was rehearsed).
func TestPhysicalKillDuringMigrationThenRollback(t *testing.T) {
	s := testenv.StartDemo(t, "2.0.0")
	// The 2.1.0 note's action: the migration passes (its rehearsal too).
	if _, err := s.PSQL(`DELETE FROM notes a USING notes b WHERE a.id > b.id AND a.body = b.body`); err != nil {
		t.Fatal(err)
	}
	s.SetEnv("DEMO_MIGRATION_DELAY", "4s")
	acked := followLogs(t, s.Container("worker"))
	cmd, cancel := startUpgrade(t, s, "2.1.0")
	defer cancel()
	time.Sleep(time.Second)
	_ = cmd.Process.Kill() // SIGKILL
	_ = cmd.Wait()
	out, err := s.Run("resume", "--rollback", "--yes", "--json")
	if code := exitCode(err); code != 3 {
		t.Fatalf("resume --rollback: exit %d, want 3: %v\n%s", code, err, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeRolledBack || res.To != "2.0.0" {
		t.Fatalf("resume result %+v", res)
	}
	if !strings.Contains(out, "replaying the WAL") || strings.Contains(out, "write transaction") {
		t.Errorf("events of the resumed rollback:\n%s", out)
	}
	assertIDsPresent(t, s, committedRe.FindAllStringSubmatch(acked(), -1))
	if n := slotCount(t, s); n != "0" {
		t.Errorf("%s replication slots after the rollback", n)
	}
	if l := stagedLeft(t, s); l != "" {
		t.Errorf("left in the data directory after the rollback: %s", l)
	}
}

// walBytes is the WAL PostgreSQL keeps after a checkpoint: the segments up
// to the current one (what a forgotten slot pins). Segments ahead of it are
// recycled ones kept for reuse up to min_wal_size, whatever the slots.
func walBytes(t *testing.T, s *testenv.Stack) int {
	t.Helper()
	if _, err := s.PSQL("CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	out, err := s.PSQL("SELECT coalesce(sum(size), 0) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$' AND name <= pg_walfile_name(pg_current_wal_lsn())")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(out)
	return n
}

// TestPhysicalSlotOfKilledRun: upshift killed -9 between the slot's
// creation and its drop (after the backup, before the stop) leaves a slot;
// the next `plan`, or `resume`, drops it and says so, and the WAL it pinned
// is freed.
func TestPhysicalSlotOfKilledRun(t *testing.T) {
	for _, next := range [][]string{{"plan", "--to", "2.1.0"}, {"resume", "--rollback", "--yes"}} {
		t.Run(next[0], func(t *testing.T) { slotOfKilledRun(t, next) })
	}
}

func slotOfKilledRun(t *testing.T, next []string) {
	s := testenv.StartDemo(t, "2.0.0")
	before := walBytes(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, "upgrade", "--to", "2.1.0", "--yes", "--json", "--no-rehearsal")
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
	started := false
	for !started && sc.Scan() {
		started = strings.Contains(sc.Text(), `"event":"step_started"`) && strings.Contains(sc.Text(), "2.1.0/images")
	}
	if !started {
		t.Fatal("upgrade ended before its images step")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if n := slotCount(t, s); n != "1" {
		t.Fatalf("%s replication slots after the kill, want the run's one", n)
	}
	if l := stagedLeft(t, s); !strings.HasPrefix(l, ".upshift-staged-") {
		t.Fatalf("no staged copy after the kill: %q", l)
	}
	// What the slot pins: WAL written after it is kept.
	if _, err := s.PSQL("SELECT pg_switch_wal(); INSERT INTO notes (body, word_count) SELECT repeat(md5(g::text), 20), 1 FROM generate_series(1, 20000) g; SELECT pg_switch_wal()"); err != nil {
		t.Fatal(err)
	}
	pinned := walBytes(t, s)
	out, err := s.Run(next...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", next[0], err, out)
	}
	if !strings.Contains(out, "dropped the replication slot") {
		t.Errorf("%s does not say it dropped the slot:\n%s", next[0], out)
	}
	if n := slotCount(t, s); n != "0" {
		t.Fatalf("%s replication slots after %s", n, next[0])
	}
	if l := stagedLeft(t, s); l != "" {
		t.Errorf("left in the data directory after %s: %s", next[0], l)
	}
	after := walBytes(t, s)
	t.Logf("pg_wal: %d bytes before the run, %d with the slot held, %d after %s", before, pinned, after, next[0])
	if pinned <= before {
		t.Errorf("the slot pinned no WAL (%d bytes, %d before): the test proves nothing", pinned, before)
	}
	if d := after - before; d*20 > before || -d*20 > before {
		t.Errorf("pg_wal is %d bytes after %s, %d before the run (more than ±5%%)", after, next[0], before)
	}
}
