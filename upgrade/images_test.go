package upgrade

import (
	"context"
	"errors"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

func TestImages(t *testing.T) {
	t.Run("present: no pull", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.docker.images["langgenius/dify-api:1.10.0"] = dockerx.Image{ID: "sha256:a"}
		f.docker.images["langgenius/dify-web:1.10.0"] = dockerx.Image{ID: "sha256:w"}
		if err := (&imagesStep{env: f.env, hop: "1.10.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if len(f.docker.pulled) != 0 {
			t.Errorf("pulled %v", f.docker.pulled)
		}
		if !f.sink.has("langgenius/dify-api:1.10.0 is already here") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("missing: pulled, each once", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.docker.images["langgenius/dify-web:1.10.0"] = dockerx.Image{ID: "sha256:w"}
		if err := (&imagesStep{env: f.env, hop: "1.10.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if !equalStrings(f.docker.pulled, []string{"langgenius/dify-api:1.10.0"}) {
			t.Errorf("pulled %v", f.docker.pulled)
		}
		if f.env.Changed() {
			t.Error("a pull marks the stack changed")
		}
	})
	t.Run("a tag template (nightingale)", func(t *testing.T) {
		f := newFixture(t, "nightingale", "8.0.0")
		f.env.Profile.Apply.TagTemplate = "v{{version}}"
		f.det.res.Stack.Model.Services["nightingale"] = withImage(f.det.res.Stack.Model.Services["nightingale"], "flashcatcloud/nightingale:v8.0.0")
		if err := (&imagesStep{env: f.env, hop: "8.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if !equalStrings(f.docker.pulled, []string{"flashcatcloud/nightingale:v8.1.0"}) {
			t.Errorf("pulled %v", f.docker.pulled)
		}
	})
	t.Run("a pull error says nothing was changed", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.docker.pullErr = errors.New("pull langgenius/dify-api:1.10.0: manifest unknown")
		err := (&imagesStep{env: f.env, hop: "1.10.0"}).Run(context.Background(), f.sink)
		wantErr(t, err, "manifest unknown", "Nothing was changed: the old version still runs")
	})
	t.Run("an inspect error", func(t *testing.T) {
		f := newFixture(t, "dify", "1.9.1")
		f.docker.inspectErr = errFake
		wantErr(t, (&imagesStep{env: f.env, hop: "1.10.0"}).Run(context.Background(), f.sink), "fake failure")
	})
	t.Run("BuildImage is used when set (demo)", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		var built []string
		f.env.BuildImage = func(_ context.Context, v string, log func(string)) error {
			built = append(built, v)
			log("Step 1/3")
			return nil
		}
		if err := (&imagesStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if !equalStrings(built, []string{"1.1.0"}) || len(f.docker.pulled) != 0 {
			t.Errorf("built %v pulled %v", built, f.docker.pulled)
		}
		if !f.sink.has("building upshift-demo/app:1.1.0") || !f.sink.has("Step 1/3") {
			t.Errorf("log:\n%s", f.sink.text())
		}
	})
	t.Run("a build error", func(t *testing.T) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		f.env.BuildImage = func(context.Context, string, func(string)) error { return errFake }
		wantErr(t, (&imagesStep{env: f.env, hop: "1.1.0"}).Run(context.Background(), f.sink), "fake failure")
	})
}
