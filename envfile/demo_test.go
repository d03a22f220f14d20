package envfile_test

// The demo templates live in package demo, which itself uses envfile: this
// test is external to avoid an import cycle.

import (
	"slices"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/envfile"
)

func mustGet(t *testing.T, data []byte, key string) string {
	t.Helper()
	f, err := envfile.Parse(data)
	if err != nil {
		t.Fatalf("merged file does not parse: %v\n%s", err, data)
	}
	v, ok := f.Get(key)
	if !ok {
		t.Fatalf("%s missing from merged file:\n%s", key, data)
	}
	return v
}

func TestMergeDemo11To20(t *testing.T) {
	base, err := demo.EnvTemplate("1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := demo.EnvTemplate("2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	// The admin's .env: from 1.1.0's template with their own values.
	f, err := envfile.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	f.Set("DB_PASSWORD", "s3cr3t-db-pass")
	f.Set("NOTES_SECRET", "admin-cookie-secret-42")
	f.Set("API_PORT", "9090")
	f.Set("APP_VERSION", "1.1.0")
	f.Set("MY_OWN_SETTING", "keep me")
	ours := f.Bytes()

	r, err := envfile.Merge(base, theirs, ours, []envfile.Rename{{From: "NOTES_SECRET", To: "APP_SECRET"}})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Merged
	for key, want := range map[string]string{
		"APP_SECRET":     "admin-cookie-secret-42",
		"DB_PASSWORD":    "s3cr3t-db-pass",
		"API_PORT":       "9090",
		"MY_OWN_SETTING": "keep me",
		"LOG_LEVEL":      "warn", // untouched default follows the new template
		"PAGE_SIZE":      "50",   // new in 2.0.0
		"APP_VERSION":    "2.0.0",
	} {
		if got := mustGet(t, m, key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if mf, _ := envfile.Parse(m); mf.Has("NOTES_SECRET") {
		t.Errorf("NOTES_SECRET still declared:\n%s", m)
	}
	if !strings.Contains(string(m), "# Notes per page in GET /api/notes.\nPAGE_SIZE=50\n") {
		t.Errorf("PAGE_SIZE added without its comment:\n%s", m)
	}
	if !slices.Equal(r.Summary.Added, []string{"PAGE_SIZE"}) ||
		!slices.Contains(r.Summary.ChangedDefault, "LOG_LEVEL") ||
		!slices.Contains(r.Summary.ChangedDefault, "APP_VERSION") ||
		len(r.Summary.Renamed) != 1 || !slices.Contains(r.Summary.Custom, "MY_OWN_SETTING") ||
		len(r.Conflicts) != 0 {
		t.Errorf("summary = %+v, conflicts %+v", r.Summary, r.Conflicts)
	}
	d := r.Diff(ours, ".env")
	for _, secret := range []string{"s3cr3t-db-pass", "admin-cookie-secret-42"} {
		if strings.Contains(d, secret) || strings.Contains(string(r.Masked()), secret) {
			t.Errorf("secret %q printed in the preview:\n%s", secret, d)
		}
	}
	if !strings.Contains(d, "+APP_SECRET=***") || !strings.Contains(d, "-LOG_LEVEL=info") {
		t.Errorf("diff:\n%s", d)
	}
	t.Logf("diff:\n%s", d)
}
