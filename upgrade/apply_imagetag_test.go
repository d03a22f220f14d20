package upgrade

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// files is a fake file system of compose files for the resolvers.
type files map[string]string

func (fs files) read(p string) ([]byte, error) {
	if b, ok := fs[p]; ok {
		return []byte(b), nil
	}
	return nil, os.ErrNotExist
}

func TestRewriteImageTagsDify(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("..", "testdata", "apps", "dify", "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fs := files{"/s/docker-compose.yaml": string(in)}
	out, changed, found, err := RewriteImageTags([]string{"/s/docker-compose.yaml"}, fs.read, []string{"api", "worker", "worker_beat", "web"}, "1.14.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 4 || len(found) != 4 {
		t.Fatalf("changed = %v, found %v", changed, found)
	}
	a, b := bytes.Split(in, []byte("\n")), bytes.Split(out["/s/docker-compose.yaml"], []byte("\n"))
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
	fs["/s/docker-compose.yaml"] = string(out["/s/docker-compose.yaml"])
	again, changed, _, err := RewriteImageTags([]string{"/s/docker-compose.yaml"}, fs.read, []string{"api", "web"}, "1.14.0")
	if err != nil || len(changed) != 0 || len(again) != 0 {
		t.Errorf("second rewrite: %v %v %v", again, changed, err)
	}
}

func TestRewriteImageTagsRefuses(t *testing.T) {
	fs := files{"/s/c.yml": "services:\n  app:\n    image: mattermost/x:${TAG}\n"}
	if _, _, _, err := RewriteImageTags([]string{"/s/c.yml"}, fs.read, []string{"app"}, "2"); err == nil || !strings.Contains(err.Error(), ".env") {
		t.Errorf("image from a variable: err = %v", err)
	}
	// A file that does not set the image (an override) is left alone; the
	// config step refuses when no file sets it.
	for _, c := range []string{"services:\n  api:\n    image: a/b:1\n", "services:\n  app:\n    build: .\n", "x-common: {}\n"} {
		fs := files{"/s/c.yml": c}
		out, changed, found, err := RewriteImageTags([]string{"/s/c.yml"}, fs.read, []string{"app"}, "2")
		if err != nil || len(changed) > 0 || len(found) > 0 || len(out) > 0 {
			t.Errorf("%q: out %q changed %v found %v err %v", c, out, changed, found, err)
		}
	}
	fs = files{"/s/c.yml": "services:\n  n9e:\n    image: \"flashcatcloud/nightingale:latest\" # pinned by upshift\n"}
	out, _, _, err := RewriteImageTags([]string{"/s/c.yml"}, fs.read, []string{"n9e"}, "9.1.1")
	if err != nil || !strings.Contains(string(out["/s/c.yml"]), `image: "flashcatcloud/nightingale:9.1.1" # pinned by upshift`) {
		t.Errorf("quoted image with comment: %v\n%s", err, out)
	}
	// A cycle of extends is an error, not a hang.
	fs = files{"/s/c.yml": "services:\n  a: {extends: b}\n  b: {extends: a}\n"}
	if _, _, _, err := RewriteImageTags([]string{"/s/c.yml"}, fs.read, []string{"a"}, "2"); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("extends cycle: err = %v", err)
	}
	fs = files{"/s/c.yml": "services:\n  a:\n    extends: {file: \"${COMMON}\", service: base}\n"}
	if _, _, _, err := RewriteImageTags([]string{"/s/c.yml"}, fs.read, []string{"a"}, "2"); err == nil || !strings.Contains(err.Error(), "variable") {
		t.Errorf("extends.file from a variable: err = %v", err)
	}
}

// TestRewriteImageTagsFollowsComposeStructure: the image is rewritten
// where it is written, however the service reaches it — an anchor merged
// into several services, an alias, extends in the same or another file,
// a service of an included file, an override file — and nothing else in
// any file moves.
func TestRewriteImageTagsFollowsComposeStructure(t *testing.T) {
	tests := []struct {
		name     string
		fs       files
		files    []string
		services []string
		want     map[string]string // file → its new content
		changed  int
	}{
		{
			name: "merge key of an x- anchor, shared by two services",
			fs: files{"/s/c.yml": `x-app: &app
  image: acme/shop:1.0 # the app
  restart: always
services:
  web:
    <<: *app
    command: web
  worker:
    <<: [*app]
    command: worker
  redis: {image: redis:7}
`},
			files: []string{"/s/c.yml"}, services: []string{"web", "worker"}, changed: 2,
			want: map[string]string{"/s/c.yml": `x-app: &app
  image: acme/shop:2.0 # the app
  restart: always
services:
  web:
    <<: *app
    command: web
  worker:
    <<: [*app]
    command: worker
  redis: {image: redis:7}
`},
		},
		{
			name: "a service's own image wins over its merge key",
			fs: files{"/s/c.yml": `x-app: &app {image: acme/shop:1.0}
services:
  web:
    <<: *app
  old:
    <<: *app
    image: acme/shop:0.9
`},
			files: []string{"/s/c.yml"}, services: []string{"old"}, changed: 1,
			want: map[string]string{"/s/c.yml": `x-app: &app {image: acme/shop:1.0}
services:
  web:
    <<: *app
  old:
    <<: *app
    image: acme/shop:2.0
`},
		},
		{
			name: "alias of an anchored scalar",
			fs: files{"/s/c.yml": `x-image: &img "acme/shop:1.0"
services:
  web: {image: *img}
  worker:
    image: *img
`},
			files: []string{"/s/c.yml"}, services: []string{"web", "worker"}, changed: 2,
			want: map[string]string{"/s/c.yml": `x-image: &img "acme/shop:2.0"
services:
  web: {image: *img}
  worker:
    image: *img
`},
		},
		{
			name: "extends in another file, and in the same file",
			fs: files{
				"/s/compose.yml": `services:
  web:
    extends:
      file: ./common/base.yml
      service: app
  worker:
    extends: web
    command: worker
`,
				"/s/common/base.yml": `services:
  app:
    image: ghcr.io/acme/shop:1.0
`,
			},
			files: []string{"/s/compose.yml"}, services: []string{"web", "worker"}, changed: 2,
			want: map[string]string{"/s/common/base.yml": `services:
  app:
    image: ghcr.io/acme/shop:2.0
`},
		},
		{
			name: "a service of an included file, overridden by a later -f file",
			fs: files{
				"/s/compose.yml":          "include:\n  - path: ./app/compose.yml\nservices:\n  redis: {image: redis:7}\n",
				"/s/app/compose.yml":      "services:\n  web:\n    image: acme/shop:1.0\n  api:\n    image: acme/api:1.0\n",
				"/s/compose.override.yml": "services:\n  api:\n    image: acme/api:1.0-custom\n",
			},
			files: []string{"/s/compose.yml", "/s/compose.override.yml"}, services: []string{"web", "api"}, changed: 2,
			want: map[string]string{
				"/s/app/compose.yml":      "services:\n  web:\n    image: acme/shop:2.0\n  api:\n    image: acme/api:1.0\n",
				"/s/compose.override.yml": "services:\n  api:\n    image: acme/api:2.0\n",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, found, err := RewriteImageTags(tt.files, tt.fs.read, tt.services, "2.0")
			if err != nil {
				t.Fatal(err)
			}
			if len(changed) != tt.changed || len(found) != len(tt.services) {
				t.Errorf("changed %v, found %v", changed, found)
			}
			for f, want := range tt.want {
				if string(out[f]) != want {
					t.Errorf("%s:\n%s\nwant\n%s", f, out[f], want)
				}
			}
			for f := range out {
				if _, ok := tt.want[f]; !ok {
					t.Errorf("%s changed, should not", f)
				}
			}
			if strings.Contains(tt.name, "anchor") && !slices.ContainsFunc(changed, func(c string) bool { return strings.Contains(c, "through the anchor &") }) {
				t.Errorf("changed %v does not say it went through the anchor", changed)
			}
		})
	}
}

func TestComposeTree(t *testing.T) {
	fs := files{
		"/s/compose.yml":     "include: [./app/compose.yml]\nservices:\n  web:\n    extends: {file: common.yml, service: app}\n",
		"/s/app/compose.yml": "services:\n  api:\n    extends: {file: ../common.yml, service: app}\n",
		"/s/common.yml":      "services:\n  app: {image: a/b:1}\n",
		"/s/override.yml":    "services: {}\n",
	}
	got := newComposeDocs(fs.read).tree([]string{"/s/compose.yml", "/s/override.yml"})
	want := []string{"/s/compose.yml", "/s/app/compose.yml", "/s/common.yml", "/s/override.yml"}
	if !slices.Equal(got, want) {
		t.Errorf("tree %v, want %v", got, want)
	}
}
