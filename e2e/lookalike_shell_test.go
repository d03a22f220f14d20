package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

// shellLookalike is a lookalike image with busybox for a shell (the real
// images are Debian/Alpine based: compose files run `sh -c`, version
// probes run grep, and volume restores run their clean-up in them) and the
// files the real image ships.
type shellLookalike struct {
	personality string
	repo        string // image repository, e.g. flashcatcloud/nightingale
	// files are extra files of version v's image, by path inside it.
	files      func(v string) map[string]string
	binAt      string // where the upshift binary goes, e.g. /app/n9e
	workdir    string
	expose     int
	entrypoint []string // nil: none
	cmd        []string
}

// buildShellLookalike builds repo:<version> for every version of the
// personality and tags the oldest as :latest, as the real compose files run.
func buildShellLookalike(t *testing.T, li shellLookalike) {
	t.Helper()
	versions, err := demo.PersonalityVersions(li.personality)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(testenv.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("busybox-static is needed for the %s lookalike image (scripts/test-env.sh installs it): %v", li.personality, err)
	}
	for _, v := range versions {
		ctxDir := t.TempDir()
		files := map[string][]byte{"bin/busybox": busybox, "root" + li.binAt: bin}
		if li.files != nil {
			for name, body := range li.files(v) {
				files["root/"+strings.TrimPrefix(name, "/")] = []byte(body)
			}
		}
		for name, body := range files {
			p := filepath.Join(ctxDir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, body, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		var df strings.Builder
		df.WriteString("FROM scratch\nCOPY bin/busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCOPY root/ /\n")
		fmt.Fprintf(&df, "ENV %s=%s %s=%s\nLABEL upshift.lookalike=%s\n", demo.PersonalityEnv, li.personality, demo.AppVersionEnv, v, li.personality)
		if li.workdir != "" {
			fmt.Fprintf(&df, "WORKDIR %s\n", li.workdir)
		}
		fmt.Fprintf(&df, "EXPOSE %d\n", li.expose)
		if li.entrypoint != nil {
			ep, _ := json.Marshal(li.entrypoint)
			fmt.Fprintf(&df, "ENTRYPOINT %s\n", ep)
		}
		cmd, _ := json.Marshal(li.cmd)
		fmt.Fprintf(&df, "CMD %s\n", cmd)
		if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(df.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if out, err := testenv.Docker("build", "-q", "-t", li.repo+":"+v, ctxDir); err != nil {
			t.Fatalf("docker build %s:%s: %v\n%s", li.repo, v, err, out)
		}
		t.Logf("built %s:%s in %s", li.repo, v, time.Since(start).Round(time.Millisecond))
	}
	if out, err := testenv.Docker("tag", li.repo+":"+versions[0], li.repo+":latest"); err != nil {
		t.Fatalf("tag latest: %v\n%s", err, out)
	}
}
