package envfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSetKeepsFormat(t *testing.T) {
	tests := []struct {
		name, in, key, value, want string
	}{
		{"plain", "# c\nA=1 # note\nB=2\n", "A", "7", "# c\nA=7 # note\nB=2\n"},
		{"single quotes kept", "export A='x'\n", "A", "y z", "export A='y z'\n"},
		{"double quotes kept", "A=\"x\"\n", "A", "it's $5", "A=\"it's $$5\"\n"},
		{"unquoted needs quotes", "A=1 # note\n", "A", "two words", "A='two words' # note\n"},
		{"single cannot hold quote", "A='x'\n", "A", "it's", "A=\"it's\"\n"},
		{"append", "A=1", "B", "x y", "A=1\nB='x y'\n"},
		{"append crlf", "A=1\r\n", "B", "2", "A=1\r\nB=2\r\n"},
		{"inherited", "A\nB=1\n", "A", "v", "A=v\nB=1\n"},
		{"yaml style", "A: 1\n", "A", "2", "A: 2\n"},
		{"multi-line", "A=\"l1\nl2\"\nB=1\n", "A", "x", "A=\"x\"\nB=1\n"},
		{"last wins", "A=1\nA=2\n", "A", "3", "A=1\nA=3\n"},
		{"newline value", "A=1\n", "A", "a\nb", "A='a\nb'\n"},
		{"backslash", "A=1\n", "A", `C:\dir\`, "A=\"C:\\\\dir\\\\\"\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			f.Set(tc.key, tc.value)
			if got := string(f.Bytes()); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if v, _ := f.Get(tc.key); v != tc.value {
				t.Errorf("Get = %q, want %q", v, tc.value)
			}
			checkEquivalent(t, f.Bytes())
		})
	}
}

func TestParseErrorsSayWhere(t *testing.T) {
	for in, want := range map[string]string{
		"A=1\nB C=2\n":     "line 2",
		"A=1\n\nB='open\n": "line 3: unterminated quoted value",
		"A=1\n@x=1\n":      `line 2: unexpected character "@"`,
		"# ok\nexport ":    "line 2",
	} {
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want %q", in, err, want)
		}
	}
}

func TestKeysAndLiteral(t *testing.T) {
	f, err := Parse([]byte("B=1\nA=${B}x\nB=2\nINH\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Keys(), ","); got != "B,A,INH" {
		t.Errorf("Keys = %s", got)
	}
	if v, _ := f.Get("A"); v != "1x" {
		t.Errorf("A = %q (interpolation uses the value at that point, like compose)", v)
	}
	if lit, _, _ := f.Literal("A"); lit != "${B}x" {
		t.Errorf("Literal(A) = %q", lit)
	}
	if _, ok := f.Get("INH"); ok {
		t.Error("bare key without environment has no value")
	}
	env, err := f.Env(func(k string) (string, bool) { return "from-env", k == "INH" })
	if err != nil || env["INH"] != "from-env" {
		t.Errorf("Env = %v, %v", env, err)
	}
}

func TestSecrets(t *testing.T) {
	for key, want := range map[string]bool{
		"DB_PASSWORD": true, "APP_SECRET": true, "OPENAI_API_KEY": true, "GITHUB_TOKEN": true,
		"SMTP_PASS": true, "SENTRY_DSN": true, "LOG_LEVEL": false, "API_PORT": false, "PAGE_SIZE": false,
	} {
		if IsSecretKey(key) != want {
			t.Errorf("IsSecretKey(%s) = %v", key, !want)
		}
	}
	for _, tc := range []struct{ key, in, want string }{
		{"DB_PASSWORD", "hunter22", "***"},
		{"DB_PASSWORD", "", ""},
		{"DATABASE_URL", "postgres://u:p4ss@db:5432/x", "postgres://u:***@db:5432/x"},
		{"CONN", "host=db user=u password=p4ss dbname=x", "host=db user=u password=*** dbname=x"},
		{"URL", "https://example.com/a", "https://example.com/a"},
	} {
		if got := MaskValue(tc.key, tc.in); got != tc.want {
			t.Errorf("MaskValue(%s, %q) = %q, want %q", tc.key, tc.in, got, tc.want)
		}
	}
	if got := Redact("a secret1 b secret12 c", []string{"", "secret1", "secret12"}); got != "a *** b *** c" {
		t.Errorf("Redact = %q", got)
	}
	in := "DB_PASSWORD='pw with space'\n# OLD_TOKEN=abcdef # was\nURL=postgres://u:pw@h/db\nKEY=\"multi\nline secret\"\nA=1\n"
	got := string(MaskFile([]byte(in)))
	for _, leak := range []string{"pw with space", "abcdef", ":pw@", "line secret"} {
		if strings.Contains(got, leak) {
			t.Errorf("MaskFile leaks %q:\n%s", leak, got)
		}
	}
	if !strings.Contains(got, "A=1") {
		t.Errorf("MaskFile masked too much:\n%s", got)
	}
	data, err := json.Marshal(Conflict{Key: "DB_PASSWORD", Base: "a", Theirs: "b", Ours: "hunter22"})
	if err != nil || strings.Contains(string(data), "hunter22") {
		t.Errorf("conflict JSON leaks: %s %v", data, err)
	}
}

func TestWriteAtomicAndBackup(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env")
	if err := WriteAtomic(p, []byte("A=1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v", st.Mode())
	}
	bak, err := Backup(p, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(bak) != ".env.upshift-20260102T030405Z.bak" {
		t.Errorf("backup name %s", bak)
	}
	if st, _ := os.Stat(bak); st.Mode().Perm() != 0o600 {
		t.Errorf("backup mode = %v", st.Mode())
	}
	if err := WriteAtomic(p, []byte("A=2\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(bak); string(b) != "A=1\n" {
		t.Errorf("backup content %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := WriteAtomic(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}
