package dockerx

import (
	"context"
	"fmt"
	"maps"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// AppSpec is an app container run next to a scratch server: the app's image,
// environment and command as compose would give them, but on the scratch
// network only.
type AppSpec struct {
	Image      string
	Env        []string
	Entrypoint []string // nil: the image's
	Cmd        []string // nil: the image's
	User       string
	WorkingDir string
	// Tmpfs are directories that get an empty in-memory filesystem (where
	// the service mounts its volumes): nothing of the real stack is mounted.
	Tmpfs []string
	// ReadOnly are host paths of the real stack mounted read-only (its
	// config files): the app reads them, nothing can write to them.
	ReadOnly []Bind
	Purpose  string // recorded in LabelHelper
}

// Bind is a host path at a path in a container.
type Bind struct{ Source, Target string }

// StartApp creates and starts a container from spec on the scratch network
// and no other: no port published, no volume or bind mount of the real
// stack, labelled like the scratch server so Remove (and CleanupScratch
// after a crash) takes it away too. It returns the container ID.
func (s *Scratch) StartApp(ctx context.Context, spec AppSpec) (string, error) {
	e := s.eng
	info, err := e.c.NetworkInspect(ctx, s.Network, client.NetworkInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect the scratch network: %w", err)
	}
	labels := maps.Clone(info.Network.Labels)
	purpose := spec.Purpose
	if purpose == "" {
		purpose = "scratch-app"
	}
	labels[LabelHelper] = purpose
	mounts := make([]mount.Mount, 0, len(spec.Tmpfs))
	for _, t := range spec.Tmpfs {
		mounts = append(mounts, mount.Mount{Type: mount.TypeTmpfs, Target: t})
	}
	for _, b := range spec.ReadOnly {
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: b.Source, Target: b.Target, ReadOnly: true})
	}
	name := info.Network.Name
	res, err := e.c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image: spec.Image, Env: spec.Env, Entrypoint: spec.Entrypoint, Cmd: spec.Cmd,
			User: spec.User, WorkingDir: spec.WorkingDir, Labels: labels,
		},
		HostConfig: &container.HostConfig{
			NetworkMode: container.NetworkMode(name),
			Mounts:      mounts,
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{name: {}}},
	})
	if err != nil {
		return "", fmt.Errorf("create the app container on the scratch network from %s: %w", spec.Image, err)
	}
	if err := e.Start(ctx, res.ID); err != nil {
		_ = e.RemoveContainer(ctx, res.ID)
		return "", err
	}
	return res.ID, nil
}
