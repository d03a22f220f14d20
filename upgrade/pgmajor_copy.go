package upgrade

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// pgReadyTimeout bounds the new server's first start (initdb included).
const pgReadyTimeout = 2 * time.Minute

// ---- copy the data into the new major

type pgCopyStep struct {
	env *Env
	m   PostgresMajor
}

func (s *pgCopyStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: id(s.m.hopID(), "copy"), Hop: s.m.hopID(), Name: "Copy the databases into PostgreSQL " + strconv.Itoa(s.m.ToMajor),
		Explain: fmt.Sprintf("Starts PostgreSQL %d from %s on a new named volume (the database service's own settings, an internal network, nothing published), copies the roles (pg_dumpall --globals-only) and restores every database from the backup just made, then compares every table's row count and checksum with the old server's. The old server and its volume are not changed; if anything differs, the new volume is removed and the app started again.", s.m.ToMajor, s.m.Image),
		Touches: []string{"creates a volume for PostgreSQL " + strconv.Itoa(s.m.ToMajor), "starts and removes a server container (labelled io.upshift.scratch)"},
	}
}

func (s *pgCopyStep) Run(ctx context.Context, sink steps.Sink) error {
	err := s.run(ctx, sink)
	if err == nil {
		return nil
	}
	e := s.env
	if e.needsRollback(e.Start.Report.Version) {
		return err
	}
	// Nothing was switched: the old server runs on its untouched volume.
	// Start the app again rather than leave it down.
	sink.Log("the copy into PostgreSQL " + strconv.Itoa(s.m.ToMajor) + " failed; starting the app again on the old server (nothing else was changed)")
	if serr := e.Compose.Run(context.WithoutCancel(ctx), sink.Log, append([]string{"start"}, e.Writers()...)...); serr != nil {
		return fmt.Errorf("%w; and restarting the app failed too: %w. Start it with docker compose start", err, serr)
	}
	return fmt.Errorf("%w. Nothing was changed: the app runs again on PostgreSQL %d", err, s.m.FromMajor)
}

func (s *pgCopyStep) run(ctx context.Context, sink steps.Sink) (err error) {
	e := s.env
	if err := e.pgPorts(); err != nil {
		return err
	}
	set := e.newestPoint()
	if set == nil || len(set.Manifest.Databases) == 0 {
		return errors.New("no backup of the databases was made in this hop, so there is nothing to copy. Nothing was changed")
	}
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	l, err := e.pgLayoutOf(det)
	if err != nil {
		return err
	}
	w, err := e.pgSwitchOf(det, l, s.m)
	if err != nil {
		return err
	}
	if w.done {
		return errors.New("the compose files point at the new volume already, but the old server still runs: refusing to overwrite what the new volume holds. Nothing was changed. Roll back (upshift rollback) or finish by hand")
	}
	vol := e.pgVolumeName(w.newVolume)
	if e.CleanupScratch != nil {
		// A killed earlier attempt's server may still hold the volume.
		if err := e.CleanupScratch(ctx); err != nil {
			sink.Log("• could not remove leftover scratch servers: " + err.Error())
		}
	}
	if err := s.freshVolume(ctx, vol, w.newVolume, sink); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// Not switched to: what it holds is of no use.
			if rerr := e.PG.RemoveVolume(context.WithoutCancel(ctx), vol); rerr != nil {
				sink.Log("• could not remove the new volume " + vol + ": " + rerr.Error())
			}
		}
	}()
	id, remove, err := e.PG.StartServer(ctx, dockerx.ScratchSpec{
		Image: s.m.Image, Env: l.env, DataDir: l.dataDir, Volume: vol, Purpose: "pg-major",
	})
	if err != nil {
		return fmt.Errorf("start PostgreSQL %d from %s: %w", s.m.ToMajor, s.m.Image, err)
	}
	defer func() {
		if rerr := remove(context.WithoutCancel(ctx)); rerr != nil {
			sink.Log("• could not remove the copy's server container: " + rerr.Error())
		}
	}()
	p := det.DB.Params
	old := backup.DBSource{Container: det.DB.Container, User: p.User, Password: p.Password, Database: p.Database}
	next := backup.DBSource{Container: id, User: p.User, Password: p.Password, Database: p.Database, Host: "127.0.0.1"}
	sink.Log(fmt.Sprintf("• PostgreSQL %d starting on the volume %s", s.m.ToMajor, vol))
	if err := e.PG.WaitServer(ctx, next, pgReadyTimeout); err != nil {
		return err
	}
	num, err := e.PG.ServerVersionNum(ctx, next)
	if err != nil {
		return err
	}
	if majorOf(num) != s.m.ToMajor {
		return fmt.Errorf("the image %s runs PostgreSQL %d, not %d. Nothing was changed. Fix: name an image of PostgreSQL %d (--postgres-image)", s.m.Image, majorOf(num), s.m.ToMajor, s.m.ToMajor)
	}
	sink.Log("• copying the roles")
	if err := e.PG.CopyGlobals(ctx, old, next, sink.Log); err != nil {
		return err
	}
	if err := s.emptyDatabases(ctx, set, old, next, sink); err != nil {
		return err
	}
	started := time.Now()
	sink.Log(fmt.Sprintf("• restoring %d database(s) from %s", len(set.Manifest.Databases), set.ID))
	if err := e.Backups.RestoreDatabase(ctx, set, next, func(pr backup.Progress) {
		if pr.Line != "" {
			sink.Log(pr.Line)
		}
		if pr.Total > 0 {
			sink.Progress(pr.Done, pr.Total)
		}
	}); err != nil {
		return fmt.Errorf("restore into PostgreSQL %d: %w", s.m.ToMajor, err)
	}
	n, err := e.PG.CompareServer(ctx, set, next)
	if err != nil {
		return fmt.Errorf("PostgreSQL %d does not hold what the old server held: %w", s.m.ToMajor, err)
	}
	sink.Log(fmt.Sprintf("✓ restored into PostgreSQL %d in %s; %d tables, every row count and checksum equal to the old server's", s.m.ToMajor, time.Since(started).Round(100*time.Millisecond), n))
	// A clean shutdown (a checkpoint), so the first start under compose
	// needs no recovery.
	if err := e.Docker.Stop(ctx, id, time.Minute); err != nil {
		return fmt.Errorf("stop the copy's server: %w", err)
	}
	return nil
}

// freshVolume creates the new major's volume with compose's labels (so
// `docker compose up` adopts it as the project's), replacing one a failed
// earlier attempt of upshift left; any other volume of that name is refused.
func (s *pgCopyStep) freshVolume(ctx context.Context, name, key string, sink steps.Sink) error {
	e := s.env
	labels, ok, err := e.PG.VolumeLabels(ctx, name)
	if err != nil {
		return err
	}
	if ok {
		if labels[dockerx.LabelPGMajor] == "" {
			return fmt.Errorf("a volume %s exists already and upshift did not make it. Nothing was changed. Fix: remove or rename it if it is not needed", name)
		}
		sink.Log("• removing " + name + ", left by an earlier attempt that never switched to it")
		if err := e.PG.RemoveVolume(ctx, name); err != nil {
			return err
		}
	}
	return e.PG.CreateVolume(ctx, name, map[string]string{
		dockerx.LabelComposeProject: e.Project.Name,
		dockerx.LabelComposeVolume:  key,
		dockerx.LabelPGMajor:        strconv.Itoa(s.m.ToMajor),
	})
}

// emptyDatabases creates on the new server the old server's databases that
// hold nothing (so the backup has no dump of them), with their owner.
func (s *pgCopyStep) emptyDatabases(ctx context.Context, set *backup.Set, old, next backup.DBSource, sink steps.Sink) error {
	e := s.env
	have, err := e.PG.ListDatabases(ctx, next)
	if err != nil {
		return err
	}
	dbs, err := e.PG.ListDatabases(ctx, old)
	if err != nil {
		return err
	}
	for _, d := range dbs {
		if !d.Empty || slices.ContainsFunc(have, func(h backup.ServerDatabase) bool { return h.Name == d.Name }) ||
			slices.ContainsFunc(set.Manifest.Databases, func(b backup.DatabaseEntry) bool { return b.Name == d.Name }) {
			continue
		}
		if err := e.PG.CreateDatabase(ctx, next, d.Name, d.Owner); err != nil {
			return err
		}
		sink.Log("• created the empty database " + d.Name + " (owner " + d.Owner + ")")
	}
	return nil
}
