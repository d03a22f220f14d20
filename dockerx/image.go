package dockerx

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Image is the part of an image upshift cares about.
type Image struct {
	ID          string
	RepoTags    []string
	RepoDigests []string
	Labels      map[string]string
	Env         []string
	Size        int64
}

// ImageInspect reads an image; ok is false when it does not exist locally.
func (e *Engine) ImageInspect(ctx context.Context, ref string) (Image, bool, error) {
	r, err := e.c.ImageInspect(ctx, ref)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return Image{}, false, nil
		}
		return Image{}, false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	img := Image{ID: r.ID, RepoTags: r.RepoTags, RepoDigests: r.RepoDigests, Size: r.Size}
	if r.Config != nil {
		img.Labels = r.Config.Labels
		img.Env = r.Config.Env
	}
	return img, true, nil
}

// ImageTag points target at source (an image ID or reference).
func (e *Engine) ImageTag(ctx context.Context, source, target string) error {
	if _, err := e.c.ImageTag(ctx, client.ImageTagOptions{Source: source, Target: target}); err != nil {
		return fmt.Errorf("tag %s as %s: %w", source, target, err)
	}
	return nil
}

// ImageRemove removes an image reference.
func (e *Engine) ImageRemove(ctx context.Context, ref string) error {
	if _, err := e.c.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
		return fmt.Errorf("remove image %s: %w", ref, err)
	}
	return nil
}

// BuildFile is one file of a build context.
type BuildFile struct {
	Name string
	Mode int64
	Body []byte
	Path string // read from this host path instead of Body
}

// BuildImage builds an image from an in-memory/host-file context (classic builder),
// streaming the build output lines to log.
func (e *Engine) BuildImage(ctx context.Context, tags []string, labels map[string]string, files []BuildFile, log func(string)) error {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeTar(pw, files))
	}()
	res, err := e.c.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Tags: tags, Labels: labels, Remove: true, ForceRemove: true, Dockerfile: "Dockerfile",
	})
	if err != nil {
		_ = pr.CloseWithError(err)
		return fmt.Errorf("build %s: %w", strings.Join(tags, ","), err)
	}
	defer func() { _ = res.Body.Close() }()
	dec := json.NewDecoder(res.Body)
	for {
		var m struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("build %s: reading output: %w", strings.Join(tags, ","), err)
		}
		if m.Error != "" {
			return fmt.Errorf("build %s: %s", strings.Join(tags, ","), m.Error)
		}
		if s := strings.TrimSpace(m.Stream); s != "" && log != nil {
			log(s)
		}
	}
}

func writeTar(w io.Writer, files []BuildFile) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if f.Path != "" {
			fh, err := os.Open(f.Path)
			if err != nil {
				return fmt.Errorf("build context: %w", err)
			}
			st, err := fh.Stat()
			if err != nil {
				_ = fh.Close()
				return fmt.Errorf("build context: %w", err)
			}
			if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: mode, Size: st.Size(), ModTime: time.Unix(0, 0)}); err != nil {
				_ = fh.Close()
				return fmt.Errorf("build context: %w", err)
			}
			_, err = io.Copy(tw, fh)
			_ = fh.Close()
			if err != nil {
				return fmt.Errorf("build context: %w", err)
			}
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: mode, Size: int64(len(f.Body)), ModTime: time.Unix(0, 0)}); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		if _, err := tw.Write(f.Body); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	return nil
}

// ImagePull pulls ref, reporting progress lines to log.
func (e *Engine) ImagePull(ctx context.Context, ref string, log func(string)) error {
	r, err := e.c.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	defer func() { _ = r.Close() }()
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("pull %s: %w", ref, err)
		}
		if m.Error != "" {
			return fmt.Errorf("pull %s: %s", ref, m.Error)
		}
		if log != nil && m.Status != "" {
			log(m.Status)
		}
	}
}
