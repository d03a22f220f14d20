// Command downtime measures how long the demo app's HTTP endpoint is
// unavailable during a 1.0.0 → 1.1.0 upgrade (images not built yet), done by
// `upshift upgrade` and done the naive way (stop, build, migrate, start).
//
//	go run ./bench/downtime [-runs 3]
//
// It prints both downtimes, upshift's migration and start times, the target
// (migration + start + 2 s) and the ratio naive / upshift.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

func main() {
	runs := flag.Int("runs", 3, "runs of each method (the median is reported)")
	flag.Parse()
	if err := run(*runs); err != nil {
		fmt.Fprintln(os.Stderr, "downtime:", err)
		os.Exit(1)
	}
}

func run(runs int) error {
	tmp, err := os.MkdirTemp("", "upshift-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	bin := filepath.Join(tmp, "upshift")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v: %s", err, out)
	}
	var ups, naive, mig, start []time.Duration
	for i := 0; i < runs; i++ {
		d, m, s, err := measure(bin, filepath.Join(tmp, fmt.Sprintf("u%d", i)), false)
		if err != nil {
			return err
		}
		ups, mig, start = append(ups, d), append(mig, m), append(start, s)
		d, _, _, err = measure(bin, filepath.Join(tmp, fmt.Sprintf("n%d", i)), true)
		if err != nil {
			return err
		}
		naive = append(naive, d)
	}
	u, n, m, s := median(ups), median(naive), median(mig), median(start)
	target := m + s + 2*time.Second
	fmt.Printf("upshift downtime:  %v (median of %d)\n", u.Round(10*time.Millisecond), runs)
	fmt.Printf("  migration step:  %v, start step: %v → target (migration + start + 2s): %v  %s\n", m.Round(10*time.Millisecond), s.Round(10*time.Millisecond), target.Round(10*time.Millisecond), verdict(u <= target))
	fmt.Printf("naive downtime:    %v (stop, build, migrate, start)\n", n.Round(10*time.Millisecond))
	fmt.Printf("ratio naive/upshift: %.2f  %s\n", float64(n)/float64(u), verdict(u < n))
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "OK"
	}
	return "MISSED"
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func sh(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// measure brings a fresh 1.0.0 stack up, removes the 1.1.0 image, polls the
// api while upgrading, and returns the longest unavailable window.
func measure(bin, dir string, naive bool) (down, migration, start time.Duration, err error) {
	project := "bench" + filepath.Base(dir) + fmt.Sprint(os.Getpid())
	pg := os.Getenv("UPSHIFT_TEST_PG_IMAGE")
	if pg == "" {
		pg = "upshift-test/postgres:15"
	}
	if _, err := sh("", nil, bin, "demo", "up", "--dir", dir, "--project", project, "--postgres-image", pg, "--port", "0"); err != nil {
		return 0, 0, 0, err
	}
	defer func() { _, _ = sh("", nil, bin, "demo", "down", "--dir", dir) }()
	_, _ = sh("", nil, "docker", "rmi", "upshift-demo/app:1.1.0")
	port := envValue(dir, "API_PORT")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var longest time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		longest = poll("http://127.0.0.1:"+port+"/health", stop)
	}()
	if naive {
		err = naiveUpgrade(bin, dir)
	} else {
		migration, start, err = upshiftUpgrade(bin, dir)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	return longest, migration, start, err
}

func poll(url string, stop <-chan struct{}) time.Duration {
	client := &http.Client{Timeout: 500 * time.Millisecond}
	var longest time.Duration
	var downSince time.Time
	for {
		select {
		case <-stop:
			return longest
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		ok := err == nil && resp.StatusCode == http.StatusOK
		if resp != nil {
			_ = resp.Body.Close()
		}
		cancel()
		now := time.Now()
		switch {
		case !ok && downSince.IsZero():
			downSince = now
		case ok && !downSince.IsZero():
			if d := now.Sub(downSince); d > longest {
				longest = d
			}
			downSince = time.Time{}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func upshiftUpgrade(bin, dir string) (migration, start time.Duration, err error) {
	cmd := exec.Command(bin, "upgrade", "--to", "1.1.0", "--yes", "--json")
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var ev struct {
			Event    string        `json:"event"`
			Step     string        `json:"step"`
			Duration time.Duration `json:"duration_ns"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Event != "step_finished" {
			continue
		}
		switch ev.Step {
		case "1.1.0/migrate":
			migration = ev.Duration
		case "1.1.0/start":
			start = ev.Duration
		}
	}
	if err := cmd.Wait(); err != nil {
		return 0, 0, fmt.Errorf("upshift upgrade: %w", err)
	}
	return migration, start, nil
}

func naiveUpgrade(bin, dir string) error {
	compose := []string{"compose", "--project-directory", dir}
	steps := [][]string{
		append(append([]string{}, compose...), "stop", "api", "worker"),
	}
	for _, s := range steps {
		if _, err := sh(dir, nil, "docker", s...); err != nil {
			return err
		}
	}
	if _, err := sh(dir, nil, bin, "demo", "build", "--version", "1.1.0"); err != nil {
		return err
	}
	env := []string{"APP_VERSION=1.1.0"}
	if _, err := sh(dir, env, "docker", append(append([]string{}, compose...), "run", "--rm", "--no-deps", "-T", "api", "migrate")...); err != nil {
		return err
	}
	_, err := sh(dir, env, "docker", append(append([]string{}, compose...), "up", "-d", "--wait")...)
	return err
}

func envValue(dir, key string) string {
	b, err := os.ReadFile(filepath.Join(dir, ".env"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
