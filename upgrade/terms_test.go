package upgrade

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

func TestApplyAgreement(t *testing.T) {
	const oldH, newH = "8e6e7d647f7f82d6ea98456b73908656", "0123456789abcdef0123456789abcdef"
	a := steps.Agreement{Key: "EULA_AGREE", Old: oldH, New: newH}
	cases := []struct {
		name, in, want string
		n              int
	}{
		{
			"compose list", "    environment:\n      - TZ=Asia/Shanghai\n      - EULA_AGREE=" + oldH + " # 同意EULA\n      - PRIVACY_AGREE=" + oldH + "\n",
			"    environment:\n      - TZ=Asia/Shanghai\n      - EULA_AGREE=" + newH + " # 同意EULA\n      - PRIVACY_AGREE=" + oldH + "\n", 1,
		},
		{"compose map quoted", "    environment:\n      EULA_AGREE: \"" + oldH + "\"\n", "    environment:\n      EULA_AGREE: \"" + newH + "\"\n", 1},
		{".env", "EULA_AGREE=" + oldH + "\nOTHER=1\n", "EULA_AGREE=" + newH + "\nOTHER=1\n", 1},
		{"other key with the same value", "X_EULA_AGREE=" + oldH + "\n", "X_EULA_AGREE=" + oldH + "\n", 0},
		{"another value", "EULA_AGREE=" + oldH + "ff\n", "EULA_AGREE=" + oldH + "ff\n", 0},
		{"absent", "TZ=UTC\n", "TZ=UTC\n", 0},
	}
	for _, c := range cases {
		got, n := applyAgreement([]byte(c.in), a)
		if string(got) != c.want || n != c.n {
			t.Errorf("%s: got %d %q\nwant %d %q", c.name, n, got, c.n, c.want)
		}
	}
	if _, n := applyAgreement([]byte("EULA_AGREE=\n"), steps.Agreement{Key: "EULA_AGREE", Old: "", New: newH}); n != 0 {
		t.Error("an empty old value matched")
	}
}

func TestWriteAgreementsComposeAndEnv(t *testing.T) {
	dir := t.TempDir()
	e := &Env{}
	e.Project.WorkingDir = dir
	compose := dir + "/docker-compose.yml"
	writeFile(t, compose, "services:\n  core:\n    environment:\n      - EULA_AGREE=aaaa\n")
	e.Project.Files = []string{compose}
	e.agree(steps.Agreement{Key: "EULA_AGREE", Old: "aaaa", New: "bbbb"})
	e.agree(steps.Agreement{Key: "PRIVACY_AGREE", Old: "cccc", New: "dddd"})
	oldM, newM := map[string][]byte{}, map[string][]byte{}
	env, err := e.writeAgreements([]byte("PRIVACY_AGREE=cccc\n"), oldM, newM)
	if err != nil {
		t.Fatal(err)
	}
	if string(env) != "PRIVACY_AGREE=dddd\n" || !strings.Contains(string(newM[compose]), "EULA_AGREE=bbbb") || !strings.Contains(string(oldM[compose]), "EULA_AGREE=aaaa") {
		t.Errorf("env %q compose %q", env, newM[compose])
	}
	// A resumed run knows the agreement from its journal, but an earlier
	// config step already wrote it: nothing to do, no error.
	resumed := &Env{Project: e.Project}
	resumed.RestoreAgreements([]steps.Agreement{{Key: "EULA_AGREE", Old: "aaaa", New: "bbbb"}})
	writeFile(t, compose, string(newM[compose]))
	if _, err := resumed.writeAgreements(nil, map[string][]byte{}, map[string][]byte{}); err != nil {
		t.Errorf("an agreement written before the resume: %v", err)
	}
	e.agreementsWritten()
	if out, err := e.writeAgreements([]byte("PRIVACY_AGREE=dddd\n"), map[string][]byte{}, map[string][]byte{}); err != nil || string(out) != "PRIVACY_AGREE=dddd\n" {
		t.Errorf("written agreements applied again: %q %v", out, err)
	}
	e.agree(steps.Agreement{Key: "OTHER", Old: "zzzz", New: "yyyy"})
	if _, err := e.writeAgreements(nil, map[string][]byte{}, map[string][]byte{}); err == nil || !strings.Contains(err.Error(), "OTHER") {
		t.Errorf("an agreement with no place to write it: %v", err)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
