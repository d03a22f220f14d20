package e2e

import (
	"encoding/json"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// runEvents are the events of a --json run, in order.
func runEvents(t *testing.T, out string) []steps.Event {
	t.Helper()
	var evs []steps.Event
	for _, raw := range strings.Split(out, "\n") {
		if !strings.HasPrefix(raw, `{"event"`) {
			continue
		}
		var ev steps.Event
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			t.Fatalf("bad event %q: %v", raw, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// hopOrder is the hops of a run's plan event, and the hops whose steps
// really started, each once, in order.
func hopOrder(evs []steps.Event) (planned, ran []string) {
	add := func(list []string, hop string) []string {
		if hop == "" || (len(list) > 0 && list[len(list)-1] == hop) {
			return list
		}
		return append(list, hop)
	}
	for _, ev := range evs {
		if ev.Kind == steps.EventPlan {
			for _, s := range ev.Plan {
				planned = add(planned, s.Hop)
			}
		}
		if hop, _, ok := strings.Cut(ev.Step, "/"); ok && ev.Kind == steps.EventStepStarted {
			ran = add(ran, hop)
		}
	}
	return planned, ran
}

// TestDemoFromOneZeroThroughPostgresHop is issue #14's done-when on the
// demo's real rules, rehearsal on (the default): 1.0.0 on PostgreSQL 15,
// `upgrade --to 3.0.0 --yes --postgres-image upshift-test/postgres:17`.
// The path is 1.1.0 (required stop), PostgreSQL 15 → 17 (3.0.0 needs 16),
// 3.0.0 (which carries the 2.0.0 and 2.1.0 migrations: neither is a
// required stop). Every migration is rehearsed before the first downtime.
// The 1.x history holds duplicate notes, so the first run stops in the
// 3.0.0 rehearsal (its 2.1.0 step's unique index) with nothing stopped or
// changed. After the release note's DELETE (the worker writing all along)
// the same command does the whole path: server 17, healthy, every note
// written before the runs unchanged, every acknowledged heartbeat there,
// the old volume kept.
func TestDemoFromOneZeroThroughPostgresHop(t *testing.T) {
	testenv.RequireDocker(t)
	img := testenv.PostgresImageMajor(17)
	testenv.RequireImage(t, img)
	ownDemoImages(t) // t.Setenv: this test cannot run in parallel
	begin := time.Now()
	s := testenv.StartDemoAs(t, "h14e-pg-1to3", "1.0.0")
	oldVol := dbVolume(t, s)
	dropVolumesAtEnd(t, s, oldVol)
	if v := serverVersionNum(t, s); !strings.HasPrefix(v, "15") {
		t.Fatalf("the demo runs PostgreSQL %s, want 15", v)
	}
	// The worker keeps writing (one heartbeat every 100 ms) through the
	// first run: its acknowledged ids are checked after it.
	workerLog := followLogs(t, s.Container("worker"))
	if n, err := s.PSQL(`SELECT count(*) FROM (SELECT body FROM notes GROUP BY body HAVING count(*) > 1) d`); err != nil || n == "0" {
		t.Fatalf("the demo's 1.x history should hold duplicate notes: %q %v", n, err)
	}
	maxID, err := s.PSQL(`SELECT max(id) FROM notes`)
	if err != nil {
		t.Fatal(maxID)
	}
	// 1.1.0 adds word_count and 2.0.0 renames author: compare what every
	// version has, for the notes written before the runs.
	notes := func(psql func(string) (string, error)) map[int]string {
		t.Helper()
		out, err := psql(`SELECT id || '|' || md5(body || '|' || created_at::text) FROM notes WHERE id <= ` + maxID + ` ORDER BY id`)
		if err != nil {
			t.Fatalf("notes: %v %s", err, out)
		}
		m := map[int]string{}
		for _, line := range strings.Fields(out) {
			id, sum, _ := strings.Cut(line, "|")
			n, err := strconv.Atoi(id)
			if err != nil {
				t.Fatalf("note id %q: %v", id, err)
			}
			m[n] = sum
		}
		return m
	}
	before := notes(s.PSQL)

	// `upshift rehearse` sees the whole path before any downtime: the
	// server's hop has no migration, the chain runs on a copy in 17.
	started := startedAt(t, s, "api", "worker", "db")
	out, err := s.Run("rehearse", "--to", "3.0.0", "--json", "--postgres-image", img)
	if code := exitCode(err); code != 1 {
		t.Fatalf("rehearse: exit %d, want 1 (3.0.0 fails on the duplicates)\n%s", code, out)
	}
	var rehearsed []string
	for _, ev := range runEvents(t, out) {
		if ev.Kind == steps.EventStepStarted {
			rehearsed = append(rehearsed, ev.Step)
		}
	}
	if got, want := strings.Join(rehearsed, " "), "1.1.0/preflight 1.1.0/backup 1.1.0/images 1.1.0/rehearse 3.0.0/images 3.0.0/rehearse"; got != want {
		t.Fatalf("rehearse ran %q, want %q", got, want)
	}
	if res := lastResult(t, out); res.FailedStep != "3.0.0/rehearse" || !res.Unchanged || !strings.Contains(res.Message, `could not create unique index "notes_body_key"`) {
		t.Fatalf("rehearse result %+v", res)
	}
	// 1.1.0 runs on 15 for real: rehearsed there; the copy moves to 17 for 3.0.0.
	if !strings.Contains(out, "before 3.0.0: the copy is made in PostgreSQL 17") || strings.Contains(out, "rehearsed on PostgreSQL 17") {
		t.Errorf("rehearse does not move its copy into PostgreSQL 17 before 3.0.0:\n%s", out)
	}
	if v := serverVersionNum(t, s); !strings.HasPrefix(v, "15") || startedAt(t, s, "api", "worker", "db") != started {
		t.Fatalf("rehearse changed the stack: server %s", v)
	}

	// The upgrade rehearses every migration of the path, chained on one
	// copy in PostgreSQL 17, before its first downtime: it stops in the
	// 3.0.0 rehearsal with nothing stopped or changed.
	begin1 := time.Now()
	out, err = s.Run("upgrade", "--to", "3.0.0", "--yes", "--json", "--postgres-image", img)
	took1 := time.Since(begin1)
	if code := exitCode(err); code != 1 {
		t.Fatalf("first upgrade: exit %d, want 1 (stopped in the 3.0.0 rehearsal)\n%s", code, out)
	}
	evs := runEvents(t, out)
	planned, _ := hopOrder(evs)
	// The plan lists 1.1.0's and 3.0.0's rehearsals first.
	if got, want := strings.Join(planned, " "), "1.1.0 3.0.0 1.1.0 postgresql-17 3.0.0"; got != want {
		t.Fatalf("planned hops %q, want %q", got, want)
	}
	var ran []string
	for _, ev := range evs {
		if ev.Kind == steps.EventStepStarted {
			ran = append(ran, ev.Step)
		}
	}
	if got, want := strings.Join(ran, " "), "1.1.0/preflight 1.1.0/backup 1.1.0/images 1.1.0/rehearse 3.0.0/images 3.0.0/rehearse"; got != want {
		t.Fatalf("first upgrade ran %q, want %q (every rehearsal before the first downtime)", got, want)
	}
	res := lastResult(t, out)
	if res.Outcome != steps.OutcomeFailed || res.FailedStep != "3.0.0/rehearse" || res.Reached != "1.0.0" || !res.Unchanged {
		t.Fatalf("first upgrade result %+v", res)
	}
	for _, want := range []string{"nothing was changed", `could not create unique index "notes_body_key"`, "(2.1.0) failed"} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("first upgrade: the message lacks %q: %s", want, res.Message)
		}
	}
	if !strings.Contains(res.Next, "DELETE FROM notes a USING notes b") {
		t.Errorf("what to do should give 2.1.0's DELETE: %q", res.Next)
	}
	if v := serverVersionNum(t, s); !strings.HasPrefix(v, "15") || startedAt(t, s, "api", "worker", "db") != started {
		t.Fatalf("the failed rehearsal changed the stack: server %s", v)
	}
	if v, err := s.APIVersion(); err != nil || !strings.Contains(v, "1.0.0") {
		t.Fatalf("after the first run api /version: %q %v", v, err)
	}
	if o := orphanScratch(t); len(o) > 0 {
		t.Fatalf("scratch containers left behind: %v", o)
	}
	if got := notes(s.PSQL); !maps.Equal(got, before) {
		t.Fatalf("notes written before the run changed (%d rows before, %d after)", len(before), len(got))
	}

	// The release note's DELETE, with the worker writing: its heartbeats
	// are unique, so the duplicates do not come back.
	del, err := s.PSQL(`DELETE FROM notes a USING notes b WHERE a.id > b.id AND a.body = b.body RETURNING a.id`)
	if err != nil {
		t.Fatalf("the release note's DELETE: %v %s", err, del)
	}
	for _, id := range strings.Fields(del) {
		n, err := strconv.Atoi(id)
		if err != nil {
			t.Fatalf("deleted id %q: %v", id, err)
		}
		delete(before, n)
	}
	kept := notes(s.PSQL)
	if !maps.Equal(kept, before) {
		t.Fatalf("the DELETE removed other notes than the duplicates")
	}

	lastID, err := s.PSQL(`SELECT max(id) FROM notes`)
	if err != nil {
		t.Fatal(lastID)
	}

	begin2 := time.Now()
	out, err = s.Run("upgrade", "--to", "3.0.0", "--yes", "--json", "--postgres-image", img)
	took2 := time.Since(begin2)
	if err != nil {
		t.Fatalf("second upgrade: %v\n%s", err, out)
	}
	res = lastResult(t, out)
	if res.Outcome != steps.OutcomeSuccess || res.From != "1.0.0" || res.Reached != "3.0.0" {
		t.Fatalf("second upgrade result %+v", res)
	}
	evs = runEvents(t, out)
	planned, hops := hopOrder(evs)
	if got := strings.Join(planned, " ") + " / " + strings.Join(hops, " "); got != "1.1.0 3.0.0 1.1.0 postgresql-17 3.0.0 / 1.1.0 3.0.0 1.1.0 postgresql-17 3.0.0" {
		t.Fatalf("second upgrade: planned / run hops %q (the rehearsals of 1.1.0 and 3.0.0 first, then 1.1.0, the server, 3.0.0)", got)
	}
	for _, ev := range evs {
		if ev.Kind == steps.EventStepFinished && strings.HasPrefix(ev.Step, "postgresql-17/") && ev.Status != "ok" {
			t.Errorf("the PostgreSQL hop's %s finished %s", ev.Step, ev.Status)
		}
	}
	// The copy compared every table with the old server.
	if l := stepLogLines(t, out, "postgresql-17/copy"); !hasLine(l, "equal") {
		t.Errorf("the copy step says nothing about equal tables:\n%s", strings.Join(l, "\n"))
	}
	if !strings.Contains(out, "passed its rehearsal") {
		t.Errorf("the second upgrade did not rehearse 3.0.0:\n%s", out)
	}
	if v := serverVersionNum(t, s); !strings.HasPrefix(v, "17") {
		t.Fatalf("server %s, want 17", v)
	}
	if got := dbVolume(t, s); got != oldVol+"-pg17" {
		t.Fatalf("the db runs on volume %q, want %q", got, oldVol+"-pg17")
	}
	if v, err := s.APIVersion(); err != nil || !strings.Contains(v, "3.0.0") {
		t.Fatalf("api /version: %q %v", v, err)
	}
	if got := notes(s.PSQL); !maps.Equal(got, before) {
		t.Fatalf("notes changed by the 3.0.0 hop (%d rows before, %d after)", len(before), len(got))
	}
	// The worker is back, at 3.0.0, writing.
	waitFor(t, "the 3.0.0 worker to write", func() bool {
		n, err := s.PSQL(`SELECT count(*) FROM notes WHERE id > ` + lastID + ` AND body LIKE 'worker heartbeat %'`)
		return err == nil && n != "0"
	})
	// The old volume still holds the old server's data: every note written
	// before the runs, the duplicates too (it is the 1.1.0 data of the stop).
	old := onVolume(t, s, testenv.PostgresImage(), oldVol)
	if got := notes(old); len(got) < len(before) {
		t.Fatalf("the old volume has %d of the %d notes", len(got), len(before))
	} else {
		for id, sum := range before {
			if got[id] != sum {
				t.Fatalf("the old volume's note %d differs", id)
			}
		}
	}
	if o := orphanScratch(t); len(o) > 0 {
		t.Fatalf("scratch containers left behind: %v", o)
	}
	// Every heartbeat the 1.0.0, 1.1.0 and 3.0.0 workers acknowledged is
	// there (the worker wrote through both runs).
	logs := workerLog()
	now, err := s.Compose("logs", "--no-color", "worker")
	if err != nil {
		t.Fatal(err)
	}
	assertIDsPresent(t, s, committedRe.FindAllStringSubmatch(logs+now, -1))
	t.Logf("first run (rehearsals of 1.1.0 and 3.0.0, the second failed) %s; second run (1.1.0, PostgreSQL 15 → 17, 3.0.0) %s; whole test %s",
		took1.Round(time.Second), took2.Round(time.Second), time.Since(begin).Round(time.Second))
}
