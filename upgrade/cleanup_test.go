package upgrade

import (
	"context"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

func TestCleanup(t *testing.T) {
	// The run started on 1.0.0 (api and worker share an image); 2.0.0 runs now.
	upgraded := func(t *testing.T) *fixture {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.docker.containers = []dockerx.Container{
			{ID: "c-db", Image: "postgres:16-alpine", ImageID: "sha256:pg"},
			{ID: "c-api", Image: "upshift-demo/app:2.0.0", ImageID: "sha256:v2"},
			{ID: "c-worker", Image: "upshift-demo/app:2.0.0", ImageID: "sha256:v2"},
		}
		return f
	}
	t.Run("removes the old app image no container or backup uses", func(t *testing.T) {
		f := upgraded(t)
		s := &cleanupStep{env: f.env}
		if skip, why := s.Skip(context.Background()); skip {
			t.Fatalf("skipped: %s", why)
		}
		if err := s.Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		// Once, and never the database image.
		if !equalStrings(f.docker.removed, []string{"upshift-demo/app:1.0.0"}) {
			t.Errorf("removed %v", f.docker.removed)
		}
		if !f.sink.has("removed upshift-demo/app:1.0.0") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("an image a backup set refers to is kept: skip", func(t *testing.T) {
		f := upgraded(t)
		set := testSet("s1", "1.0.0")
		set.Manifest.Images = []backup.ServiceImage{{Service: "api", Ref: "upshift-demo/app:1.0.0", ID: "sha256:upshift-demo/app:1.0.0"}}
		f.backups.sets = []*backup.Set{set}
		skip, why := (&cleanupStep{env: f.env}).Skip(context.Background())
		if !skip || why == "" {
			t.Errorf("skip %v %q", skip, why)
		}
	})
	t.Run("referenced by image ID only: kept", func(t *testing.T) {
		f := upgraded(t)
		set := testSet("s1", "1.0.0")
		set.Manifest.Images = []backup.ServiceImage{{Service: "api", Ref: "retagged:x", ID: "sha256:upshift-demo/app:1.0.0"}}
		f.backups.sets = []*backup.Set{set}
		if skip, _ := (&cleanupStep{env: f.env}).Skip(context.Background()); !skip {
			t.Error("not skipped")
		}
	})
	t.Run("nothing changed: every image in use, skip", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		for _, c := range f.det.res.Containers {
			f.docker.containers = append(f.docker.containers, c)
		}
		if skip, _ := (&cleanupStep{env: f.env}).Skip(context.Background()); !skip {
			t.Error("not skipped")
		}
	})
	t.Run("an image that cannot be removed is kept and said", func(t *testing.T) {
		f := upgraded(t)
		f.docker.removeErr = map[string]error{"upshift-demo/app:1.0.0": errFake}
		if err := (&cleanupStep{env: f.env}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if !f.sink.has("kept upshift-demo/app:1.0.0: fake failure") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("the containers cannot be listed", func(t *testing.T) {
		f := upgraded(t)
		f.docker.listErr = errFake
		if skip, why := (&cleanupStep{env: f.env}).Skip(context.Background()); !skip || why != "fake failure" {
			t.Errorf("skip %v %q", skip, why)
		}
		wantErr(t, (&cleanupStep{env: f.env}).Run(context.Background(), f.sink), "fake failure")
		if len(f.docker.removed) != 0 {
			t.Errorf("removed %v", f.docker.removed)
		}
	})
	t.Run("the backup sets cannot be listed: nothing removed", func(t *testing.T) {
		f := upgraded(t)
		set := testSet("s1", "1.0.0")
		set.Manifest.Images = []backup.ServiceImage{{Service: "api", Ref: "upshift-demo/app:1.0.0"}}
		f.backups.sets = []*backup.Set{set}
		f.backups.listErr = errFake
		err := (&cleanupStep{env: f.env}).Run(context.Background(), f.sink)
		wantErr(t, err, "list the backup sets")
		if len(f.docker.removed) > 0 {
			t.Errorf("removed %v, which a backup set may need", f.docker.removed)
		}
	})
}
