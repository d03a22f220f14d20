package dockerx

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
)

// The labels docker compose puts on the volumes it creates: a volume made
// with them is adopted by `docker compose up` as the project's own.
const (
	LabelComposeProject = "com.docker.compose.project"
	LabelComposeVolume  = "com.docker.compose.volume"
)

// LabelPGMajor marks a data volume upshift made for a PostgreSQL major
// upgrade (its value: the target major).
const LabelPGMajor = "io.upshift.pgmajor"

// VolumeLabels returns the labels of a named volume; ok is false when no
// such volume exists.
func (e *Engine) VolumeLabels(ctx context.Context, name string) (map[string]string, bool, error) {
	r, err := e.c.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		if IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("inspect volume %s: %w", name, err)
	}
	return r.Volume.Labels, true, nil
}

// CreateVolume creates a named local volume with labels.
func (e *Engine) CreateVolume(ctx context.Context, name string, labels map[string]string) error {
	if _, err := e.c.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Driver: "local", Labels: labels}); err != nil {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	return nil
}

// RemoveVolume removes a named volume (no error when it is gone already).
func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	if _, err := e.c.VolumeRemove(ctx, name, client.VolumeRemoveOptions{}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// RootDir is the engine's Docker Root Dir (where its volumes live).
func (e *Engine) RootDir(ctx context.Context) (string, error) {
	r, err := e.c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", fmt.Errorf("docker info: %w", err)
	}
	return r.Info.DockerRootDir, nil
}
