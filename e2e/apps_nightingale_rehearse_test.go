package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// orphanScratchNetworks lists scratch networks whose owning process is gone.
func orphanScratchNetworks(t *testing.T) []string {
	t.Helper()
	o, err := testenv.Docker("network", "ls", "--filter", "label=io.upshift.scratch", "--format", `{{.Name}} {{.Label "io.upshift.scratch.pid"}}`)
	if err != nil {
		t.Fatalf("docker network ls: %v %s", err, o)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(o), "\n") {
		name, pidS, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		pid, _ := strconv.Atoi(pidS)
		if pid <= 0 || syscall.Kill(pid, 0) == syscall.ESRCH {
			out = append(out, name)
		}
	}
	return out
}

// TestNightingaleRehearsal: the Nightingale lookalike migrates at its
// entrypoint (gorm-style, errors only logged, serves anyway). Its v9.0.0
// fails on a unique index when a host is registered twice; with the
// rehearsal on (the default) that failure is found on a scratch copy
// before the downtime: exit 1, nothing restarted, no row changed, nothing
// of the rehearsal left. Once the duplicate is gone the rehearsal passes
// and the upgrade goes through.
func TestNightingaleRehearsal(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	// Its own image repository (the profile matches any registry in front
	// of flashcatcloud/nightingale): parallel tests and other worktrees
	// build flashcatcloud/nightingale:* from their own binaries.
	repo := testenv.UniqueName("h14e-n9e") + ".local/flashcatcloud/nightingale"
	buildShellLookalike(t, shellLookalike{
		personality: "nightingale", repo: repo, binAt: "/app/n9e", workdir: "/app", expose: 17000,
		cmd: []string{"/app/n9e"},
		files: func(string) map[string]string {
			return map[string]string{"/app/etc/config.toml": "[DB]\nDBType = \"sqlite\"\nDSN = \"n9e.db\"\n"}
		},
	})
	t.Cleanup(func() {
		versions, _ := demo.PersonalityVersions("nightingale")
		for _, v := range append(versions, "latest") {
			_, _ = testenv.Docker("rmi", "--force", repo+":"+v)
		}
	})

	port := freePort(t)
	compose := strings.Replace(n9eCompose, "image: flashcatcloud/nightingale:latest", "image: "+repo+":8.4.1", 1)
	s := newAppStack(t, "h14e-n9e-rh", map[string]string{
		"docker-compose.yaml":    compose,
		".env":                   fmt.Sprintf("PG_IMAGE=%s\nN9E_PORT=%s\n", testenv.PostgresImage(), port),
		"n9eetc_pg/config.toml":  n9eConfig,
		"n9eetc_pg/metrics.yaml": "zh:\n  ping_result_code: ping 结果值（0:正常, 1:超时, 2:错误）\n",
	}, nil, n9eNotes)
	s.pgDataDir("pgdata")
	if out, err := s.compose("up", "-d", "--wait", "--wait-timeout", "120"); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	ping := func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/ping")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	waitFor(t, "n9e to answer /ping", ping)
	psql := func(q string) (string, error) { return s.psql("postgres", "root", "n9e_v6", q), nil }
	_, _ = psql(`INSERT INTO users (username, nickname) VALUES ('ops', '运维');
		INSERT INTO alert_rule (name, prom_ql) VALUES ('cpu high', 'cpu_usage_active > 90');
		INSERT INTO target (ident, note) VALUES ('host-a', 'db'), ('host-b', 'web'), ('host-a', 'registered twice by categraf');
		INSERT INTO alert_cur_event (group_id, hash, trigger_time) VALUES (1, 'h2', 1700000060)`)
	if d := s.detect(); d.Version != "8.4.1" {
		t.Fatalf("detect: %+v", d)
	}
	hasIndex := func(name string) bool {
		n, _ := psql(`SELECT count(*) FROM pg_indexes WHERE indexname = '` + name + `'`)
		return n != "0"
	}
	started := func() string {
		var out []string
		for _, svc := range []string{"nightingale", "postgres"} {
			id, err := s.compose("ps", "-q", svc)
			if err != nil || strings.TrimSpace(id) == "" {
				t.Fatalf("compose ps %s: %v %s", svc, err, id)
			}
			o, err := testenv.Docker("inspect", "--format", "{{.State.StartedAt}}", strings.TrimSpace(id))
			if err != nil {
				t.Fatalf("inspect %s: %v %s", svc, err, o)
			}
			out = append(out, svc+"="+strings.TrimSpace(o))
		}
		return strings.Join(out, " ")
	}
	containers := func() string {
		o, err := testenv.Docker("ps", "-a", "-q", "--filter", "label=com.docker.compose.project="+filepath.Base(s.dir))
		if err != nil {
			t.Fatal(o)
		}
		return strings.Join(strings.Fields(o), " ")
	}
	startedBefore, rowsBefore, ctrsBefore := started(), fingerprint(t, psql, nil), containers()

	var out string
	var err error
	timed(t, "upgrade to v9.0.0 stopped by its rehearsal", func() {
		out, err = s.upshift("upgrade", "--to", "v9.0.0", "--yes", "--json", "--notes", s.notes)
	})
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1 (failed in the rehearsal, nothing changed)\n%s", code, out)
	}
	res := lastResult(t, out)
	if res.Outcome != steps.OutcomeFailed || res.FailedStep != "v9.0.0/rehearse" || !res.Unchanged || strings.TrimPrefix(res.Reached, "v") != "8.4.1" {
		t.Fatalf("result %+v\n%s", res, out)
	}
	t.Logf("stopped by the rehearsal: %s", res.Message)
	// n9e's own words, from the scratch copy's log.
	for _, want := range []string{"failed to migrate table:&{target}", `could not create unique index "idx_target_ident"`} {
		if !strings.Contains(res.Error, want) || !strings.Contains(res.Cause, want) {
			t.Errorf("n9e's error %q is not in the result: error %q, cause %q", want, res.Error, res.Cause)
		}
	}
	if lines := stepLogLines(t, out, "v9.0.0/rehearse"); !hasLine(lines, " ERROR migrate/migrate.go:") {
		t.Errorf("n9e's error line is not in the rehearsal's log:\n%s", strings.Join(lines, "\n"))
	}
	for _, ev := range runEvents(t, out) {
		if ev.Kind == steps.EventStepStarted && (ev.Step == "v9.0.0/config" || ev.Step == "v9.0.0/stop" || ev.Step == "v9.0.0/migrate") {
			t.Errorf("the upgrade went on to %s after the failed rehearsal", ev.Step)
		}
	}
	if got := started(); got != startedBefore {
		t.Errorf("containers restarted:\nbefore %s\nafter  %s", startedBefore, got)
	}
	if got := fingerprint(t, psql, nil); !maps.Equal(got, rowsBefore) {
		t.Errorf("rows changed:\nbefore %v\nafter  %v", rowsBefore, got)
	}
	if hasIndex("idx_target_ident") {
		t.Error("the real database got 9.0.0's index")
	}
	if got := containers(); got != ctrsBefore {
		t.Errorf("the project's containers changed: before %s, after %s", ctrsBefore, got)
	}
	if o := orphanScratch(t); len(o) > 0 {
		t.Errorf("scratch containers left behind: %v", o)
	}
	if o := orphanScratchNetworks(t); len(o) > 0 {
		t.Errorf("scratch networks left behind: %v", o)
	}
	if d := s.detect(); d.Version != "8.4.1" || !ping() {
		t.Errorf("after the stopped upgrade: detect %s, ping %v", d.Version, ping())
	}

	_, _ = psql(`DELETE FROM target WHERE note = 'registered twice by categraf'`)
	timed(t, "upgrade to v9.0.0 after its rehearsal passed", func() {
		out, err = s.upshift("upgrade", "--to", "v9.0.0", "--yes", "--json", "--notes", s.notes)
	})
	if err != nil {
		t.Fatalf("upgrade after removing the duplicate: %v\n%s", err, out)
	}
	if res := lastResult(t, out); res.Outcome != steps.OutcomeSuccess || strings.TrimPrefix(res.Reached, "v") != "9.0.0" {
		t.Fatalf("result %+v\n%s", res, out)
	}
	if lines := stepLogLines(t, out, "v9.0.0/rehearse"); !hasLine(lines, "passed its rehearsal") || !hasLine(lines, "http server listening on") {
		t.Errorf("the rehearsal did not run n9e to its start line:\n%s", strings.Join(lines, "\n"))
	}
	if d := s.detect(); strings.TrimPrefix(d.Version, "v") != "9.0.0" || !ping() {
		t.Errorf("after the upgrade: detect %s, ping %v", d.Version, ping())
	}
	if !hasIndex("idx_target_ident") {
		t.Error("9.0.0's index is missing after the upgrade")
	}
	if got, _ := psql(`SELECT string_agg(ident, ',' ORDER BY id) FROM target`); got != "host-a,host-b" {
		t.Errorf("targets after the upgrade: %s", got)
	}
	if o := orphanScratch(t); len(o) > 0 {
		t.Errorf("scratch containers left behind: %v", o)
	}
	if o := orphanScratchNetworks(t); len(o) > 0 {
		t.Errorf("scratch networks left behind: %v", o)
	}
}
