package dockerx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Labels on everything a scratch server is made of (container, network,
// volume), so that CleanupScratch finds leftovers after a crash.
const (
	LabelScratch    = "io.upshift.scratch"     // "1"
	LabelScratchRun = "io.upshift.scratch.run" // the run id shared by the three parts
	LabelScratchPID = "io.upshift.scratch.pid" // the upshift process that owns it
	LabelScratchBy  = "io.upshift.scratch.host"
)

// scratchMaxAge is when a scratch part is a leftover whatever its owner
// seems to be (a PID reused on the owner's host, an owner on another host).
const scratchMaxAge = 24 * time.Hour

// ErrImageMissing means the image a scratch container should run is not on
// this host (upshift never pulls it behind the admin's back).
var ErrImageMissing = errors.New("image not on this host")

// ScratchSpec describes a throw-away server container.
type ScratchSpec struct {
	Image   string   // image ID or reference; must be present locally
	Env     []string // e.g. POSTGRES_PASSWORD=...
	DataDir string   // where the fresh anonymous volume is mounted (the image's data directory)
	// Aliases are extra names of the server on its network (the app's DB
	// service name, so an app container on it connects unchanged).
	Aliases []string
	// Volume, when set, is a named volume mounted at DataDir instead of a
	// fresh anonymous one; Remove keeps it (a PostgreSQL major upgrade
	// fills the new server's data volume this way).
	Volume string
	// BindDir, when set, is a directory of the engine's host bind-mounted at
	// DataDir instead (a data directory the compose file keeps in a bind
	// mount); Remove keeps it too.
	BindDir string
	Purpose string // recorded in LabelHelper
	// Fill, when set, runs after the container is created and before its
	// first start: its volumes are there and nothing runs on them yet (a
	// copy of a data directory is put in place, so the image's entrypoint
	// finds a server to start rather than initialising a new one). An
	// error removes everything, as a failed start does.
	Fill func(ctx context.Context, s *Scratch) error

	pid int // owner recorded in LabelScratchPID; tests fake a dead one
}

// Scratch is a running throw-away container on its own internal network
// with its own anonymous volume. Remove it on every path.
type Scratch struct {
	ID      string // container ID
	RunID   string
	Network string // network ID
	eng     *Engine
	image   string
	labels  map[string]string // of every part of this run
}

// StartScratch creates an internal network (no route out, nothing published),
// and starts a container from spec.Image on it with a fresh anonymous volume
// at spec.DataDir. Everything is labelled LabelScratch plus a run id. On any
// error whatever was created is removed again before it returns.
func (e *Engine) StartScratch(ctx context.Context, spec ScratchSpec) (_ *Scratch, err error) {
	if _, ok, ierr := e.ImageInspect(ctx, spec.Image); ierr != nil {
		return nil, ierr
	} else if !ok {
		return nil, fmt.Errorf("%w: %s. Nothing was changed. Fix: docker pull or build %s, or name another PostgreSQL image of the same major version", ErrImageMissing, spec.Image, spec.Image)
	}
	run := newRunID()
	pid := spec.pid
	if pid == 0 {
		pid = os.Getpid()
	}
	host, _ := os.Hostname()
	labels := map[string]string{LabelScratch: "1", LabelScratchRun: run, LabelScratchPID: strconv.Itoa(pid), LabelScratchBy: host}
	s := &Scratch{RunID: run, eng: e, image: spec.Image, labels: labels}
	defer func() {
		if err != nil {
			_ = s.Remove(ctx)
		}
	}()
	nw, err := e.c.NetworkCreate(ctx, "upshift-scratch-"+run, client.NetworkCreateOptions{
		Driver: "bridge", Internal: true, Labels: labels,
	})
	if err != nil {
		return nil, fmt.Errorf("create internal network for a scratch container: %w", err)
	}
	s.Network = nw.ID
	purpose := spec.Purpose
	if purpose == "" {
		purpose = "scratch"
	}
	cl := map[string]string{LabelHelper: purpose}
	for k, v := range labels {
		cl[k] = v
	}
	var mounts []mount.Mount
	switch {
	case spec.DataDir != "" && spec.BindDir != "":
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: spec.BindDir, Target: spec.DataDir})
	case spec.DataDir != "" && spec.Volume != "":
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: spec.Volume, Target: spec.DataDir})
	case spec.DataDir != "":
		// No Source: Docker makes a new anonymous volume, seeded from the
		// image's directory (ownership included), removed with the container.
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Target: spec.DataDir, VolumeOptions: &mount.VolumeOptions{Labels: labels}})
	}
	name := "upshift-scratch-" + run
	res, err := e.c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   name,
		Config: &container.Config{Image: spec.Image, Env: spec.Env, Labels: cl},
		HostConfig: &container.HostConfig{
			NetworkMode: container.NetworkMode(name),
			Mounts:      mounts,
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{name: {Aliases: spec.Aliases}}},
	})
	if err != nil {
		return nil, fmt.Errorf("create scratch container from %s: %w", shortID(spec.Image), err)
	}
	s.ID = res.ID
	if spec.Fill != nil {
		if err := spec.Fill(ctx, s); err != nil {
			return nil, err
		}
	}
	if err := e.Start(ctx, s.ID); err != nil {
		return nil, explainScratchStart(err)
	}
	return s, nil
}

func explainScratchStart(err error) error {
	if strings.Contains(err.Error(), "no space left") {
		return fmt.Errorf("the Docker host has no space left for a scratch database: %w. Nothing of the live stack was touched. Fix: free space where Docker keeps its volumes (docker info: Docker Root Dir)", err)
	}
	return err
}

func newRunID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Remove deletes the container with its anonymous volumes, then the network
// and any volume of this run. It ignores ctx cancellation (its own deadline),
// so that a cancelled operation still cleans up.
func (s *Scratch) Remove(ctx context.Context) error {
	return s.eng.removeScratch(ctx, s.RunID, nil)
}

// CleanupScratch removes the scratch containers, networks and volumes that
// upshift left behind (a crash, a kill -9): those whose owning process on
// this host is gone, and any older than a day. A scratch server of another
// upshift still running (another stack on the same engine) is left alone.
// Call it before work that may create scratch servers (preflight, resume);
// it touches nothing that is not labelled LabelScratch.
func (e *Engine) CleanupScratch(ctx context.Context) error {
	return e.removeScratch(ctx, "", isLeftover)
}

// isLeftover says whether a scratch part with labels, made at created, has
// lost its owner.
func isLeftover(labels map[string]string, created time.Time) bool {
	if !created.IsZero() && time.Since(created) > scratchMaxAge {
		return true
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(labels[LabelScratchPID])
	if err != nil || pid <= 0 {
		return true // made without an owner: nobody will remove it
	}
	if labels[LabelScratchBy] != host {
		return false // its owner may live on another host sharing this engine
	}
	return !processAlive(pid)
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ScratchLeftovers lists the IDs of labelled scratch containers, networks
// and volumes that exist now (for tests and diagnostics).
func (e *Engine) ScratchLeftovers(ctx context.Context) ([]string, error) {
	f := make(client.Filters).Add("label", LabelScratch)
	var out []string
	cs, err := e.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list scratch containers: %w", err)
	}
	for _, c := range cs.Items {
		out = append(out, "container "+shortID(c.ID))
	}
	ns, err := e.c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list scratch networks: %w", err)
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	vs, err := e.c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list scratch volumes: %w", err)
	}
	for _, v := range vs.Items {
		out = append(out, "volume "+v.Name)
	}
	return out, nil
}

// removeScratch removes the parts of one run (run != "") or, with stale,
// every labelled part stale says is a leftover.
func (e *Engine) removeScratch(ctx context.Context, run string, stale func(map[string]string, time.Time) bool) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	sel := LabelScratch
	if run != "" {
		sel = LabelScratchRun + "=" + run
	}
	keep := func(labels map[string]string, created time.Time) bool {
		return stale != nil && !stale(labels, created)
	}
	f := make(client.Filters).Add("label", sel)
	var errs []error
	cs, err := e.c.ContainerList(rctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("list scratch containers: %w", err)
	}
	for _, c := range cs.Items {
		if keep(c.Labels, time.Unix(c.Created, 0)) {
			continue
		}
		if _, err := e.c.ContainerRemove(rctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !IsNotFound(err) {
			if !strings.Contains(err.Error(), "already in progress") {
				errs = append(errs, fmt.Errorf("remove scratch container %s: %w", shortID(c.ID), err))
				continue
			}
			// Another upshift (or test) cleans the same leftover up: wait
			// for its removal, so the network and volume can go too.
			for i := 0; i < 60; i++ {
				if _, err := e.c.ContainerInspect(rctx, c.ID, client.ContainerInspectOptions{}); IsNotFound(err) {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
	}
	ns, err := e.c.NetworkList(rctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("list scratch networks: %w", err))
	} else {
		for _, n := range ns.Items {
			if keep(n.Labels, n.Created) {
				continue
			}
			if err := retryBusy(func() error {
				_, err := e.c.NetworkRemove(rctx, n.ID, client.NetworkRemoveOptions{})
				return err //nolint:wrapcheck // wrapped below, with the network's name
			}); err != nil && !IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove scratch network %s: %w", n.Name, err))
			}
		}
	}
	vs, err := e.c.VolumeList(rctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("list scratch volumes: %w", err))
	} else {
		for _, v := range vs.Items {
			created, _ := time.Parse(time.RFC3339, v.CreatedAt)
			if keep(v.Labels, created) {
				continue
			}
			if err := retryBusy(func() error {
				_, err := e.c.VolumeRemove(rctx, v.Name, client.VolumeRemoveOptions{Force: true})
				return err //nolint:wrapcheck // wrapped below, with the volume's name
			}); err != nil && !IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove scratch volume %s: %w", v.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// retryBusy retries a removal the engine refuses while a container that
// uses the part is still being removed (by this call or a concurrent one).
func retryBusy(remove func() error) error {
	var err error
	for i := 0; i < 20; i++ {
		err = remove()
		if err == nil || (!strings.Contains(err.Error(), "active endpoints") && !strings.Contains(err.Error(), "in use")) {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
	return err
}
