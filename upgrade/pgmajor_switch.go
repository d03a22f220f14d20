package upgrade

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- switch the database service to the new major

type pgSwitchStep struct {
	env *Env
	m   PostgresMajor
}

func (s *pgSwitchStep) Info() steps.StepInfo {
	return steps.StepInfo{
		// "config": the files change here (resume and rollback read it so).
		ID: id(s.m.hopID(), "config"), Hop: s.m.hopID(), Name: "Switch the database to PostgreSQL " + strconv.Itoa(s.m.ToMajor),
		Explain: fmt.Sprintf("Writes the edit you approved (the database service's image and its new volume or directory), starts the database service with docker compose, and checks that it runs PostgreSQL %d on the copy the previous step proved (every table's row count). From here a failure rolls back: the files go back to the old image and volume (or directory), and the old server starts on its untouched data.", s.m.ToMajor),
		Touches: append([]string{s.env.EnvPath()}, s.env.composeTree()...),
	}
}

func (s *pgSwitchStep) Run(ctx context.Context, sink steps.Sink) error {
	e := s.env
	if err := e.pgPorts(); err != nil {
		return err
	}
	set := e.newestPoint()
	if set == nil {
		return fmt.Errorf("no restore point for the switch to PostgreSQL %d. Nothing was changed", s.m.ToMajor)
	}
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	l, err := e.pgLayoutOf(det)
	if err != nil {
		return err
	}
	w, err := e.pgSwitchOf(det, l, s.m)
	if err != nil {
		return err
	}
	// From the first byte written on, a failure rolls back, and the old
	// volume still holds exactly this restore point's data.
	e.MarkChanged()
	e.pgSwitchedSet(set)
	if w.envNext != nil {
		if err := envfile.WriteAtomic(e.EnvPath(), w.envNext, 0o600); err != nil {
			return err
		}
		if w.imageVar != "" && w.oldImage != w.newImage {
			sink.Log(fmt.Sprintf("✓ %s=%s in %s", w.imageVar, w.imageVal, e.EnvPath()))
		}
		if w.dirVar != "" && w.oldVolume != w.newVolume {
			sink.Log(fmt.Sprintf("✓ %s=%s in %s", w.dirVar, w.newVolume, e.EnvPath()))
		}
	}
	for _, f := range sortedKeys(w.next) {
		mode := os.FileMode(0o644)
		if st, err := os.Stat(f); err == nil {
			mode = st.Mode().Perm()
		}
		if err := envfile.WriteAtomic(f, w.next[f], mode); err != nil {
			return err
		}
		sink.Log("✓ " + f + ": the " + det.DB.Service + " service on " + w.newVolume)
	}
	if err := e.Compose.Run(ctx, sink.Log, "up", "--detach", "--wait", "--wait-timeout", "180", det.DB.Service); err != nil {
		return fmt.Errorf("PostgreSQL %d did not start under docker compose: %w", s.m.ToMajor, err)
	}
	det, err = e.detectNow(ctx)
	if err != nil {
		return err
	}
	p := det.DB.Params
	db := backup.DBSource{Container: det.DB.Container, User: p.User, Password: p.Password, Database: p.Database}
	num, err := e.PG.ServerVersionNum(ctx, db)
	if err != nil {
		return fmt.Errorf("ask the switched database its version: %w", err)
	}
	if majorOf(num) != s.m.ToMajor {
		return fmt.Errorf("the database service runs PostgreSQL %d after the switch, not %d", majorOf(num), s.m.ToMajor)
	}
	// The copy step proved this data directory table by table; counting
	// the rows shows the service runs that directory, not another one.
	n, err := e.PG.CompareServerCounts(ctx, set, db)
	if err != nil {
		return fmt.Errorf("after the switch: %w", err)
	}
	sink.Log(fmt.Sprintf("✓ the database service runs PostgreSQL %d (server_version_num %d) on the proven copy: %d tables, the old server's row counts", s.m.ToMajor, num, n))
	return nil
}
