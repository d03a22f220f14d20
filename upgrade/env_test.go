package upgrade

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnvTemplate(t *testing.T) {
	t.Run("a path template in the project", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.env.Profile.EnvTemplate = "templates/{{version}}.env"
		if err := os.MkdirAll(filepath.Join(f.env.Dir(), "templates"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(f.env.Dir(), "templates", "1.1.0.env"), "A=1\n")
		b, err := f.env.EnvTemplate(context.Background(), "1.1.0")
		if err != nil || string(b) != "A=1\n" {
			t.Errorf("%q %v", b, err)
		}
		_, err = f.env.EnvTemplate(context.Background(), "2.0.0")
		wantErr(t, err, "env template of 2.0.0")
	})
	t.Run("a URL template", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.http.body = "B=2\n"
		b, err := f.env.EnvTemplate(context.Background(), "1.10.0")
		if err != nil || string(b) != "B=2\n" {
			t.Errorf("%q %v", b, err)
		}
		f.http.err = errFake
		_, err = f.env.EnvTemplate(context.Background(), "1.10.0")
		wantErr(t, err, "download env template", "fake failure")
	})
	t.Run("--env-templates replaces the profile's source, any v prefix", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.env.EnvTemplateDir = t.TempDir()
		writeFile(t, filepath.Join(f.env.EnvTemplateDir, "1.10.0.env.example"), "C=3\n")
		if b, err := f.env.EnvTemplate(context.Background(), "v1.10.0"); err != nil || string(b) != "C=3\n" {
			t.Errorf("%q %v", b, err)
		}
		_, err := f.env.EnvTemplate(context.Background(), "2.0.0")
		wantErr(t, err, "no 2.0.0.env.example in "+f.env.EnvTemplateDir)
		if len(f.http.urls) != 0 {
			t.Errorf("downloaded %v", f.http.urls)
		}
	})
	t.Run("no template", func(t *testing.T) {
		f := newFixture(t, "mattermost", "10.5.0")
		if b, err := f.env.EnvTemplate(context.Background(), "10.11.0"); b != nil || err != nil {
			t.Errorf("%q %v", b, err)
		}
	})
}

func TestSecretsAndRedactor(t *testing.T) {
	f := newFixture(t, "upshift-demo", "1.0.0")
	writeFile(t, f.env.EnvPath(), "APP_SECRET=admin-secret-123\nDB_PASSWORD=pw\nLOG_LEVEL=debug\n")
	red := f.env.Redactor()("db s3cret-pw, app admin-secret-123, level debug")
	if strings.Contains(red, "s3cret-pw") || strings.Contains(red, "admin-secret-123") || !strings.Contains(red, "debug") {
		t.Errorf("redacted %q", red)
	}
}

func TestWriters(t *testing.T) {
	for app, want := range map[string][]string{
		"dify":        {"api", "worker", "worker_beat", "web"},
		"simplelogin": {"app", "email", "job-runner"},
		"nightingale": {"nightingale"},
		"maibot":      {"core", "adapters"},
	} {
		t.Run(app, func(t *testing.T) {
			f := newFixture(t, app, "1.0.0")
			if got := f.env.Writers(); !equalStrings(got, want) {
				t.Errorf("writers %v, want %v", got, want)
			}
		})
	}
}
