package upgrade

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- stop writers

type stopStep struct {
	env *Env
	hop string
	all bool // rollback: stop every writer whatever its state
}

func (s *stopStep) Info() steps.StepInfo {
	w := s.env.Writers()
	return steps.StepInfo{
		ID: id(s.hop, "stop"), Hop: s.hop, Name: stopName(w),
		Explain: "Stops the services that write to the database (" + strings.Join(w, ", ") + ") so the migration sees a still database. The database itself keeps running. Downtime starts here.",
		Confirm: !s.all,
		Touches: []string{"docker compose stop " + strings.Join(w, " ")},
	}
}

func (s *stopStep) Run(ctx context.Context, sink steps.Sink) error {
	if err := s.env.stopAdded(ctx, sink); err != nil {
		return err
	}
	if w := s.env.Writers(); len(w) > 0 {
		if err := s.env.waitOneOffs(ctx, sink); err != nil {
			return err
		}
		if err := s.env.Compose.Run(ctx, sink.Log, append([]string{"stop", "--timeout", "20"}, w...)...); err != nil {
			return err
		}
	}
	if !s.all {
		s.env.countLateWrites(ctx, sink)
		// Nothing writes now: the restore point gets the WAL up to here.
		return s.env.sealRestorePoint(ctx, sink)
	}
	return nil
}

// stopAdded stops the containers running now of services the stack did
// not have when the run began (a service a release added, such as the demo
// 2.0.0's scheduler). The profile does not know them, so they count as
// writers: a migration or a restore never runs under them. They are
// stopped by container, since the compose file in place may no longer name
// them (a rollback that already put the old one back).
func (e *Env) stopAdded(ctx context.Context, sink steps.Sink) error {
	if e.Start == nil {
		return nil
	}
	cs, err := e.Docker.ProjectContainers(ctx, e.Project.Name)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, s := range e.Start.Report.Services {
		known[s.Name] = true
	}
	for _, c := range cs {
		if c.OneOff || c.State != "running" || c.Service == "" || known[c.Service] || c.Service == e.Start.DB.Service {
			continue
		}
		sink.Log("stopping " + c.Name + " (service " + c.Service + ", added by the upgrade)")
		if err := e.Docker.Stop(ctx, c.ID, 20*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// countLateWrites reports the write transactions committed after the
// restore point's dump started and before the stop: a rollback to it
// would lose them. Counted once, at the first stop after that backup.
func (e *Env) countLateWrites(ctx context.Context, sink steps.Sink) {
	e.mu.Lock()
	mark := e.xidAtBackup
	e.xidAtBackup = 0
	e.mu.Unlock()
	if mark == 0 || e.Start == nil {
		return
	}
	x, err := e.DB.NextXID(ctx, e.Start.DB.Params)
	if err != nil || x <= mark {
		return
	}
	e.mu.Lock()
	if e.lateWrites == nil {
		e.lateWrites = map[string]int64{}
	}
	if n := len(e.points); n > 0 {
		e.lateWrites[e.points[n-1].ID] = x - mark
	}
	e.mu.Unlock()
	sink.Log(fmt.Sprintf("! %d write transaction(s) were committed while the backup ran or just after it; the restore point does not have them, so a rollback would lose them (--backup-after-stop closes this window, at the cost of a longer downtime)", x-mark))
}

// LateWrites is the number of write transactions the restore point a
// rollback would restore lacks (committed between its dump and the stop),
// when known.
func (e *Env) LateWrites() int64 {
	set := e.RestorePoint()
	e.mu.Lock()
	defer e.mu.Unlock()
	if set == nil {
		return 0
	}
	return e.lateWrites[set.ID]
}

// waitOneOffs stops migration containers left by an earlier, killed run.
func (e *Env) waitOneOffs(ctx context.Context, sink steps.Sink) error {
	cs, err := e.Docker.ProjectContainers(ctx, e.Project.Name)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.OneOff && c.State == "running" {
			sink.Log("a one-off container from an earlier run is still running: " + c.Name + "; waiting up to 2 minutes for it to finish")
			wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			code, err := e.Docker.Wait(wctx, c.ID)
			cancel()
			if err != nil {
				sink.Log("stopping " + c.Name)
				if err := e.Docker.Stop(ctx, c.ID, 10*time.Second); err != nil {
					return err
				}
			} else {
				sink.Log(fmt.Sprintf("%s exited with %d", c.Name, code))
			}
		}
	}
	return nil
}

func stopName(writers []string) string {
	if len(writers) == 0 {
		return "Stop the app"
	}
	return "Stop the app (" + strings.Join(writers, ", ") + ")"
}
