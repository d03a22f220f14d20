package upgrade

import (
	"context"
	"fmt"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// physicalBackups is what a physical restore point needs beyond Backups
// (the real adapter has it; without it every restore point is a pg_dump).
type physicalBackups interface {
	PhysicalReady(ctx context.Context, db backup.DBSource) backup.Readiness
	Seal(ctx context.Context, set *backup.Set, db backup.DBSource, progress func(backup.Progress)) error
	PhysicalProblem(ctx context.Context, set *backup.Set, db backup.DBSource) string
	RestorePhysical(ctx context.Context, set *backup.Set, db backup.DBSource, progress func(backup.Progress)) error
	DropStaleSlots(ctx context.Context, db backup.DBSource, keep string) ([]string, error)
	Stage(ctx context.Context, set *backup.Set, db backup.DBSource, progress func(backup.Progress)) error
	Unstage(ctx context.Context, set *backup.Set) error
	DropStaleStaged(ctx context.Context, db backup.DBSource, keep []string) ([]string, error)
}

func (b realBackups) Stage(ctx context.Context, set *backup.Set, db backup.DBSource, progress func(backup.Progress)) error {
	return set.Stage(ctx, b.eng, db, progress)
}

func (b realBackups) Unstage(ctx context.Context, set *backup.Set) error {
	return set.Unstage(ctx, b.eng)
}

func (b realBackups) DropStaleStaged(ctx context.Context, db backup.DBSource, keep []string) ([]string, error) {
	return backup.DropStaleStaged(ctx, b.eng, db, keep)
}

func (b realBackups) PhysicalReady(ctx context.Context, db backup.DBSource) backup.Readiness {
	return backup.PhysicalReady(ctx, b.eng, db)
}

func (b realBackups) Seal(ctx context.Context, set *backup.Set, db backup.DBSource, progress func(backup.Progress)) error {
	return set.Seal(ctx, b.eng, db, progress)
}

func (b realBackups) PhysicalProblem(ctx context.Context, set *backup.Set, db backup.DBSource) string {
	return set.PhysicalProblem(ctx, b.eng, db)
}

func (b realBackups) RestorePhysical(ctx context.Context, set *backup.Set, db backup.DBSource, progress func(backup.Progress)) error {
	return set.RestorePhysical(ctx, b.eng, db, progress)
}

func (b realBackups) DropStaleSlots(ctx context.Context, db backup.DBSource, keep string) ([]string, error) {
	return backup.DropStaleSlots(ctx, b.eng, db, keep)
}

// dbSource is the PostgreSQL server of det as the backup package sees it
// (nil for a SQLite app or a database outside the project).
func (e *Env) dbSource(det *detect.Result) *backup.DBSource {
	if det == nil || det.DB.SQLite != nil || det.DB.Container == "" {
		return nil
	}
	return &backup.DBSource{
		Container: det.DB.Container, User: det.DB.Params.User, Password: det.DB.Params.Password,
		Database: det.DB.Params.Database, Extra: e.Profile.DB.ExtraDatabases,
	}
}

// checkPhysical decides, before anything is stopped, whether this hop's
// restore point is physical (base backup + WAL to the stop: nothing
// committed before the stop is lost) or a pg_dump, and says why.
func (e *Env) checkPhysical(ctx context.Context, det *detect.Result, sink steps.Sink) {
	e.mu.Lock()
	e.physical = false
	e.mu.Unlock()
	if e.BackupAfterStop || e.sqlite() {
		return
	}
	pb, ok := e.Backups.(physicalBackups)
	db := e.dbSource(det)
	if !ok || db == nil {
		return
	}
	if restoreProofMode(e) == ProofAlways {
		sink.Log("• restore point: a pg_dump taken while the app runs, since --restore-proof always wants it restored in a scratch server before the downtime (a base backup is complete only at the stop); what is committed after it and before the stop would be lost by a rollback")
		return
	}
	r := pb.PhysicalReady(ctx, *db)
	if !r.OK {
		sink.Log("• restore point: a pg_dump taken while the app runs; what is committed after it and before the stop would be lost by a rollback (a physical restore point is not possible: " + r.Reason + ")")
		return
	}
	e.mu.Lock()
	e.physical = true
	e.mu.Unlock()
	sink.Log("✓ restore point: a base backup taken while the app runs, completed with the WAL up to the stop: a rollback loses nothing committed before the stop")
}

func (e *Env) physicalOK() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.physical
}

// dropStaleSlots removes the replication slots of killed runs (the caller
// holds the project's lock, so no other upshift uses one); keep is the slot
// still to be sealed.
func (e *Env) dropStaleSlots(ctx context.Context, det *detect.Result, keep string, log func(string)) {
	pb, ok := e.Backups.(physicalBackups)
	db := e.dbSource(det)
	if !ok || db == nil {
		return
	}
	dropped, err := pb.DropStaleSlots(ctx, *db, keep)
	if len(dropped) > 0 {
		log("• dropped the replication slot(s) " + strings.Join(dropped, ", ") + " left by an interrupted run (they kept WAL that now gets freed)")
	}
	if err != nil {
		log("! could not drop a replication slot left by an interrupted run: " + err.Error() + ". Drop it by hand: SELECT pg_drop_replication_slot('upshift_…'): it keeps WAL until the disk is full")
	}
	// The staged copies this env's restore points still have are kept (a
	// resumed run's rollback swaps one in); others are a killed run's.
	var keepStaged []string
	for _, set := range e.restorePoints() {
		if d := set.StagedDir(); d != "" {
			keepStaged = append(keepStaged, d)
		}
	}
	removed, err := pb.DropStaleStaged(ctx, *db, keepStaged)
	if len(removed) > 0 {
		log("• removed " + strings.Join(removed, ", ") + " next to the data directory: base backups unpacked by an interrupted run (each as large as the data directory)")
	}
	if err != nil {
		log("! could not remove a base backup an interrupted run unpacked next to the data directory (.upshift-staged-…): " + err.Error())
	}
}

// stage unpacks the new restore point's base backup next to the data
// directory while the app runs, so a rollback swaps directories instead
// of copying the data directory during the downtime. A failure only makes
// a rollback slower.
func (e *Env) stage(ctx context.Context, set *backup.Set, db *backup.DBSource, sink steps.Sink) {
	pb, ok := e.Backups.(physicalBackups)
	if !ok || db == nil || set.Manifest.Physical == nil {
		return
	}
	// The copies of the path's earlier restore points go first: a base
	// backup would read them too (they may sit inside the data directory).
	for _, old := range e.restorePoints() {
		if old != set && old.StagedDir() != "" {
			if err := pb.Unstage(ctx, old); err != nil {
				sink.Log("! " + err.Error())
			}
		}
	}
	err := pb.Stage(ctx, set, *db, sinkProgress(sink))
	if err != nil {
		sink.Log("• the base backup is not unpacked next to the data directory (" + err.Error() + "): a rollback copies it in, a longer downtime")
		return
	}
	sink.Log("✓ base backup unpacked next to the data directory (" + set.StagedDir() + "): a rollback swaps it in instead of copying the data")
}

// Unstage removes the staged copies of the run's restore points, unless
// the run's rollback failed (a retry swaps one in).
func (e *Env) Unstage(ctx context.Context, res steps.Result) {
	pb, ok := e.Backups.(physicalBackups)
	if !ok || res.RollbackFailed {
		return
	}
	for _, set := range e.restorePoints() {
		if set.StagedDir() != "" {
			_ = pb.Unstage(ctx, set)
		}
	}
}

// DropStaleSlots is what resume and plan run: the replication slots a
// killed run left are dropped, and said so; keepPending keeps the slot of
// the run's newest restore point when it still waits for its seal (a
// resume that retries the stop seals it).
func (e *Env) DropStaleSlots(ctx context.Context, keepPending bool, log func(string)) {
	det := e.Start // what the session detected: no second detection
	keep := ""
	if keepPending {
		keep = e.pendingSlot()
	}
	e.dropStaleSlots(ctx, det, keep, log)
}

// pendingSlot is the slot of the newest restore point when it is not sealed yet.
func (e *Env) pendingSlot() string {
	if set := e.newestPoint(); set != nil && set.Manifest.Physical != nil && !set.Manifest.Physical.IsSealed() {
		return set.Manifest.Physical.Slot
	}
	return ""
}

// sealRestorePoint completes the newest restore point's physical part
// with the writers stopped: the WAL up to now, the stop position, the
// tables' fingerprints. A failure fails the stop (nothing was migrated).
func (e *Env) sealRestorePoint(ctx context.Context, sink steps.Sink) error {
	set := e.newestPoint()
	if set == nil || set.Manifest.Physical == nil || set.Manifest.Physical.IsSealed() {
		return nil
	}
	pb, ok := e.Backups.(physicalBackups)
	if !ok {
		return nil
	}
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	db := e.dbSource(det)
	if db == nil {
		return fmt.Errorf("seal restore point %s: the database container is gone", set.ID)
	}
	sink.Log("sealing restore point " + set.ID + ": the WAL up to the stop")
	if err := pb.Seal(ctx, set, *db, func(p backup.Progress) {
		if p.Line != "" {
			sink.Log(p.Line)
		}
	}); err != nil {
		return fmt.Errorf("the restore point %s could not be completed, nothing was migrated: %w", set.ID, err)
	}
	ph := set.Manifest.Physical
	note := ""
	if len(ph.Tables) == 0 && ph.TablesNote != "" {
		note = " (" + ph.TablesNote + ")"
	}
	sink.Log(fmt.Sprintf("✓ restore point %s sealed at %s: %d WAL segment(s)%s", set.ID, ph.StopLSN, len(ph.Segments), note))
	return nil
}

// restorePhysical restores the database of set from its physical part
// when it can; ok false means the caller restores the logical dumps (why
// says why, for the log).
func (e *Env) restorePhysical(ctx context.Context, set *backup.Set, det *detect.Result, rollback bool, sink steps.Sink, progress func(backup.Progress)) (done bool, err error) {
	ph := set.Manifest.Physical
	if ph == nil {
		return false, nil
	}
	pb, ok := e.Backups.(physicalBackups)
	db := e.dbSource(det)
	if !ph.IsSealed() {
		if len(set.Manifest.Databases) > 0 {
			return false, nil
		}
		if !rollback {
			return true, fmt.Errorf("backup %s holds a base backup that was never completed with the WAL up to a stop (its run was interrupted before the stop), so it cannot restore the database; nothing was restored. Restore an older set", set.ID)
		}
		// The run stopped before it sealed this point, so before any migration.
		sink.Log("the database was not changed since restore point " + set.ID + " (the run stopped before the migration): it is left as it is")
		if ok && db != nil {
			e.dropStaleSlots(ctx, det, "", sink.Log)
		}
		return true, nil
	}
	if !ok || db == nil {
		return false, nil
	}
	if why := pb.PhysicalProblem(ctx, set, *db); why != "" {
		if len(set.Manifest.Databases) > 0 {
			sink.Log("restoring the logical dump: the base backup cannot be used (" + why + ")")
			return false, nil
		}
		return true, fmt.Errorf("backup %s cannot restore the database: %s; it has no logical dump. Nothing was restored", set.ID, why)
	}
	sink.Log("restoring the database from its base backup and replaying the WAL to " + ph.StopLSN)
	return true, pb.RestorePhysical(ctx, set, *db, progress)
}

// PhysicalNote says which kind of restore point the hops will get, and
// why not a physical one ("" when it cannot be told: no database here).
func (e *Env) PhysicalNote(ctx context.Context) string {
	switch {
	case e.BackupAfterStop || e.sqlite():
		return "each hop's restore point is taken after the stop: a rollback loses nothing committed before it, and the backup is part of the downtime"
	case restoreProofMode(e) == ProofAlways:
		return "each hop's restore point will be a pg_dump taken while the app runs, proven by a restore before the downtime (--restore-proof always); a rollback loses what is committed between it and the stop (upshift counts and reports it)"
	}
	pb, ok := e.Backups.(physicalBackups)
	if !ok {
		return ""
	}
	db := e.dbSource(e.Start)
	if db == nil {
		return ""
	}
	if r := pb.PhysicalReady(ctx, *db); !r.OK {
		return "each hop's restore point will be a pg_dump taken while the app runs (a rollback loses what is committed between it and the stop, and upshift reports it; --backup-after-stop closes that window at the cost of a longer downtime): a physical one is not possible: " + r.Reason
	}
	return "each hop's restore point will be a base backup taken while the app runs plus the WAL up to the stop: a rollback loses nothing committed before the stop. " +
		"The base backup is also unpacked next to the data directory before the stop (it needs as much free space there as the data directory; without it a rollback copies the data in, a longer downtime), so a rollback swaps directories"
}

// withStoppedDB lets a physical restore resume when the database container
// is stopped: a run killed in the middle of replacing the data directory
// leaves it so, and starting it by hand would run on a partial directory.
// The restore replaces the directory again and starts the container itself.
func (e *Env) withStoppedDB(det *detect.Result, set *backup.Set, log func(string)) *detect.Result {
	ph := set.Manifest.Physical
	if det == nil || det.DB.Container != "" || det.DB.SQLite != nil || !ph.IsSealed() || len(set.Manifest.Databases) > 0 {
		return det
	}
	svc := det.Report.DB.Service
	if svc == "" && e.Start != nil {
		svc = e.Start.DB.Service
	}
	c, ok := det.Containers[svc]
	if !ok || c.ID == "" || c.State == "running" {
		return det
	}
	out := *det
	out.DB.Service, out.DB.Container = svc, c.ID
	out.DB.Params.User, out.DB.Params.Database = ph.User, ph.Database
	if e.Start != nil && e.Start.DB.Params.User == ph.User {
		out.DB.Params.Password = e.Start.DB.Params.Password
	}
	log("the database container " + c.Name + " is stopped (an interrupted restore, or the database never came back): its data directory is replaced again from " + set.ID)
	return &out
}

// sinkProgress passes a backup operation's byte counts to the step's
// progress bar.
func sinkProgress(sink steps.Sink) func(backup.Progress) {
	return func(p backup.Progress) {
		if p.Total > 0 || p.Done > 0 {
			sink.Progress(p.Done, p.Total)
		}
	}
}
