package engine

import (
	"context"
	"errors"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/steps"
	"github.com/seed-e7a9fb3b/upshift/upgrade"
)

// Upgrade runs a plan from its first step.
func (s *Session) Upgrade(ctx context.Context, p *Planned, o RunOptions) (steps.Result, error) {
	if h := p.Path.DBHop; h != nil {
		o.dbHop = &steps.DBHop{Before: h.Before, Engine: h.Engine, From: h.From, FromMajor: h.FromMajor, ToMajor: h.ToMajor, Image: h.Image}
	}
	return s.Run(ctx, p.Env, p.Plan, 0, nil, hopVersions(p.Path), o)
}

// SetRestoreProof says whether each backup of p is also proven by a restore
// into a scratch PostgreSQL: auto (below upgrade.ProofThreshold), always, never.
func (s *Session) SetRestoreProof(p *Planned, mode string) error {
	m, err := upgrade.ParseProofMode(mode)
	if err != nil {
		return err
	}
	upgrade.SetRestoreProof(p.Env, m)
	return nil
}

// Continue runs a resumed run from where Resume said.
func (s *Session) Continue(ctx context.Context, r *Resumed, o RunOptions) (steps.Result, error) {
	return s.Run(ctx, r.Env, r.Plan, r.Start, r.State, nil, o)
}

// Backup makes one verified backup set now (for a SQLite app: stop, copy,
// start, verify).
func (s *Session) Backup(ctx context.Context, o RunOptions) (steps.Result, error) {
	env := s.NewEnv()
	o.kind = steps.KindBackup
	return s.Run(ctx, env, upgrade.BackupPlan(env), 0, nil, nil, o)
}

// OpenBackup opens a backup set of the stack by ID.
func (s *Session) OpenBackup(id string) (*backup.Set, error) {
	return backup.Open(s.BackupDir(), id)
}

// VerifyBackup checks a set: checksums, completeness, pg_restore --list in
// the database container.
func (s *Session) VerifyBackup(ctx context.Context, set *backup.Set) error {
	return set.Verify(ctx, s.Eng, s.Det.DB.Container)
}

// VerifyBackupRestore proves a set by restoring its dumps into a scratch
// PostgreSQL from the DB container's image (the recorded one when the
// container is gone) and comparing every table with the dump's checksums.
// The live stack is not touched.
func (s *Session) VerifyBackupRestore(ctx context.Context, set *backup.Set, progress func(backup.Progress)) (*backup.RestoreProof, error) {
	image := ""
	if s.Eng == nil {
		return nil, errors.New("verify --restore needs a Docker engine")
	}
	if s.Det != nil && s.Det.DB.Container != "" {
		if c, err := s.Eng.Inspect(ctx, s.Det.DB.Container); err == nil {
			image = c.ImageID
		}
	}
	if image == "" && s.Det != nil {
		for _, img := range set.Manifest.Images {
			if img.Service == s.Det.DB.Service {
				image = img.ID
			}
		}
	}
	return set.VerifyRestore(ctx, s.Eng, image, progress)
}

// Restore puts a backup set back (asking first unless o decides yes).
func (s *Session) Restore(ctx context.Context, set *backup.Set, o RunOptions) (steps.Result, error) {
	env := s.NewEnv()
	o.kind, o.set = steps.KindRestore, set.ID
	return s.Run(ctx, env, upgrade.RestorePlan(env, set, "restore", true), 0, nil, nil, o)
}
