package upgrade

import (
	"context"
	"errors"
	"fmt"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ProofMode says whether the backup before each hop is also proven by a
// restore into a scratch PostgreSQL (backup.Set.VerifyRestore).
type ProofMode string

// The modes of `upgrade --restore-proof`.
const (
	ProofAuto   ProofMode = "auto"   // below ProofThreshold of database
	ProofAlways ProofMode = "always" // whatever the size; any failure stops the upgrade
	ProofNever  ProofMode = "never"
)

// ProofThreshold is the database size (pg_database_size, as detect reports
// it) up to which ProofAuto runs the proof. Measured on a shared 2-core box
// (backup.TestRestoreProofTiming): 98 MB took 5.2 s, 368 MB 18 s, 931 MB
// 59 s: about a minute per GiB, all of it before the downtime.
const ProofThreshold = 1 << 30

// ParseProofMode reads a --restore-proof value.
func ParseProofMode(s string) (ProofMode, error) {
	switch m := ProofMode(s); m {
	case "", ProofAuto:
		return ProofAuto, nil
	case ProofAlways, ProofNever:
		return m, nil
	default:
		return "", fmt.Errorf("--restore-proof is auto, always or never, not %q", s)
	}
}

// SetRestoreProof sets the mode of env's backups (default ProofAuto).
func SetRestoreProof(env *Env, m ProofMode) { env.RestoreProof = m }

func restoreProofMode(env *Env) ProofMode {
	if env.RestoreProof == "" {
		return ProofAuto
	}
	return env.RestoreProof
}

// proofDecision says whether to run the proof and, when not, why.
func proofDecision(m ProofMode, dbBytes int64) (bool, string) {
	switch m {
	case ProofNever:
		return false, "restore proof skipped (--restore-proof never)"
	case ProofAlways:
		return true, ""
	case ProofAuto:
	}
	if dbBytes > ProofThreshold {
		return false, fmt.Sprintf("restore proof skipped: the database is %s, more than %s (--restore-proof always to run it anyway, about a minute per GiB)", human.Bytes(dbBytes), human.Bytes(ProofThreshold))
	}
	return true, ""
}

// proofSize is the database size the decision uses: what detect measured,
// else an estimate from the compressed dumps (≈ 1/6 of the database in
// the measurements above).
func proofSize(detected int64, set *backup.Set) int64 {
	if detected > 0 {
		return detected
	}
	var dumps int64
	for _, d := range set.Manifest.Databases {
		dumps += d.DumpBytes
	}
	return dumps * 6
}

// restoreProver is the part of Backups that proves a set by a restore; the
// real adapter has it, fakes need not.
type restoreProver interface {
	VerifyRestore(ctx context.Context, set *backup.Set, image string, progress func(backup.Progress)) (*backup.RestoreProof, error)
}

func (b realBackups) VerifyRestore(ctx context.Context, set *backup.Set, image string, progress func(backup.Progress)) (*backup.RestoreProof, error) {
	return set.VerifyRestore(ctx, b.eng, image, progress)
}

// provenBackupStep is the backup step followed by its restore proof: the
// same step (ID, journal entry), so plans and resumes are unchanged.
type provenBackupStep struct{ *backupStep }

func withRestoreProof(s *backupStep) steps.Step { return &provenBackupStep{s} }

func (s *provenBackupStep) Info() steps.StepInfo {
	in := s.backupStep.Info()
	in.Touches = append(in.Touches, "starts and removes a throw-away PostgreSQL container, volume and internal network (labelled io.upshift.scratch)")
	in.Explain += fmt.Sprintf(" Unless the database is over %s, the dump is then restored into a throw-away PostgreSQL (same image, own volume, no network) and every table's row count and checksum compared with the dump's: a backup that would not restore stops the upgrade before any downtime.", human.Bytes(ProofThreshold))
	return in
}

func (s *provenBackupStep) Run(ctx context.Context, sink steps.Sink) error {
	if err := s.backupStep.Run(ctx, sink); err != nil {
		return err
	}
	e := s.env
	set := e.newestPoint()
	physical := set != nil && set.Manifest.Physical != nil
	if set == nil || (len(set.Manifest.Databases) == 0 && !physical) || e.Start == nil {
		return nil
	}
	mode := restoreProofMode(e)
	run, why := proofDecision(mode, proofSize(e.Start.Report.DB.SizeBytes, set))
	if !run {
		sink.Log(why)
		return nil
	}
	if physical {
		// Its WAL up to the stop does not exist yet (--restore-proof always
		// keeps the hop's backup a pg_dump for that reason).
		sink.Log("• no scratch restore of a base backup before the stop: it is proven when restored, by PostgreSQL's replay to the stop position and the tables compared with the stop (upshift backup verify --restore proves it afterwards)")
		return nil
	}
	prover, ok := e.Backups.(restoreProver)
	if !ok {
		sink.Log("restore proof skipped: not available here")
		return nil
	}
	image := ""
	for _, img := range set.Manifest.Images {
		if img.Service == e.Start.DB.Service {
			image = img.ID
		}
	}
	sink.Log("proving " + set.ID + " by a restore into a scratch PostgreSQL")
	progress := func(p backup.Progress) {
		if p.Total > 0 {
			sink.Progress(p.Done, p.Total)
		}
	}
	var proof *backup.RestoreProof
	var err error
	if r, ok := e.Backups.(rehearser); ok && e.rehearses() && !s.rehearsedAhead {
		// The hop's rehearsal runs on this restore: it is kept running
		// (not restored twice) and removed by the rehearsal.
		var sc scratchCopy
		proof, sc, err = r.ScratchCopy(ctx, set, e.rehearsalImage(image, sink), []string{e.Start.DB.Service}, progress)
		if sc != nil {
			e.keepScratch(sc, s.hop)
		}
	} else {
		proof, err = prover.VerifyRestore(ctx, set, image, progress)
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("restore proof of %s interrupted (the scratch server was removed): %w", set.ID, err)
		}
		if mode == ProofAlways || errors.Is(err, backup.ErrRestoreProof) || errors.Is(err, backup.ErrCorrupt) {
			return fmt.Errorf("the new backup %s is not a good restore point; nothing was stopped or changed: %w", set.ID, err)
		}
		// The scratch server itself could not run (no image, no space): the
		// set is still verified by checksums and pg_restore --list.
		sink.Log("⚠ restore proof not possible, going on with the checksum-verified backup: " + err.Error())
		return nil
	}
	sink.Log("✓ " + proof.Summary())
	return nil
}

func (e *Env) newestPoint() *backup.Set {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.points) == 0 {
		return nil
	}
	return e.points[len(e.points)-1]
}

// restorePoints are the run's restore points, oldest first.
func (e *Env) restorePoints() []*backup.Set {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*backup.Set(nil), e.points...)
}
