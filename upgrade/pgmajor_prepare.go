package upgrade

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- start the new major's server before the downtime

// pgPrepared is the new major's server, started on its new volume while
// the app still runs: its first start (initdb) is no downtime.
type pgPrepared struct {
	hop    string
	id     string // container
	volume string // Docker name of the new data volume
	place  pgPlace
	db     backup.DBSource
	remove func(context.Context) error // the container, never the volume
}

type pgPrepareStep struct {
	env *Env
	m   PostgresMajor
}

func (s *pgPrepareStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: id(s.m.hopID(), "prepare"), Hop: s.m.hopID(), Name: "Start PostgreSQL " + strconv.Itoa(s.m.ToMajor) + " on a new data directory",
		Explain: fmt.Sprintf("While the app still runs, creates the new named volume (or, for a data directory kept in a directory of the host, a new directory next to it) and starts PostgreSQL %d from %s on it (the database service's own settings, an internal network, nothing published), so its first start is not part of the downtime. It holds nothing yet; if the run stops before the switch, the server and the new volume or directory are removed.", s.m.ToMajor, s.m.Image),
		Touches: []string{"creates a volume or directory for PostgreSQL " + strconv.Itoa(s.m.ToMajor), "starts a server container (labelled io.upshift.scratch)"},
	}
}

func (s *pgPrepareStep) Run(ctx context.Context, sink steps.Sink) error {
	if err := s.env.pgPorts(); err != nil {
		return err
	}
	p, err := s.env.startNewServer(ctx, s.m, sink)
	if err != nil {
		return fmt.Errorf("%w. Nothing was changed: the app still runs on PostgreSQL %d", err, s.m.FromMajor)
	}
	s.env.mu.Lock()
	old := s.env.pgNext
	s.env.pgNext = p
	s.env.mu.Unlock()
	if old != nil {
		s.env.dropPrepared(context.WithoutCancel(ctx), old, sink.Log)
	}
	return nil
}

// startNewServer creates the hop's new volume (replacing one an earlier
// attempt left) and starts the new major on it, checked to run that major.
// On failure nothing of it is left.
func (e *Env) startNewServer(ctx context.Context, m PostgresMajor, sink steps.Sink) (p *pgPrepared, err error) {
	det, err := e.detectNow(ctx)
	if err != nil {
		return nil, err
	}
	l, err := e.pgLayoutOf(det)
	if err != nil {
		return nil, err
	}
	w, err := e.pgSwitchOf(det, l, m)
	if err != nil {
		return nil, err
	}
	if w.done {
		return nil, errors.New("the compose files point at the new volume already, but the old server still runs: refusing to overwrite what the new volume holds. Roll back (upshift rollback) or finish by hand")
	}
	place, err := e.pgPlaceOf(l, w, m)
	if err != nil {
		return nil, err
	}
	if e.CleanupScratch != nil {
		// A killed earlier attempt's server may still hold the volume.
		if err := e.CleanupScratch(ctx); err != nil {
			sink.Log("• could not remove leftover scratch servers: " + err.Error())
		}
	}
	spec := dockerx.ScratchSpec{Image: m.Image, Env: l.env, DataDir: l.dataDir, Purpose: "pg-major"}
	if place.dir != "" {
		note := fmt.Sprintf("PostgreSQL %d data directory of the compose project %s, made by upshift for a major upgrade; this file says so (an unfinished attempt's directory is replaced).", m.ToMajor, e.Project.Name)
		if err := e.PG.FreshDataDir(ctx, place.image, place.dir, l.bindDir, note); err != nil {
			return nil, err
		}
		spec.BindDir = place.dir
	} else {
		if err := e.freshPGVolume(ctx, place.volume, w.newVolume, m, sink); err != nil {
			return nil, err
		}
		spec.Volume = place.volume
	}
	p = &pgPrepared{hop: m.hopID(), volume: place.volume, place: place}
	defer func() {
		if err != nil {
			e.dropPrepared(context.WithoutCancel(ctx), p, sink.Log)
		}
	}()
	id, remove, err := e.PG.StartServer(ctx, spec)
	if err != nil {
		return p, fmt.Errorf("start PostgreSQL %d from %s: %w", m.ToMajor, m.Image, err)
	}
	pp := det.DB.Params
	p.id, p.remove = id, remove
	p.db = backup.DBSource{Container: id, User: pp.User, Password: pp.Password, Database: pp.Database, Host: "127.0.0.1"}
	sink.Log(fmt.Sprintf("• PostgreSQL %d starting on %s", m.ToMajor, place))
	if err := e.PG.WaitServer(ctx, p.db, pgReadyTimeout); err != nil {
		return p, err
	}
	num, err := e.PG.ServerVersionNum(ctx, p.db)
	if err != nil {
		return p, err
	}
	if majorOf(num) != m.ToMajor {
		return p, fmt.Errorf("the image %s runs PostgreSQL %d, not %d. Fix: name an image of PostgreSQL %d (--postgres-image)", m.Image, majorOf(num), m.ToMajor, m.ToMajor)
	}
	sink.Log(fmt.Sprintf("✓ PostgreSQL %d (server_version_num %d) runs on %s, empty", m.ToMajor, num, place))
	return p, nil
}

// pgPrepared hands over the server prepared for hop (nil if none).
func (e *Env) pgPrepared(hop string) *pgPrepared {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pgNext == nil || e.pgNext.hop != hop {
		return nil
	}
	return e.pgNext
}

// takePrepared removes the prepared server from the run's keeping: the
// caller now owns it.
func (e *Env) takePrepared(hop string) *pgPrepared {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.pgNext
	if p == nil || (hop != "" && p.hop != hop) {
		return nil
	}
	e.pgNext = nil
	return p
}

// dropPrepared removes a prepared server and its volume or directory:
// nothing was switched to it.
func (e *Env) dropPrepared(ctx context.Context, p *pgPrepared, log func(string)) {
	if p.remove != nil {
		if err := p.remove(ctx); err != nil {
			log("• could not remove the new server's container: " + err.Error())
		}
	}
	if p.volume != "" {
		if err := e.PG.RemoveVolume(ctx, p.volume); err != nil {
			log("• could not remove the new volume " + p.volume + ": " + err.Error())
		}
	}
	if p.place.dir != "" {
		if err := e.PG.RemoveDataDir(ctx, p.place.image, p.place.dir); err != nil {
			log("• could not remove the new data directory " + p.place.dir + ": " + err.Error())
		}
	}
}

// freshPGVolume creates the new major's volume with compose's labels (so
// `docker compose up` adopts it as the project's), replacing one a failed
// earlier attempt of upshift left; any other volume of that name is refused.
func (e *Env) freshPGVolume(ctx context.Context, name, key string, m PostgresMajor, sink steps.Sink) error {
	labels, ok, err := e.PG.VolumeLabels(ctx, name)
	if err != nil {
		return err
	}
	if ok {
		if labels[dockerx.LabelPGMajor] == "" {
			return fmt.Errorf("a volume %s exists already and upshift did not make it. Fix: remove or rename it if it is not needed", name)
		}
		sink.Log("• removing " + name + ", left by an earlier attempt that never switched to it")
		if err := e.PG.RemoveVolume(ctx, name); err != nil {
			return err
		}
	}
	return e.PG.CreateVolume(ctx, name, map[string]string{
		dockerx.LabelComposeProject: e.Project.Name,
		dockerx.LabelComposeVolume:  key,
		dockerx.LabelPGMajor:        strconv.Itoa(m.ToMajor),
	})
}
