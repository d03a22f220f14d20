package dockerx

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// LabelHelper marks the short-lived containers upshift creates itself, so a
// leftover (after a crash) can be recognised and removed.
const LabelHelper = "io.upshift.helper"

// HelperMount attaches a named volume or a host directory to a helper container.
type HelperMount struct {
	Volume string // docker volume name; empty for a bind mount
	Source string // host path of a bind mount
	Target string // mount point inside the helper
	// ReadOnly mounts it read-only.
	ReadOnly bool
}

// helperMounts turns ms into Docker mounts.
func helperMounts(ms []HelperMount) []mount.Mount {
	out := make([]mount.Mount, 0, len(ms))
	for _, m := range ms {
		if m.Volume != "" {
			out = append(out, mount.Mount{Type: mount.TypeVolume, Source: m.Volume, Target: m.Target, ReadOnly: m.ReadOnly})
			continue
		}
		out = append(out, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	return out
}

// HelperSpec describes a short-lived container run from an image that is
// already present locally: it never pulls and has no network.
type HelperSpec struct {
	Image   string // image ID or reference
	Cmd     []string
	Mounts  []HelperMount
	Purpose string // value of LabelHelper
}

// CreateHelper creates (without starting) a helper container and returns its
// ID. The caller removes it with RemoveContainer on every path.
func (e *Engine) CreateHelper(ctx context.Context, spec HelperSpec) (string, error) {
	mounts := helperMounts(spec.Mounts)
	purpose := spec.Purpose
	if purpose == "" {
		purpose = "helper"
	}
	res, err := e.c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:      spec.Image,
			Entrypoint: spec.Cmd,
			User:       "0:0",
			Labels:     map[string]string{LabelHelper: purpose},
		},
		HostConfig: &container.HostConfig{
			NetworkMode: "none",
			Mounts:      mounts,
		},
	})
	if err != nil {
		return "", fmt.Errorf("create helper container from %s: %w", shortID(spec.Image), err)
	}
	return res.ID, nil
}

// Start starts a created container.
func (e *Engine) Start(ctx context.Context, containerID string) error {
	if _, err := e.c.ContainerStart(ctx, containerID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", shortID(containerID), err)
	}
	return nil
}

// RemoveContainer force-removes a container (not its named volumes). It uses
// its own short deadline and ignores ctx cancellation, so that cleanup still
// happens when the operation that created the container was cancelled.
func (e *Engine) RemoveContainer(ctx context.Context, containerID string) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := e.c.ContainerRemove(rctx, containerID, client.ContainerRemoveOptions{Force: true}); err != nil {
		return fmt.Errorf("remove container %s: %w", shortID(containerID), err)
	}
	return nil
}

// PathSize returns the size of a file inside a container (running or not);
// ok is false when the path does not exist.
func (e *Engine) PathSize(ctx context.Context, containerID, path string) (int64, bool, error) {
	r, err := e.c.ContainerStatPath(ctx, containerID, client.ContainerStatPathOptions{Path: path})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("stat %s in %s: %w", path, shortID(containerID), err)
	}
	return r.Stat.Size, true, nil
}

// IsNotFound reports whether err says that a container, image, volume or
// path does not exist.
func IsNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// ReadImageFile returns a file shipped inside a local image (at most max
// bytes), read from a created, never started, container.
func (e *Engine) ReadImageFile(ctx context.Context, image, path string, max int64) ([]byte, error) {
	id, err := e.CreateHelper(ctx, HelperSpec{Image: image, Purpose: "read-image-file"})
	if err != nil {
		return nil, err
	}
	defer func() { _ = e.RemoveContainer(ctx, id) }()
	rc, err := e.CopyFrom(ctx, id, path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("read %s from %s: %w", path, image, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > max {
			return nil, fmt.Errorf("%s in %s is %d bytes, more than the %d expected", path, image, h.Size, max)
		}
		b, err := io.ReadAll(io.LimitReader(tr, max))
		if err != nil {
			return nil, fmt.Errorf("read %s from %s: %w", path, image, err)
		}
		return b, nil
	}
}
