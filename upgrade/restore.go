package upgrade

import (
	"context"
	"fmt"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/detect"
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
	// The restore point of a PostgreSQL major hop, whose old volume has
	// not been written to since: switching the files back is the restore.
	// A resumed run knows it from the set (the old server's tables are
	// compared before it counts as the restore).
	switchBack := e.isPGSwitched(s.set.ID) || s.set.Manifest.PostgresMove != nil
	if (len(s.set.Manifest.Databases) > 0 || s.set.Manifest.Physical != nil) && !switchBack && (det.DB.Container == "" || det.DB.SQLite != nil) {
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
	if det.DB.SQLite == nil && det.DB.Service != "" && (switchBack || dbImageChanged(s.set, det)) {
		// The files name another database image (and volume) than the one
		// running, as after a PostgreSQL major hop: start the database the
		// restored files describe before anything goes into it.
		sink.Log("starting the database service as the backup's files describe it (" + setImage(s.set, det.DB.Service) + ")")
		if err := e.Compose.Run(ctx, sink.Log, "up", "--detach", "--wait", "--wait-timeout", "180", det.DB.Service); err != nil {
			return fmt.Errorf("start the database service of backup %s: %w", s.set.ID, err)
		}
		if det, err = e.detectNow(ctx); err != nil {
			return err
		}
	}
	if switchBack {
		// Proven, not assumed: the old server's tables against the set's sums.
		switchBack = e.oldServerIntact(ctx, s.set, det, sink)
	}
	done := false
	if !switchBack {
		var err error
		if done, err = e.restorePhysical(ctx, s.set, det, s.hop == "rollback", sink, progress); err != nil {
			return err
		}
	}
	switch {
	case switchBack, done:
	case det.DB.Container != "" && det.DB.SQLite == nil:
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

// dbImageChanged says whether the set's database service ran another image
// than the one running now (or none runs).
func dbImageChanged(set *backup.Set, det *detect.Result) bool {
	for _, img := range set.Manifest.Images {
		if img.Service != det.DB.Service || img.ID == "" {
			continue
		}
		c, ok := det.Containers[det.DB.Service]
		return !ok || c.ImageID != img.ID
	}
	return false
}

func setImage(set *backup.Set, service string) string {
	for _, img := range set.Manifest.Images {
		if img.Service == service {
			return img.Ref
		}
	}
	return "?"
}

// oldServerIntact compares the switched-back server's tables with the
// restore point's sums: equal, nothing needs restoring into it.
func (e *Env) oldServerIntact(ctx context.Context, set *backup.Set, det *detect.Result, sink steps.Sink) bool {
	if e.PG == nil || det.DB.Container == "" {
		return false
	}
	p := det.DB.Params
	n, err := e.PG.CompareServer(ctx, set, backup.DBSource{Container: det.DB.Container, User: p.User, Password: p.Password, Database: p.Database})
	if err != nil {
		sink.Log("• the old database volume is not as the backup recorded (" + err.Error() + "): restoring the backup into it")
		return false
	}
	sink.Log(fmt.Sprintf("✓ switched back to the old database volume, untouched: %d tables equal to backup %s, nothing to restore", n, set.ID))
	return true
}
