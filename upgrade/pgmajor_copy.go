package upgrade

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
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
		Explain: fmt.Sprintf("Compares every table's row count and checksum in PostgreSQL %d with the old server's at the stop. The databases were restored into it while they were dumped; when that did not happen (a resumed run, or a failed restore), they are restored from the backup just made first, after the roles (pg_dumpall --globals-only). The old server and its volume are not changed; if anything differs, the new volume is removed and the app started again.", s.m.ToMajor),
		Touches: []string{"the new volume of PostgreSQL " + strconv.Itoa(s.m.ToMajor), "removes its server container (labelled io.upshift.scratch)"},
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
	next := e.takePrepared(s.m.hopID())
	if next == nil {
		// A resumed run: the server of the prepare step is gone.
		sink.Log(fmt.Sprintf("• no PostgreSQL %d server was started before the stop (a resumed run): starting one now", s.m.ToMajor))
		if next, err = e.startNewServer(ctx, s.m, sink); err != nil {
			return err
		}
	}
	defer func() {
		if err != nil {
			// Not switched to: what it holds is of no use.
			e.dropPrepared(context.WithoutCancel(ctx), next, sink.Log)
		} else if rerr := next.remove(context.WithoutCancel(ctx)); rerr != nil {
			sink.Log("• could not remove the copy's server container: " + rerr.Error())
		}
	}()
	p := det.DB.Params
	old := backup.DBSource{Container: det.DB.Container, User: p.User, Password: p.Password, Database: p.Database}
	started := time.Now()
	if set.Copy.Complete(set) {
		sink.Log(fmt.Sprintf("✓ %d database(s) were restored into PostgreSQL %d while they were dumped", len(set.Copy.Databases), s.m.ToMajor))
	} else {
		if set.Copy == nil {
			// The backup copied nothing, not even the roles.
			sink.Log("• copying the roles")
			if err := e.PG.CopyGlobals(ctx, old, next.db, sink.Log); err != nil {
				return err
			}
		}
		sink.Log(fmt.Sprintf("• restoring %d database(s) from %s", len(set.Manifest.Databases), set.ID))
		if err := e.Backups.RestoreDatabase(ctx, set, next.db, func(pr backup.Progress) {
			if pr.Line != "" {
				sink.Log(pr.Line)
			}
			if pr.Total > 0 {
				sink.Progress(pr.Done, pr.Total)
			}
		}); err != nil {
			return fmt.Errorf("restore into PostgreSQL %d: %w", s.m.ToMajor, err)
		}
	}
	if err := s.emptyDatabases(ctx, set, old, next.db, sink); err != nil {
		return err
	}
	n, err := e.PG.CompareServer(ctx, set, next.db)
	if err != nil {
		return fmt.Errorf("PostgreSQL %d does not hold what the old server held: %w", s.m.ToMajor, err)
	}
	sink.Log(fmt.Sprintf("✓ PostgreSQL %d holds %d tables, every row count and checksum equal to the old server's at the stop (%s)", s.m.ToMajor, n, time.Since(started).Round(100*time.Millisecond)))
	// A clean shutdown (a checkpoint), so the first start under compose
	// needs no recovery.
	if err := e.Docker.Stop(ctx, next.id, time.Minute); err != nil {
		return fmt.Errorf("stop the copy's server: %w", err)
	}
	return nil
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
