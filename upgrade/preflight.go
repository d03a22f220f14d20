package upgrade

import (
	"context"
	"fmt"
	"slices"
	"strings"

	semver "github.com/seed-e7a9fb3b/upshift/releases/version"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
	"github.com/seed-e7a9fb3b/upshift/pg"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- preflight

type preflightStep struct {
	env      *Env
	from, to string
}

func (s *preflightStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: id(s.to, "preflight"), Hop: s.to, Name: "Check before " + s.to,
		Explain:  "Checks that everything the upgrade needs is there before anything is touched: the Docker engine, docker compose, the database (reachable, no half-applied migration), free disk space for the backup, and the images of " + s.to + ". Nothing is changed.",
		Touches:  []string{"reads only"},
		ReadOnly: true,
	}
}

func (s *preflightStep) Run(ctx context.Context, sink steps.Sink) error {
	e := s.env
	info, err := e.Docker.Server(ctx)
	if err != nil {
		return fmt.Errorf("the Docker engine: %w", err)
	}
	sink.Log(fmt.Sprintf("✓ Docker engine %s (API %s)", info.Version, info.APIVersion))
	cv, err := e.Compose.Version(ctx)
	if err != nil {
		return err
	}
	sink.Log("✓ docker compose " + cv)
	if err := e.checkApply(s.to, sink); err != nil {
		return err
	}
	if err := e.checkReleaseFiles(ctx, s.from, s.to, sink); err != nil {
		return err
	}
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	rep := det.Report
	if det.Profile.DB.Engine == profile.EnginePostgres || det.Profile.DB.Engine == "" {
		if !rep.DB.Reachable {
			return fmt.Errorf("the database is not reachable: %s. Nothing was changed", rep.DB.Error)
		}
		sink.Log(fmt.Sprintf("✓ PostgreSQL %s reachable at service %s (%s)", rep.DB.ServerVersion, rep.DB.Service, human.Bytes(rep.DB.SizeBytes)))
		if rep.Schema.Dirty {
			return fmt.Errorf("the %s schema is dirty (a migration half-ran: %s). Nothing was changed. Repair it or restore a backup before upgrading", rep.Schema.Tool, strings.Join(append([]string{rep.Schema.Head}, rep.Schema.Failed...), ", "))
		}
		sink.Log(fmt.Sprintf("✓ schema %s head %s, not dirty", rep.Schema.Tool, orDash(rep.Schema.Head)))
		if e.Profile.DB.NeedsDDL {
			params, err := e.appRole(det.DB.Params)
			if err != nil {
				return err
			}
			if err := e.checkDDLRights(ctx, params); err != nil {
				return err
			}
			sink.Log("✓ the database role " + params.User + " may create and alter the app's tables (" + e.Profile.Name + " migrates itself at start)")
		}
	}
	if e.sqlite() {
		if !rep.DB.Reachable {
			return fmt.Errorf("the SQLite database cannot be read: %s. Nothing was changed", rep.DB.Error)
		}
		if det.DB.SQLite == nil || det.DB.SQLite.Container == "" {
			return fmt.Errorf("no container of the project mounts the directory of %s, so it cannot be backed up. Nothing was changed. Fix: start the stack (docker compose up -d)", rep.DB.Address)
		}
		sink.Log(fmt.Sprintf("✓ SQLite database %s readable (%s), schema %s %s", rep.DB.Address, human.Bytes(rep.DB.SizeBytes), rep.Schema.Tool, orDash(rep.Schema.Head)))
		sink.Log("• the backup is taken after the app stopped: a SQLite file is only consistent without its writer")
	}
	if e.CleanupScratch != nil {
		// A killed run may have left a scratch server (its owner is gone).
		if err := e.CleanupScratch(ctx); err != nil {
			sink.Log("• could not remove leftover scratch servers: " + err.Error())
		}
	}
	// The lock is held: a replication slot of upshift's is a killed run's.
	e.dropStaleSlots(ctx, det, e.pendingSlot(), sink.Log)
	e.checkPhysical(ctx, det, sink)
	if err := e.checkDependencies(det, sink); err != nil {
		return err
	}
	if !semver.Same(rep.Version, s.from) && !strings.HasPrefix(rep.Version, "unknown") {
		return fmt.Errorf("the stack runs %s, but this hop starts from %s. Nothing was changed. Run `upshift plan` again", rep.Version, s.from)
	}
	need, err := e.estimate(ctx, det)
	if err != nil {
		return err
	}
	if err := e.Backups.CheckFreeSpace(e.BackupDir, need); err != nil {
		return err
	}
	sink.Log(fmt.Sprintf("✓ free space for a backup of about %s in %s", human.Bytes(need), e.BackupDir))
	for _, ref := range e.targetImages(s.to) {
		if _, ok, err := e.Docker.ImageInspect(ctx, ref); err != nil {
			return err
		} else if ok {
			sink.Log("✓ image " + ref + " is here")
		} else if e.BuildImage != nil {
			sink.Log("✓ image " + ref + " will be built here")
		} else {
			sink.Log("• image " + ref + " will be pulled before any downtime")
		}
	}
	return nil
}

// checkDDLRights refuses an upgrade whose migration would fail for lack of
// rights, before anything is changed.
func (e *Env) checkDDLRights(ctx context.Context, params pg.Params) error {
	missing, err := e.DB.DDLRights(ctx, params)
	if err != nil {
		return fmt.Errorf("check the database role's rights: %w", err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("the app migrates its schema itself at start and only logs a failure, but %s. Nothing was changed. Fix: grant the rights (e.g. make the role own the tables: ALTER TABLE … OWNER TO %s; GRANT CREATE ON SCHEMA public TO %s), or apply the version's schema changes by hand first", strings.Join(missing, "; "), params.User, params.User)
	}
	return nil
}

// BackupEstimate is the size of a restore point of the stack as it is
// now: the plan screen and the preflight step use this one figure.
func (e *Env) BackupEstimate(ctx context.Context) (int64, error) {
	det, err := e.detectNow(ctx)
	if err != nil {
		return 0, err
	}
	return e.estimate(ctx, det)
}

func (e *Env) estimate(ctx context.Context, det *detect.Result) (int64, error) {
	src, err := e.backupSource(ctx, det)
	if err != nil {
		return 0, err
	}
	return e.Backups.Estimate(ctx, src)
}

// checkDependencies refuses to start when a service the app needs is not
// up: the app's depends_on, and the project's other long-running services.
// Found now, it costs nothing; found after the stop, the new version would
// wait for it until the watchdog or the timeout, with the app down.
func (e *Env) checkDependencies(det *detect.Result, sink steps.Sink) error {
	needed := map[string]string{} // service → who needs it running
	jobs := map[string]bool{}     // depended on as a job that completed
	writers := e.Writers()
	if det.Stack != nil && det.Stack.Model != nil {
		for _, w := range writers {
			if svc, ok := det.Stack.Model.Services[w]; ok {
				for dep, how := range svc.DependsOn {
					switch {
					case slices.Contains(writers, dep):
					case how.Condition == "service_completed_successfully":
						jobs[dep] = true
					default:
						needed[dep] = w
					}
				}
			}
		}
	}
	var down []string
	for _, sv := range det.Report.Services {
		who, isDep := needed[sv.Name]
		// A stopped redis exits 0 too: only what is not needed running
		// may be a finished job.
		if slices.Contains(writers, sv.Name) || (!isDep && sv.FinishedJob()) || (jobs[sv.Name] && sv.State == "exited" && sv.ExitCode == 0) ||
			(sv.Role == profile.RoleJob && !isDep && sv.State != "running") {
			continue
		}
		problem := ""
		switch {
		case sv.State != "running":
			problem = sv.State
		case sv.Health == "unhealthy" || sv.Health == "starting":
			problem = sv.Health
		}
		switch {
		case problem == "":
		case isDep:
			down = append(down, fmt.Sprintf("%s is %s (%s depends on it)", sv.Name, problem, who))
		case sv.State == "not created":
			sink.Log("• " + sv.Name + " is not created (not started with this project); the app does not depend on it")
		default:
			down = append(down, fmt.Sprintf("%s is %s", sv.Name, problem))
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("%s. Nothing was changed. A new version started now would wait for it with the app stopped. Fix: start it (docker compose up -d %s) and check its logs, then run the upgrade again", strings.Join(down, "; "), firstWord(down[0]))
	}
	sink.Log("✓ the services the app needs are up")
	return nil
}

func firstWord(s string) string {
	if i := strings.IndexByte(s, ' '); i > 0 {
		return s[:i]
	}
	return s
}
