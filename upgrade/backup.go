package upgrade

import (
	"context"
	"fmt"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- backup

type backupStep struct {
	env *Env
	hop string
	// afterStop: taken with the writers stopped whatever BackupAfterStop
	// says; allDatabases: every database of the server, not only the
	// profile's (both for the PostgreSQL major hop).
	afterStop, allDatabases bool
	// rehearsedAhead: the hop's migration was rehearsed before the first
	// hop's downtime, so its restore proof leaves no scratch copy behind.
	rehearsedAhead bool
	// adjust, when set, changes the source just before the backup.
	adjust func(ctx context.Context, src *backup.Source, sink steps.Sink) error
}

func (s *backupStep) Info() steps.StepInfo {
	name := "Back up before " + s.hop
	if s.hop == "" {
		name = "Back up"
	}
	explain := "Makes a restore point that pairs everything that must go back together: a pg_dump of the database (run inside its container), the compose files and .env, the app's volumes, and the exact images running now. It is verified (checksums, pg_restore --list) before anything else happens. The app keeps running."
	switch {
	case s.env.sqlite():
		explain = "Makes a restore point that pairs everything that must go back together: the SQLite database file with its -wal and -shm (copied while the app is stopped, the only moment it is consistent), the compose files and .env, the app's volumes, and the exact images. It is verified (checksums) before anything else happens."
	case s.env.BackupAfterStop:
		explain = strings.Replace(explain, "The app keeps running.", "The app is stopped: nothing written before the stop can be lost.", 1)
	}
	return steps.StepInfo{
		ID: id(s.hop, "backup"), Hop: s.hop, Name: name,
		Explain: explain,
		Touches: []string{"writes " + s.env.BackupDir},
	}
}

func (s *backupStep) Run(ctx context.Context, sink steps.Sink) error {
	err := s.run(ctx, sink)
	if err != nil && (s.env.BackupAfterStop || s.afterStop) && !s.env.needsRollback(s.env.Start.Report.Version) {
		// The writers were stopped for this backup and there is no restore
		// point to roll back to: bring the old version back up as it was.
		sink.Log("the backup failed; starting the app again (nothing else was changed)")
		if serr := s.env.Compose.Run(context.WithoutCancel(ctx), sink.Log, append([]string{"start"}, s.env.Writers()...)...); serr != nil {
			return fmt.Errorf("%w; and restarting the app failed too: %w. Start it with docker compose start", err, serr)
		}
	}
	return err
}

func (s *backupStep) run(ctx context.Context, sink steps.Sink) error {
	e := s.env
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	src, err := e.backupSource(ctx, det)
	if err != nil {
		return err
	}
	if s.allDatabases && src.DB != nil {
		if err := e.pgPorts(); err != nil {
			return err
		}
		dbs, err := e.PG.ListDatabases(ctx, *src.DB)
		if err != nil {
			return err
		}
		src.DB.Extra = nil
		var empty []string
		for _, d := range dbs {
			switch {
			case d.Name == src.DB.Database:
			case d.Empty:
				empty = append(empty, d.Name) // nothing to dump: created empty on the new server
			default:
				src.DB.Extra = append(src.DB.Extra, d.Name)
			}
		}
		sink.Log("databases: " + strings.Join(append([]string{src.DB.Database}, src.DB.Extra...), ", "))
		if len(empty) > 0 {
			sink.Log("• empty, nothing to dump: " + strings.Join(empty, ", "))
		}
	}
	for _, f := range src.SQLiteFiles {
		sink.Log("SQLite file " + f.Path + " (container stopped)")
	}
	for _, sk := range src.Skipped {
		sink.Log("• not in this backup: " + sk)
	}
	src.Physical = s.hop != "" && src.DB != nil && !s.afterStop && e.physicalOK()
	if src.Physical {
		sink.Log("• base backup (pg_basebackup) through a replication slot; the WAL up to the stop is added at the stop")
	}
	if s.adjust != nil {
		if err := s.adjust(ctx, &src, sink); err != nil {
			return err
		}
	}
	var mark int64
	if !e.BackupAfterStop && !s.afterStop && src.DB != nil && !src.Physical {
		// The app keeps writing during this backup: mark where the dump
		// starts, so the stop can tell what the restore point will lack.
		if x, err := e.DB.NextXID(ctx, det.DB.Params); err == nil {
			mark = x
			e.mu.Lock()
			e.xidAtBackup = x
			e.mu.Unlock()
		}
	}
	seen := map[string]bool{} // phases run in parallel: name each once
	set, err := e.Backups.Create(ctx, e.BackupDir, src, func(p backup.Progress) {
		if p.Phase != "" && !seen[p.Phase] {
			seen[p.Phase] = true
			sink.Log("• " + p.Phase)
		}
		if p.Line != "" {
			sink.Log(p.Line)
		}
		if p.Total > 0 || p.Done > 0 {
			sink.Progress(p.Done, p.Total)
		}
	})
	if err != nil {
		return err
	}
	sink.Log("verifying " + set.ID)
	if err := e.Backups.Verify(ctx, set, e.pgContainer(det)); err != nil {
		return fmt.Errorf("the new backup %s does not verify: %w", set.ID, err)
	}
	sink.Log(fmt.Sprintf("✓ backup %s verified (%s)", set.ID, set.Dir))
	if c := set.Copy; c != nil && c.Err != nil {
		sink.Log("• " + c.Err.Error() + "; the copy step restores from the backup instead")
	}
	e.AddRestorePoint(set)
	e.recordBackup(set.ID, mark)
	if src.Physical {
		e.stage(ctx, set, src.DB, sink)
	}
	return nil
}
