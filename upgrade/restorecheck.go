package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// restoreCheckStep checks, before the app is stopped, everything a restore
// will need: the set verifies, a database container is there to restore
// into, every file it puts back can be written. A restore that cannot
// complete does not start.
type restoreCheckStep struct {
	env *Env
	hop string
	set *backup.Set
}

func (s *restoreCheckStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: id(s.hop, "check"), Hop: s.hop, Name: "Check backup " + s.set.ID + " before restoring",
		Explain:  "Verifies the backup set (checksums, the dump lists cleanly), that the database it holds has a running container to go into, and that every file it puts back can be written, before the app is stopped. A set or a stack that would leave a restore half-done is refused with nothing touched.",
		Touches:  []string{"reads only"},
		ReadOnly: true,
	}
}

func (s *restoreCheckStep) Run(ctx context.Context, sink steps.Sink) error {
	e := s.env
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	det = e.withStoppedDB(det, s.set, sink.Log)
	sink.Log("verifying " + s.set.ID)
	if err := e.Backups.Verify(ctx, s.set, e.pgContainer(det)); err != nil {
		return fmt.Errorf("backup %s does not verify, nothing was restored: %w", s.set.ID, err)
	}
	e.markVerified(s.set.ID)
	if (len(s.set.Manifest.Databases) > 0 || s.set.Manifest.Physical != nil) && (det.DB.Container == "" || det.DB.SQLite != nil) {
		return fmt.Errorf("backup %s holds a database, but no container of the %s service runs to restore it into; nothing was restored. Fix: start the database (docker compose up -d %s), then run `upshift restore %s`", s.set.ID, orDash(det.DB.Service), orDash(det.DB.Service), s.set.ID)
	}
	var ro []string
	for _, c := range s.set.Manifest.Config {
		if c.Missing || c.Path == "" {
			continue
		}
		if err := writable(c.Path); err != nil {
			ro = append(ro, err.Error())
		}
	}
	if len(ro) > 0 {
		return fmt.Errorf("backup %s cannot put its files back: %s; nothing was restored. Fix the permissions (or the read-only mount), then run it again", s.set.ID, strings.Join(ro, "; "))
	}
	sink.Log(fmt.Sprintf("✓ backup %s verifies, its database has a container to go into, its %d config path(s) can be written", s.set.ID, len(s.set.Manifest.Config)))
	return nil
}

// writable says why path (or, when it does not exist, its directory)
// cannot be written.
func writable(path string) error {
	p := path
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		p = filepath.Dir(p)
	}
	if err := syscall.Access(p, 2 /* W_OK */); err != nil {
		return fmt.Errorf("%s is not writable (%w)", p, err)
	}
	return nil
}
