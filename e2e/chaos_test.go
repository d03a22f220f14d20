package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// TestChaos kills upshift at a random moment of a real 1.0.0 → 2.0.0
// upgrade (through the 1.1.0 stop) with a random signal, resumes it in a
// random mode, and checks from outside upshift that the end state is
// consistent and truthful and that no write the worker acknowledged was
// lost without being reported. Every trial prints its seed; replay one
// with UPSHIFT_CHAOS_SEED=N UPSHIFT_CHAOS_TRIALS=1. CI runs a few trials;
// UPSHIFT_CHAOS_TRIALS=60 is a campaign; UPSHIFT_CHAOS_FAILING=1 runs only
// the failing upgrade (faults during the rollback), UPSHIFT_CHAOS_PGHOP=1
// only the path through a PostgreSQL major hop (2.0.0 → 3.0.0 through 2.1.0
// and PostgreSQL 15 → 17: faults during the dump, the copy into the new
// server, the switch of the compose file, and 3.0.0).
func TestChaos(t *testing.T) {
	trials := 2
	if n, err := strconv.Atoi(os.Getenv("UPSHIFT_CHAOS_TRIALS")); err == nil && n > 0 {
		trials = n
	}
	base := time.Now().UnixNano() % 1_000_000
	if n, err := strconv.ParseInt(os.Getenv("UPSHIFT_CHAOS_SEED"), 10, 64); err == nil {
		base = n
	}
	for i := range trials {
		seed := base + int64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { chaosTrial(t, seed) })
	}
}

type chaosFault struct {
	signal syscall.Signal
	after  time.Duration
	resume []string
	// failing: the run is 2.0.0 → 2.1.0, whose migration fails on the
	// demo's data, so the fault often lands in the automatic rollback.
	failing bool
	// pgHop: the run is 2.0.0 → 3.0.0, through 2.1.0 (the duplicate notes
	// deleted first) and PostgreSQL 15 → 17; onDir: with the database in
	// a directory of the host named by a .env variable (Mattermost's
	// layout) instead of a named volume.
	pgHop, onDir bool
}

func (f chaosFault) String() string {
	run := "1.0.0 → 2.0.0"
	switch {
	case f.pgHop && f.onDir:
		run = "2.0.0 → 3.0.0 (through PostgreSQL 15 → 17, the data in a directory of the host)"
	case f.pgHop:
		run = "2.0.0 → 3.0.0 (through PostgreSQL 15 → 17)"
	case f.failing:
		run = "2.0.0 → 2.1.0 (fails, rolls back)"
	}
	return fmt.Sprintf("%s: %s after %s, then resume %s", run, f.signal, f.after.Round(time.Millisecond), strings.Join(f.resume, " "))
}

func chaosTrial(t *testing.T, seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	signals := []syscall.Signal{syscall.SIGKILL, syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP}
	modes := [][]string{{"--yes"}, {"--retry", "--yes"}, {"--continue", "--yes"}, {"--rollback", "--yes"}}
	fault := chaosFault{
		signal:  signals[rng.IntN(len(signals))],
		after:   time.Duration(100+rng.IntN(14_400)) * time.Millisecond, // from before the run is journaled
		resume:  modes[rng.IntN(len(modes))],
		failing: rng.IntN(3) == 0 || os.Getenv("UPSHIFT_CHAOS_FAILING") == "1",
	}
	if os.Getenv("UPSHIFT_CHAOS_PGHOP") == "1" {
		fault.failing, fault.pgHop = false, true
		fault.onDir = rng.IntN(2) == 0
	}
	switch {
	case fault.pgHop:
		// Two app hops and a PostgreSQL hop, each with its backup and
		// rehearsal: about 40 s on the demo's small database.
		fault.after = time.Duration(500+rng.IntN(40_000)) * time.Millisecond
	case fault.failing:
		// That run fails in its migration within seconds and rolls back:
		// aim at the migration and the rollback.
		fault.after = time.Duration(500+rng.IntN(6_500)) * time.Millisecond
	}
	t.Logf("seed %d: %s", seed, fault)

	from, to := "1.0.0", "2.0.0"
	switch {
	case fault.pgHop:
		from, to = "2.0.0", "3.0.0"
		testenv.RequireImage(t, testenv.PostgresImageMajor(17))
	case fault.failing:
		from, to = "2.0.0", "2.1.0"
	}
	s := testenv.StartDemo(t, from)
	var oldVol, oldDir string
	if fault.pgHop {
		oldVol = dbVolume(t, s)
		dropVolumesAtEnd(t, s, oldVol)
		if fault.onDir {
			oldDir = onHostDir(t, s, oldVol)
		}
		if out, err := s.PSQL(`DELETE FROM notes a USING notes b WHERE a.id > b.id AND a.body = b.body`); err != nil {
			t.Fatalf("the 2.1.0 note's DELETE: %v %s", err, out)
		}
	}
	acked := followService(t, s.Project, "worker")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"upgrade", "--to", to, "--yes", "--json"}
	if fault.pgHop {
		args = append(args, "--postgres-image", testenv.PostgresImageMajor(17))
	}
	if fault.failing {
		// The rehearsal would stop it before the downtime: aim at the
		// migration and the rollback.
		args = append(args, "--no-rehearsal")
	}
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done: // finished before the fault
		t.Logf("the run ended before the fault: %v", err)
	case <-time.After(fault.after):
		target := cmd.Process.Pid
		if fault.signal == syscall.SIGHUP {
			target = -target // a hang-up reaches the whole process group
		}
		_ = syscall.Kill(target, fault.signal)
		t.Logf("the run after the fault: %v", <-done)
	}
	reports := out.String()
	for round := 0; round < 3; round++ {
		hist := history(t, s)
		if len(hist) == 0 || !hist[0].Interrupted && hist[0].Outcome != "failed" {
			break
		}
		args := append([]string{"resume"}, fault.resume...)
		if round > 0 {
			args = []string{"resume", "--rollback", "--yes"} // what the first resume refused
		}
		ro, _ := s.Run(append(args, "--json")...)
		reports += ro
		t.Logf("%s:\n%s", strings.Join(args, " "), tail(ro, 6))
		if strings.Contains(ro, "the release notes or the profile changed since") {
			// Nothing changed them here: the resume lost what the run knew.
			t.Errorf("%s refused a path that did not change:\n%s", strings.Join(args, " "), tail(ro, 6))
		}
	}
	checkChaosEnd(t, s, acked(), reports, from, to)
	if v, _ := s.APIVersion(); fault.failing && v == "2.1.0" {
		t.Errorf("2.1.0 cannot migrate on this data, yet it runs")
	}
	if fault.pgHop {
		checkChaosPostgres(t, s, oldVol, oldDir)
	}
}

// checkChaosPostgres: after a fault in a path through PostgreSQL 15 → 17,
// the server runs the major the .env names, on the volume (or directory,
// when oldDir is set) that goes with it (the old one for 15), 3.0.0 only
// on 17, and the old volume or directory is still there.
func checkChaosPostgres(t *testing.T, s *testenv.Stack, oldVol, oldDir string) {
	t.Helper()
	num := serverVersionNum(t, s)
	image := s.Env("POSTGRES_IMAGE")
	old, on := oldVol, dbVolume(t, s)
	if oldDir != "" {
		old, on = "bind "+oldDir, dbMount(t, s)
	}
	want15 := image == testenv.PostgresImageMajor(15)
	switch {
	case want15 && !strings.HasPrefix(num, "15"):
		t.Errorf(".env names %s, the server is %s", image, num)
	case !want15 && !strings.HasPrefix(num, "17"):
		t.Errorf(".env names %s, the server is %s", image, num)
	case strings.HasPrefix(num, "15") && on != old:
		t.Errorf("PostgreSQL 15 runs on %q, not on the old %q", on, old)
	case strings.HasPrefix(num, "17") && on != old+"-pg17":
		t.Errorf("PostgreSQL 17 runs on %q, not on %q", on, old+"-pg17")
	}
	if v, _ := s.APIVersion(); v == "3.0.0" && !strings.HasPrefix(num, "17") {
		t.Errorf("3.0.0 runs on PostgreSQL %s", num)
	}
	if oldDir != "" {
		if b, err := os.ReadFile(filepath.Join(oldDir, "PG_VERSION")); err != nil || strings.TrimSpace(string(b)) != "15" {
			t.Errorf("the old directory's PG_VERSION: %q %v", b, err)
		}
	} else if out, err := testenv.Docker("volume", "inspect", "--format", "{{.Name}}", oldVol); err != nil {
		t.Errorf("the old volume %s is gone: %v %s", oldVol, err, out)
	}
	t.Logf("end: PostgreSQL %s on %s", num, on)
}

// checkChaosEnd checks from outside upshift: the stack is healthy at a
// real version with that version's schema head and .env, history tells the
// truth, the next plan works, and every acknowledged write is there unless
// a loss was reported.
func checkChaosEnd(t *testing.T, s *testenv.Stack, workerLog, reports, from, target string) {
	t.Helper()
	var v string
	deadline := time.Now().Add(90 * time.Second)
	for {
		var err error
		if v, err = s.APIVersion(); err == nil || time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("the api does not answer after the fault and the resume: %v\n%s", err, tail(reports, 30))
			}
			break
		}
		time.Sleep(time.Second)
	}
	head, _ := s.PSQL("SELECT version_num FROM alembic_version")
	if want := demo.HeadOf[v]; head != want {
		t.Errorf("the api runs %s but the schema is at %s (want %s)", v, head, want)
	}
	if env := s.Env("APP_VERSION"); env != v {
		t.Errorf(".env says APP_VERSION=%s, the api runs %s", env, v)
	}
	hist := history(t, s)
	var h histRow
	if len(hist) > 0 {
		h = hist[0]
	}
	switch {
	case len(hist) == 0 && v != from:
		t.Errorf("no run in history, yet the api runs %s (was %s)", v, from)
	case len(hist) == 0:
		// Killed before the run was journaled: it had changed nothing.
		t.Logf("killed before the run began: still %s, nothing recorded", v)
	case h.Interrupted:
		t.Errorf("history still says interrupted after the resume: %+v", h)
	case h.Outcome == "success" && v != target:
		t.Errorf("history says success, but the api runs %s", v)
	case h.Outcome == "rolled_back" && v == target:
		t.Errorf("history says rolled back, but the api runs %s", target)
	}
	next := []string{"plan", "--to", "2.1.0"}
	if target == "3.0.0" {
		next = []string{"plan", "--to", target, "--postgres-image", testenv.PostgresImageMajor(17)}
	}
	if out, err := s.Run(next...); err != nil {
		t.Errorf("the next plan fails: %v\n%s", err, out)
	}
	rows, err := s.PSQL("SELECT id FROM notes")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range strings.Fields(rows) {
		have[f] = true
	}
	var missing []string
	for _, m := range committedRe.FindAllStringSubmatch(workerLog, -1) {
		if !have[m[1]] {
			missing = append(missing, m[1])
		}
	}
	reported := strings.Contains(reports, "write transaction(s)")
	switch {
	case len(missing) > 0 && !reported:
		t.Errorf("SILENT LOSS: %d acknowledged write(s) missing (%v…), none reported", len(missing), missing[:min(5, len(missing))])
	case len(missing) > 0:
		t.Logf("reported loss: %d write(s) committed while the backup ran", len(missing))
	}
	t.Logf("end: api %s, history %s", v, cmp.Or(h.Outcome, "empty"))
}

type histRow struct {
	Outcome     string `json:"outcome"`
	Interrupted bool   `json:"interrupted"`
	To          string `json:"to"`
}

func history(t *testing.T, s *testenv.Stack) []histRow {
	t.Helper()
	out, err := s.Run("history", "--json")
	if err != nil {
		t.Fatalf("history: %v\n%s", err, out)
	}
	var rows []histRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("history json: %v\n%s", err, out)
	}
	return rows
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// followService collects the logs of every container a compose service
// has had during the test (an upgrade recreates them, and a removed
// container's log is gone): the worker's acknowledgements.
func followService(t *testing.T, project, service string) func() string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	logs := map[string]*strings.Builder{}
	var wg sync.WaitGroup
	go func() {
		for ctx.Err() == nil {
			ids, _ := testenv.Docker("ps", "-aq", "--no-trunc", "--filter", "label=com.docker.compose.project="+project, "--filter", "label=com.docker.compose.service="+service)
			for _, id := range strings.Fields(ids) {
				mu.Lock()
				if _, ok := logs[id]; !ok {
					b := &strings.Builder{}
					logs[id] = b
					wg.Add(1)
					go func() {
						defer wg.Done()
						cmd := exec.CommandContext(ctx, "docker", "logs", "-f", id)
						w := &lockedWriter{mu: &mu, b: b}
						cmd.Stdout, cmd.Stderr = w, w
						_ = cmd.Run()
					}()
				}
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(cancel)
	return func() string {
		time.Sleep(time.Second) // the last lines
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		var all strings.Builder
		for id, b := range logs {
			// A container that still exists has its whole log, restarts
			// included (a follow ends at the first stop); a removed one
			// has only what was followed.
			if full, err := testenv.Docker("logs", id); err == nil && len(full) >= b.Len() {
				all.WriteString(full)
				continue
			}
			all.WriteString(b.String())
		}
		return all.String()
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
