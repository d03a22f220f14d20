package upgrade

import (
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

// An optional volume no container mounts is left out of the backup and
// reported; a required one stops the backup before anything is written.
func TestBackupSourceOptionalVolumes(t *testing.T) {
	dir := t.TempDir()
	det := &detect.Result{Stack: &detect.Stack{}, Containers: map[string]dockerx.Container{
		"api": {ID: "c1", Mounts: []dockerx.Mount{{Type: "bind", Source: dir + "/volumes/app/storage", Destination: "/app/api/storage"}}},
	}}
	env := &Env{Profile: &profile.Profile{Name: "dify", Volumes: []profile.Volume{
		{Name: "app-storage", Service: "api", Mount: "/app/api/storage"},
		{Name: "dify_config", Mount: "/state", Optional: true},
	}}}
	env.Project = dockerx.Project{Name: "dify", WorkingDir: dir}
	env.Start = det
	vols, skipped, err := env.backupVolumes(det)
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) != 1 || vols[0].Path != "/app/api/storage" || vols[0].Container != "c1" {
		t.Errorf("volumes %+v", vols)
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0], "dify_config") {
		t.Errorf("skipped %v", skipped)
	}
	env.Profile.Volumes[1].Optional = false
	if _, _, err := env.backupVolumes(det); err == nil || !strings.Contains(err.Error(), "dify_config") {
		t.Errorf("a missing required volume: %v", err)
	}
}
