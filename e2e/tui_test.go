package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/tape"
	"github.com/seed-e7a9fb3b/upshift/internal/testenv"
)

func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is missing (scripts/test-env.sh installs it)")
		}
		t.Skip("SKIPPING: no tmux on this machine")
	}
}

// wizardTape drives the wizard through a 1.0.0 → 1.1.0 upgrade at 80×24,
// answering every confirmation, as an admin would type it.
const wizardTape = wizardToMigrate + `
Wait+Screen@300s /Upgrade complete: 1\.0\.0 . 1\.1\.0/
Wait+Screen /upshift restore /
Type "q"
`

// wizardToMigrate walks the wizard to the migration of 1.0.0 → 1.1.0 and
// approves it (and every confirmation before it).
const wizardToMigrate = `
Set Width 80
Set Height 24
Wait+Screen@120s /Press enter to choose a version/
Enter
Wait+Screen@60s /Pick the version to upgrade to/
Up 5
Wait+Screen /> 1\.1\.0/
Enter
Wait+Screen@60s /Press y to acknowledge/
Type "yy"
Wait+Screen /All acknowledged/
Enter
Wait+Screen@60s /Press enter to start the upgrade/
Enter
Wait+Screen@300s /Confirm . Update \.env for 1\.1\.0/
Down 8
Wait+Screen /\+APP_VERSION=1\.1\.0/
Type "y"
Wait+Screen@300s /Confirm . Stop the app/
Type "y"
Wait+Screen@300s /Confirm . Migrate the database to 1\.1\.0/
Type "y"
`

// TestWizardInTmux runs the real binary in a real terminal against a real
// demo stack and completes an upgrade through the UI.
func TestWizardInTmux(t *testing.T) {
	requireTmux(t)
	s := testenv.StartDemo(t, "1.0.0")
	cmds, err := tape.ParseString(wizardTape)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	shell := s.Bin + " --dir " + s.Dir + " --log-file " + filepath.Join(t.TempDir(), "wizard.log") + "; sleep 1"
	if err := tape.Replay(ctx, cmds, testenv.UniqueName("wiz"), shell); err != nil {
		t.Fatalf("wizard replay: %v", err)
	}
	if v, err := s.APIVersion(); err != nil || v != "1.1.0" {
		t.Fatalf("after the wizard the api runs %q (%v), want 1.1.0", v, err)
	}
}

// TestDemoTapeReplay replays demo.tape (the VHS recording script) in tmux
// against the real binary: it fails when the tape no longer matches the UI.
func TestDemoTapeReplay(t *testing.T) {
	requireTmux(t)
	testenv.RequireDocker(t)
	bin := testenv.Binary(t)
	f, err := os.Open(filepath.Join(testenv.RepoRoot(), "demo.tape"))
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := tape.Parse(f)
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Cleanup(func() {
		dirs, _ := filepath.Glob(filepath.Join(tmp, "upshift-demo-*"))
		for _, d := range dirs {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = exec.CommandContext(ctx, bin, "demo", "down", "--dir", d).Run()
			cancel()
		}
	})
	// The tape types `upshift demo` into bash: put the binary first on PATH,
	// the demo stack under the test's temp dir, and the local PostgreSQL image.
	shell := "env PATH=" + filepath.Dir(bin) + ":" + os.Getenv("PATH") +
		" TMPDIR=" + tmp + " UPSHIFT_DEMO_POSTGRES_IMAGE=" + testenv.PostgresImage() +
		" PS1='$ ' bash --norc --noprofile"
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := tape.Replay(ctx, cmds, testenv.UniqueName("tape"), shell); err != nil {
		t.Fatalf("demo.tape replay: %v", err)
	}
	dirs, _ := filepath.Glob(filepath.Join(tmp, "upshift-demo-*"))
	if len(dirs) != 1 {
		t.Fatalf("want one demo stack under %s, found %v", tmp, dirs)
	}
	b, err := os.ReadFile(filepath.Join(dirs[0], ".env"))
	if err != nil || !strings.Contains(string(b), "APP_VERSION=1.1.0") {
		t.Fatalf("the demo stack did not end at 1.1.0: %v\n%s", err, b)
	}
}
