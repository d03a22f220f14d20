package dockerx

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// RunOnVolumes runs cmd to its end in a short-lived container of the
// scratch server's image that has the server's volumes at the same paths
// (the server itself need not run: a ScratchSpec.Fill prepares its data
// directory this way), as root, with no network. It is labelled as a part
// of the scratch server, so Remove, and CleanupScratch after a crash, take
// it away with the volume; it is removed before RunOnVolumes returns.
// extra are more mounts (another volume to copy from, say).
func (s *Scratch) RunOnVolumes(ctx context.Context, cmd []string, purpose string, extra ...HelperMount) error {
	e := s.eng
	labels := maps.Clone(s.labels)
	labels[LabelHelper] = purpose
	res, err := e.c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: s.image, Entrypoint: cmd, User: "0:0", Labels: labels},
		HostConfig: &container.HostConfig{
			NetworkMode: "none",
			VolumesFrom: []string{s.ID},
			Mounts:      helperMounts(extra),
		},
	})
	if err != nil {
		return fmt.Errorf("create a %s container on the scratch server's volume: %w", purpose, err)
	}
	defer func() { _ = e.RemoveContainer(ctx, res.ID) }()
	if err := e.Start(ctx, res.ID); err != nil {
		return fmt.Errorf("%s: %w", purpose, err)
	}
	code, err := e.Wait(ctx, res.ID)
	if err != nil {
		return fmt.Errorf("%s: %w", purpose, err)
	}
	if code != 0 {
		var lines []string
		_ = e.Logs(ctx, res.ID, false, time.Time{}, func(l string) {
			lines = append(lines, strings.TrimSpace(l))
			if len(lines) > 3 {
				lines = lines[1:]
			}
		})
		return fmt.Errorf("%s exited with %d: %s", purpose, code, strings.Join(lines, " | "))
	}
	return nil
}
