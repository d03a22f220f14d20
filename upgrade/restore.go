package upgrade

import (
	"context"
	"fmt"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- restore (rollback)

type restoreStep struct {
	env *Env
	hop string
	set *backup.Set
	// confirm asks before restoring (not in an automatic rollback).
	confirm bool
}

func (s *restoreStep) Info() steps.StepInfo {
	lost := "Whatever was written to the database after " + s.set.Manifest.Finished.Local().Format(time.DateTime) + " is not in it."
	if ph := s.set.Manifest.Physical; ph != nil {
		lost = "The database is its base backup replayed (WAL) up to the stop of the app, so nothing committed before that stop is lost; the data directory is replaced, at about disk speed."
	}
	return steps.StepInfo{
		ID: id(s.hop, "restore"), Hop: s.hop, Name: "Restore backup " + s.set.ID,
		Explain: "Puts back, together, everything the backup " + s.set.ID + " holds: the database (recreated from its dump), the compose files and .env, the volumes, and the images that ran then (" + s.set.Manifest.Version + "). The set is verified first; a damaged set is refused before anything is touched. " + lost,
		Confirm: s.confirm,
		Touches: []string{"database", s.env.Dir(), "volumes", "image tags"},
	}
}

func (s *restoreStep) Run(ctx context.Context, sink steps.Sink) error {
	e := s.env
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	det = e.withStoppedDB(det, s.set, sink.Log)
	// A resumed rollback: the writes after the restore point's dump are
	// counted now (the stop is done, the restore has not begun), so the
	// result says what the rollback loses even when the killed run could
	// not.
	e.countLateWrites(ctx, sink)
	if !e.verified(s.set.ID) {
		sink.Log("verifying " + s.set.ID)
		if err := e.Backups.Verify(ctx, s.set, e.pgContainer(det)); err != nil {
			return fmt.Errorf("backup %s does not verify, nothing was restored: %w", s.set.ID, err)
		}
	}
	if (len(s.set.Manifest.Databases) > 0 || s.set.Manifest.Physical != nil) && (det.DB.Container == "" || det.DB.SQLite != nil) {
		// Restoring files and images without the database would pair an
		// old version with a newer schema: refuse before touching anything.
		return fmt.Errorf("backup %s holds a database, but no container of the %s service runs to restore it into; nothing was restored. Fix: start the database (docker compose up -d %s), then run `upshift restore %s`", s.set.ID, orDash(det.DB.Service), orDash(det.DB.Service), s.set.ID)
	}
	progress := func(p backup.Progress) {
		if p.Line != "" {
			sink.Log(p.Line)
		}
		if p.Total > 0 {
			sink.Progress(p.Done, p.Total)
		}
	}
	if e.git != nil {
		if err := e.git.undo(ctx, s.set.ID, sink.Log); err != nil {
			return fmt.Errorf("put the git clone back as it was before %s: %w", s.set.ID, err)
		}
	}
	if err := e.removeCreated(s.set.ID, sink.Log); err != nil {
		return err
	}
	sink.Log("restoring config files")
	if err := e.Backups.RestoreConfig(ctx, s.set, e.Dir()); err != nil {
		return err
	}
	sink.Log("restoring image tags")
	if err := e.Backups.RestoreImages(ctx, s.set); err != nil {
		return err
	}
	done, err := e.restorePhysical(ctx, s.set, det, s.hop == "rollback", sink, progress)
	if err != nil {
		return err
	}
	if !done && det.DB.Container != "" && det.DB.SQLite == nil {
		sink.Log("restoring the database")
		db := backup.DBSource{Container: det.DB.Container, User: det.DB.Params.User, Password: det.DB.Params.Password, Database: det.DB.Params.Database, Extra: e.Profile.DB.ExtraDatabases}
		if err := e.Backups.RestoreDatabase(ctx, s.set, db, progress); err != nil {
			return err
		}
	}
	sink.Log("restoring volumes")
	if err := e.Backups.RestoreVolumes(ctx, s.set, progress); err != nil {
		return err
	}
	if len(s.set.Manifest.SQLite) > 0 {
		// The container that held the files may have been recreated since
		// (a new image): copy into the one that mounts the file now.
		into := ""
		if det.DB.SQLite != nil {
			into = det.DB.SQLite.Container
		}
		sink.Log("restoring the SQLite database")
		if err := e.Backups.RestoreSQLite(ctx, s.set, into, progress); err != nil {
			return err
		}
	}
	e.setCurrent(s.set.Manifest.Version)
	return nil
}
