package upgrade

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRewriteImageTagsDify(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("..", "testdata", "apps", "dify", "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, changed, err := RewriteImageTags(in, []string{"api", "worker", "worker_beat", "web"}, "1.14.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 4 {
		t.Fatalf("changed = %v", changed)
	}
	a, b := bytes.Split(in, []byte("\n")), bytes.Split(out, []byte("\n"))
	if len(a) != len(b) {
		t.Fatalf("line count %d → %d", len(a), len(b))
	}
	var diff []string
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			diff = append(diff, strings.TrimSpace(string(b[i])))
		}
	}
	want := []string{"image: langgenius/dify-api:1.14.0", "image: langgenius/dify-api:1.14.0", "image: langgenius/dify-api:1.14.0", "image: langgenius/dify-web:1.14.0"}
	if strings.Join(diff, "|") != strings.Join(want, "|") {
		t.Errorf("changed lines %q, want %q", diff, want)
	}
	// Applying the same tag again changes nothing.
	again, changed, err := RewriteImageTags(out, []string{"api", "web"}, "1.14.0")
	if err != nil || len(changed) != 0 || !bytes.Equal(again, out) {
		t.Errorf("second rewrite: %v %v", changed, err)
	}
}

func TestRewriteImageTagsRefuses(t *testing.T) {
	tests := []struct{ name, compose, service, want string }{
		{"no such service", "services:\n  api:\n    image: a/b:1\n", "web", "no service"},
		{"image from a variable", "services:\n  app:\n    image: mattermost/x:${TAG}\n", "app", ".env"},
		{"no image", "services:\n  app:\n    build: .\n", "app", "no image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := RewriteImageTags([]byte(tt.compose), []string{tt.service}, "2")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	out, _, err := RewriteImageTags([]byte("services:\n  n9e:\n    image: \"flashcatcloud/nightingale:latest\" # pinned by upshift\n"), []string{"n9e"}, "9.1.1")
	if err != nil || !strings.Contains(string(out), `image: "flashcatcloud/nightingale:9.1.1" # pinned by upshift`) {
		t.Errorf("quoted image with comment: %v\n%s", err, out)
	}
}
