package envfile

import (
	"strings"
	"testing"
	"unicode"
)

var redactSecrets = []string{"hunter", "hunter2-long-db-password", "1234"}

func TestRedactor(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"long and contained short secret", "pw=hunter2-long-db-password user=hunter", "pw=*** user=***"},
		{"long secret alone", "hunter2-long-db-password", "***"},
		{"long secret inside a word", "xxhunter2-long-db-passwordyy", "xx***yy"},
		{"short secret in a URL", "postgres://u:1234@db/x", "postgres://u:***@db/x"},
		{"short secret inside a timestamp", "2026-11-22 08.571234994 started", "2026-11-22 08.571234994 started"},
		{"short secret as a prefix of a number", "id=12345", "id=12345"},
		{"short secret inside a word", "xhunterx", "xhunterx"},
		{"short secret JSON-quoted", `{"password":"1234"}`, `{"password":"***"}`},
		{"short secret at the edges", "1234", "***"},
		{"short secret before a space", "pw=1234 next", "pw=*** next"},
		{"short secret next to a letter outside ASCII", "é1234", "é1234"},
		{"adjacent secrets merge", "hunter2-long-db-passwordhunter2-long-db-password", "***"},
		{"short secret beside a masked one", "hunter2-long-db-password1234", "******"},
		{"no secret", "nothing to hide here", "nothing to hide here"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewRedactor(redactSecrets...).Redact(tc.in)
			if got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
			assertRedacted(t, redactSecrets, got)
			if again := Redact(got, redactSecrets); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestRedactorOverlaps(t *testing.T) {
	for _, tc := range []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		// Applied one after the other, the shorter one first, these left
		// "pw=******2-long-db-password".
		{"order of the secrets does not matter", []string{"hunter2-long-db-password", "hunter2-l"}, "pw=hunter2-long-db-password", "pw=***"},
		{"overlapping secrets leave no fragment", []string{"abcdefgh12", "xxabcdefgh"}, "<xxabcdefgh12>", "<***>"},
		{"a mask does not make a new secret", []string{"password1", "***zzzzzz"}, "password1zzzzzz", "***"},
		{"too short secrets are ignored", []string{"", "1", "ab", "abc"}, "a 1 ab abc", "a 1 ab abc"},
		{"duplicates", []string{"s3cr3t-pass", "s3cr3t-pass"}, "x s3cr3t-pass", "x ***"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Redact(tc.in, tc.secrets); got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedactorNil(t *testing.T) {
	var r *Redactor
	if got := r.Redact("pw=hunter2"); got != "pw=hunter2" {
		t.Errorf("nil Redactor changed the text: %q", got)
	}
	if got := NewRedactor().Redact("pw=hunter2"); got != "pw=hunter2" {
		t.Errorf("empty Redactor changed the text: %q", got)
	}
}

// assertRedacted fails when a secret of WholeTokenLen bytes or more, or any
// fragment of one of at least MinSecretLen bytes that is not in the
// non-secret text, survives in out, or a short secret survives as a whole
// token.
func assertRedacted(t *testing.T, secrets []string, out string) {
	t.Helper()
	for _, s := range secrets {
		switch {
		case len(s) < MinSecretLen:
		case len(s) >= WholeTokenLen:
			if strings.Contains(out, s) {
				t.Errorf("secret %q survives in %q", s, out)
			}
			for _, frag := range []string{s[len(s)/2:], s[:len(s)/2]} {
				if len(frag) >= MinSecretLen && strings.Contains(out, frag) {
					t.Errorf("fragment %q of %q survives in %q", frag, s, out)
				}
			}
		default:
			for i := strings.Index(out, s); i >= 0; {
				if wholeToken(out, i, i+len(s)) {
					t.Errorf("short secret %q survives as a token in %q", s, out)
				}
				next := strings.Index(out[i+1:], s)
				if next < 0 {
					break
				}
				i += 1 + next
			}
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("pw=hunter2-long-db-password user=hunter", "hunter", "hunter2-long-db-password")
	f.Add("2026-11-22 08.571234994 started", "1234", "08.57123")
	f.Add("<xxabcdefgh12>", "abcdefgh12", "xxabcdefgh")
	f.Add("password1zzzzzz", "password1", "***zzzzzz")
	f.Add(`{"p":"1234"}`, "1234", "")
	f.Fuzz(func(t *testing.T, text, a, b string) {
		r := NewRedactor(a, b)
		out := r.Redact(text)
		for _, s := range []string{a, b} {
			if len(s) >= WholeTokenLen && strings.Contains(out, s) {
				t.Fatalf("Redact(%q) with %q, %q = %q: contains %q", text, a, b, out, s)
			}
		}
		if again := r.Redact(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", text, out, again)
		}
		if !strings.ContainsAny(a+b, "*") && strings.IndexFunc(a+b, unicode.IsSpace) < 0 && !strings.Contains(text, a) && !strings.Contains(text, b) && out != text {
			t.Fatalf("no secret in %q but it changed to %q", text, out)
		}
	})
}
