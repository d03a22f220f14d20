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
	out, changed, _, err := RewriteImageTags(in, []string{"api", "worker", "worker_beat", "web"}, "1.14.0")
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
	again, changed, _, err := RewriteImageTags(out, []string{"api", "web"}, "1.14.0")
	if err != nil || len(changed) != 0 || !bytes.Equal(again, out) {
		t.Errorf("second rewrite: %v %v", changed, err)
	}
}

func TestRewriteImageTagsRefuses(t *testing.T) {
	if _, _, _, err := RewriteImageTags([]byte("services:\n  app:\n    image: mattermost/x:${TAG}\n"), []string{"app"}, "2"); err == nil || !strings.Contains(err.Error(), ".env") {
		t.Errorf("image from a variable: err = %v", err)
	}
	// A file that does not set the image (an override) is left alone; the
	// config step refuses when no file sets it.
	for _, c := range []string{"services:\n  api:\n    image: a/b:1\n", "services:\n  app:\n    build: .\n", "x-common: {}\n"} {
		out, changed, found, err := RewriteImageTags([]byte(c), []string{"app"}, "2")
		if err != nil || len(changed) > 0 || len(found) > 0 || string(out) != c {
			t.Errorf("%q: out %q changed %v found %v err %v", c, out, changed, found, err)
		}
	}
	out, _, _, err := RewriteImageTags([]byte("services:\n  n9e:\n    image: \"flashcatcloud/nightingale:latest\" # pinned by upshift\n"), []string{"n9e"}, "9.1.1")
	if err != nil || !strings.Contains(string(out), `image: "flashcatcloud/nightingale:9.1.1" # pinned by upshift`) {
		t.Errorf("quoted image with comment: %v\n%s", err, out)
	}
}
