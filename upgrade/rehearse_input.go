package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// What a rehearsal runs on: the scratch copy (kept between steps, or a
// throw-away dump of the running database) and the app container of the
// migration service.

// rehearsalImage is the image the scratch copy of a rehearsal runs on:
// image (the DB's own), or the new major's across a PostgreSQL hop.
func (e *Env) rehearsalImage(image string, sink steps.Sink) string {
	m := e.rehearsal.server
	if m == nil || e.rehearsal.firstOld {
		return image
	}
	sink.Log(fmt.Sprintf("• the path moves the database server (%s): the copy is made in PostgreSQL %d (%s), the server the hops after it run on", m.Title(), m.ToMajor, m.Image))
	return m.Image
}

func (b realBackups) ScratchCopy(ctx context.Context, set *backup.Set, image string, aliases []string, progress func(backup.Progress)) (*backup.RestoreProof, scratchCopy, error) {
	proof, db, err := set.VerifyRestoreKeep(ctx, b.eng, image, backup.ScratchOptions{Keep: true, Aliases: aliases}, progress)
	if db == nil {
		return proof, nil, err
	}
	return proof, db, err
}

func (b realBackups) LiveScratch(ctx context.Context, root string, src backup.Source, image string, aliases []string, progress func(backup.Progress)) (scratchCopy, error) {
	db, err := backup.LiveScratch(ctx, b.eng, root, src, image, aliases, progress)
	if db == nil {
		return nil, err
	}
	return db, err
}

func (b realBackups) MoveScratch(ctx context.Context, root string, src backup.Source, from scratchCopy, image string, aliases []string, progress func(backup.Progress)) (scratchCopy, error) {
	old, ok := from.(*backup.ScratchDB)
	if !ok {
		return nil, fmt.Errorf("the scratch copy to move is a %T", from)
	}
	db, err := backup.MoveScratch(ctx, b.eng, root, src, old, image, aliases, progress)
	if db == nil {
		return nil, err
	}
	return db, err
}

// moveCopy copies the scratch copy the previous hop's rehearsal left (in
// the old PostgreSQL major) into a scratch server of the new major, as the
// path's PostgreSQL hop will copy the real database, and removes the old.
func (s *rehearseStep) moveCopy(ctx context.Context, old scratchCopy, sink steps.Sink) (scratchCopy, error) {
	e := s.env
	defer func() { _ = old.Remove(context.WithoutCancel(ctx)) }()
	m := e.rehearsal.server
	sink.Log(fmt.Sprintf("• the path moves the database server (%s) before %s: the copy is made in PostgreSQL %d (%s) from the one the %s rehearsal left, dumped and restored as the hop will do", m.Title(), s.hop, m.ToMajor, m.Image, s.from))
	src := backup.Source{App: e.Profile.Name, Profile: e.Profile.Name, Version: s.from, Project: e.Project, Secrets: e.Secrets()}
	root := filepath.Join(e.BackupDir, ".rehearsal-copy")
	defer func() { _ = os.RemoveAll(root) }()
	sc, err := e.Backups.(rehearser).MoveScratch(ctx, root, src, old, m.Image, []string{e.Start.DB.Service}, sinkProgress(sink))
	if err != nil && !errors.Is(err, backup.ErrNoScratch) {
		err = fmt.Errorf("the copy the %s rehearsal left does not move into PostgreSQL %d (the path's %s hop would copy the database the same way): %w", s.from, m.ToMajor, m.Title(), err)
	}
	return s.scratchOrSkip(ctx, sc, err, sink)
}

// DropScratch removes a scratch copy left for a rehearsal that never ran (a
// step between failed). The engine calls it when a run ends.
func (e *Env) DropScratch(ctx context.Context) {
	if sc := e.takeScratch(""); sc != nil {
		_ = sc.Remove(ctx)
	}
	// A PostgreSQL hop's new server that was never copied into: the run
	// stopped between its start and the copy.
	if p := e.takePrepared(""); p != nil {
		e.dropPrepared(ctx, p, func(string) {})
	}
}

func (e *Env) keepScratch(sc scratchCopy, hop string) {
	e.rehearsal.mu.Lock()
	old := e.rehearsal.scratch
	e.rehearsal.scratch, e.rehearsal.hop = sc, hop
	e.rehearsal.mu.Unlock()
	if old != nil && old != sc {
		_ = old.Remove(context.Background())
	}
}

// takeScratch hands over the kept scratch copy if it holds hop's input (any
// with hop ""); one for another hop is removed.
func (e *Env) takeScratch(hop string) scratchCopy {
	e.rehearsal.mu.Lock()
	sc, at := e.rehearsal.scratch, e.rehearsal.hop
	e.rehearsal.scratch, e.rehearsal.hop = nil, ""
	e.rehearsal.mu.Unlock()
	if sc != nil && hop != "" && at != hop {
		_ = sc.Remove(context.Background())
		return nil
	}
	return sc
}

func (b realBackups) PhysicalScratch(ctx context.Context, set *backup.Set, db backup.DBSource, aliases []string, progress func(backup.Progress)) (scratchCopy, error) {
	sc, err := backup.PhysicalScratch(ctx, b.eng, set, db, aliases, progress)
	if sc == nil {
		return nil, err
	}
	return sc, err
}

// baseBackupScratch is the scratch copy of a hop whose restore point is a
// base backup not sealed yet: the base backup and the WAL so far,
// recovered in a server of the same image (about the time to unpack it),
// or, when the copy is made in another server (the path moves PostgreSQL)
// or that fails, the running database copied by pg_dump and pg_restore
// (about the time of a restore).
func (s *rehearseStep) baseBackupScratch(ctx context.Context, set *backup.Set, image string, sink steps.Sink) (scratchCopy, error) {
	e := s.env
	src, err := s.liveSource(ctx)
	if err != nil {
		return nil, err
	}
	server := e.rehearsalImage(image, sink)
	progress := sinkProgress(sink)
	p := set.Manifest.Physical
	switch {
	case server != image:
		sink.Log("• the rehearsal runs in another PostgreSQL than the base backup's, which cannot open it: the running database is copied instead")
	case p == nil || p.IsSealed():
	default:
		sink.Log("• the restore point is a base backup (complete at the stop): the rehearsal runs on a copy of it and of the WAL written so far, recovered in a scratch PostgreSQL of the same image")
		// Its few lines (what is copied, the promotion) go to the log.
		sc, err := e.Backups.(rehearser).PhysicalScratch(ctx, set, *src.DB, []string{e.Start.DB.Service}, func(p backup.Progress) {
			if p.Line != "" {
				sink.Log("  " + p.Line)
			}
			progress(p)
		})
		if err == nil || ctx.Err() != nil {
			return s.scratchOrSkip(ctx, sc, err, sink)
		}
		sink.Log("⚠ the rehearsal cannot run on a copy of the base backup (" + err.Error() + "): the running database is copied instead")
	}
	return s.liveScratch(ctx, server, src, progress, sink)
}

// liveScratch copies the running database into a scratch server, each
// database restored while it is dumped (the dumps are thrown away).
func (s *rehearseStep) liveScratch(ctx context.Context, image string, src backup.Source, progress func(backup.Progress), sink steps.Sink) (scratchCopy, error) {
	e := s.env
	sink.Log("• the rehearsal runs on a copy of the running database, restored into a scratch PostgreSQL while pg_dump reads it")
	root := filepath.Join(e.BackupDir, ".rehearsal-copy")
	defer func() { _ = os.RemoveAll(root) }()
	sc, err := e.Backups.(rehearser).LiveScratch(ctx, root, src, image, []string{e.Start.DB.Service}, progress)
	if err != nil && !errors.Is(err, backup.ErrNoScratch) {
		err = fmt.Errorf("copy the running database for the rehearsal: %w", err)
	}
	return s.scratchOrSkip(ctx, sc, err, sink)
}

// liveSource is what a throw-away copy of the running database holds.
func (s *rehearseStep) liveSource(ctx context.Context) (backup.Source, error) {
	e := s.env
	det, err := e.detectNow(ctx)
	if err != nil {
		return backup.Source{}, err
	}
	db := e.dbSource(det)
	if db == nil {
		return backup.Source{}, errors.New("no running PostgreSQL to copy for the rehearsal (nothing was changed). Fix: start the database, or run with --no-rehearsal")
	}
	return backup.Source{
		App: e.Profile.Name, Profile: e.Profile.Name, Version: s.from,
		Project: e.Project, DB: db, Secrets: e.Secrets(),
	}, nil
}

// configLimit is the size up to which a bind-mounted directory counts as
// configuration (mounted read-only in a rehearsal); a larger one is data
// (an empty tmpfs there).
const configLimit = 16 << 20

// configLike says whether a bind mount's host path looks like configuration:
// a file, or a directory of at most configLimit bytes, readable from here
// (a remote engine's paths are not: they get a tmpfs).
func configLike(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	if !st.IsDir() {
		return st.Size() <= configLimit
	}
	var total int64
	stop := errors.New("large")
	err = filepath.WalkDir(path, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			total += info.Size()
		}
		if total > configLimit {
			return stop
		}
		return nil
	})
	return err == nil
}

// rehearsalSpec is the container the rehearsal runs: the migration
// service's image at hop, its environment (with the hop's .env renames) and
// command as compose gives them, on the scratch network only, its volumes
// replaced by empty in-memory directories.
func (e *Env) rehearsalSpec(hop string, renames []envfile.Rename) (dockerx.AppSpec, error) {
	name := e.migrationService()
	if e.Start == nil || e.Start.Stack == nil || e.Start.Stack.Model == nil {
		return dockerx.AppSpec{}, errors.New("the compose model is not known")
	}
	svc, ok := e.Start.Stack.Model.Services[name]
	if !ok {
		return dockerx.AppSpec{}, fmt.Errorf("the migration service %q is not in the compose project", name)
	}
	env := map[string]string{}
	for k, v := range svc.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	for _, r := range renames {
		if v, ok := env[r.From]; ok {
			if _, has := env[r.To]; !has {
				env[r.To] = v
			}
		}
	}
	for k, v := range e.Profile.Migration.Env {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	spec := dockerx.AppSpec{
		Image:      e.appImageAt(svc.Image, hop),
		Entrypoint: svc.Entrypoint,
		Cmd:        svc.Command,
		User:       svc.User,
		WorkingDir: svc.WorkingDir,
		Purpose:    "rehearsal",
	}
	for _, k := range keys {
		spec.Env = append(spec.Env, k+"="+env[k])
	}
	for _, v := range svc.Volumes {
		if v.Target == "" {
			continue
		}
		if v.Type == "bind" && configLike(v.Source) {
			// A config file or a small directory of them (n9e's etc/, a
			// bind-mounted config.toml): read-only, so the app starts as it
			// does for real and nothing of the real stack can change.
			spec.ReadOnly = append(spec.ReadOnly, dockerx.Bind{Source: v.Source, Target: v.Target})
			continue
		}
		spec.Tmpfs = append(spec.Tmpfs, v.Target)
	}
	spec.Tmpfs = append(spec.Tmpfs, svc.Tmpfs...)
	return spec, nil
}

// appImageAt is what image becomes at version (an app image gets the
// version's tag; anything else stays).
func (e *Env) appImageAt(image, version string) string {
	if image == "" || !e.isAppImage(image) {
		return image
	}
	if t := e.tagFor(version); strings.ContainsAny(t, "/:") {
		return t
	}
	return repoOf(image) + ":" + e.tagFor(version)
}

func (e *Env) migrationTimeout() time.Duration {
	if d, err := time.ParseDuration(e.Profile.Migration.Timeout); err == nil && d > 0 {
		return d
	}
	if e.MigrationTimeout > 0 {
		return e.MigrationTimeout
	}
	return 30 * time.Minute
}
