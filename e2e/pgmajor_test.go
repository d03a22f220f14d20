package e2e

import (
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
