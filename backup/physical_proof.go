package backup

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// provePhysical restores the base backup and its WAL into a scratch
// PostgreSQL (the image the backup was taken with, its own anonymous
// volume, no route out), lets it replay to the stop position and compares
// every table with its fingerprint at the stop.
func (s *Set) provePhysical(ctx context.Context, eng *dockerx.Engine, proof *RestoreProof, progress func(Progress)) error {
	p := s.Manifest.Physical
	if !p.IsSealed() {
		return fmt.Errorf("%w: %s: its base backup was never completed with the WAL up to a stop, so it cannot restore the database", ErrRestoreProof, s.ID)
	}
	proof.Image = p.Image
	if _, ok, err := eng.ImageInspect(ctx, p.Image); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: %w: %s, the image the base backup was taken with, so no scratch server can open it", ErrNoScratch, dockerx.ErrImageMissing, shortImage(p.Image))
	}
	_ = eng.CleanupScratch(ctx)
	pw := randomHex(16)
	sc, err := eng.StartScratch(ctx, dockerx.ScratchSpec{
		Image: p.Image, Purpose: "restore-proof", DataDir: p.DataDir,
		Env: []string{"POSTGRES_USER=" + scratchUser, "POSTGRES_PASSWORD=" + pw, "POSTGRES_DB=" + scratchUser, "PGDATA=" + p.DataDir},
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoScratch, err)
	}
	defer func() { _ = sc.Remove(ctx) }()
	// Whatever the image's first start did to the fresh volume is replaced.
	if err := eng.Stop(ctx, sc.ID, dockerxStopGrace); err != nil {
		return fmt.Errorf("%w: %w", ErrNoScratch, err)
	}
	c, err := eng.Inspect(ctx, sc.ID)
	if err != nil {
		return err
	}
	mt, rel, ok := dataMount(c, p.DataDir)
	if !ok {
		return fmt.Errorf("%w: the scratch server has no volume at %s", ErrNoScratch, p.DataDir)
	}
	if err := s.fillDataDir(ctx, eng, p, mt, restoreMount+rel, progress); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRestoreProof, s.ID, err)
	}
	if err := eng.Start(ctx, sc.ID); err != nil {
		return fmt.Errorf("%w: %w", ErrNoScratch, err)
	}
	// The restored cluster has the live server's roles and pg_hba.conf:
	// its own user over the local socket, as the live restore does.
	r := pgRunner{eng: eng, db: DBSource{Container: sc.ID, User: p.User, Database: p.Database}}
	if err := waitPromoted(ctx, eng, r, sc.ID); err != nil {
		return fmt.Errorf("%w: %s: the base backup does not recover to %s: %w", ErrRestoreProof, s.ID, p.StopLSN, err)
	}
	if len(p.Tables) == 0 {
		proof.Unchecked = append(proof.Unchecked, p.Database)
		return nil
	}
	names := make([]string, 0, len(p.Tables))
	for n := range p.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	var problems []string
	for _, n := range names {
		sess := r.openSession(ctx, n)
		got, err := sess.tableSums(sumAlgo(p.Tables[n]))
		if cerr := sess.close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("checksum the recovered database %s: %w", n, err)
		}
		proof.Tables += len(p.Tables[n])
		problems = append(problems, compareTables(n, p.Tables[n], got)...)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s: the base backup does not recover to the rows of the stop: %s. The live stack was not touched", ErrRestoreProof, s.ID, strings.Join(problems, "; "))
	}
	return nil
}
