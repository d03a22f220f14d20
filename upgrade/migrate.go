package upgrade

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- migrate

type migrateStep struct {
	env *Env
	hop string
}

func (s *migrateStep) Info() steps.StepInfo {
	m := s.env.Profile.Migration
	info := steps.StepInfo{ID: id(s.hop, "migrate"), Hop: s.hop, Name: "Migrate the database to " + s.hop, Confirm: true}
	switch m.Mode {
	case profile.MigrateOneOff:
		info.Explain = "Runs the migration of " + s.hop + " once, in a one-off container of the " + m.Service + " service with the app's environment, volumes and network. Its output is shown live. If it fails, upshift restores the backup."
		info.Touches = []string{"docker compose run --rm --no-deps " + m.Service + " " + strings.Join(m.Command, " ")}
		for _, a := range m.After {
			info.Touches = append(info.Touches, "docker compose run --rm --no-deps "+m.Service+" "+strings.Join(a, " "))
		}
	case profile.MigrateEntrypoint:
		svc := s.env.migrationService()
		info.Explain = "Starts " + svc + ", whose entrypoint migrates the database, and watches its log for the line that means success. If it fails, upshift restores the backup."
		info.Touches = []string{"docker compose up -d --no-deps " + svc}
	default:
		info.Explain = "No migration step for this app."
	}
	return info
}

func (s *migrateStep) Run(ctx context.Context, sink steps.Sink) error {
	e := s.env
	m := e.Profile.Migration
	timeout := e.MigrationTimeout
	if d, err := time.ParseDuration(m.Timeout); err == nil && d > 0 {
		timeout = d
	}
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	e.MarkChanged()
	// A migration left running by a killed earlier run must end first: two
	// migrations at once would corrupt the schema.
	if err := e.waitOneOffs(ctx, sink); err != nil {
		return err
	}
	switch m.Mode {
	case profile.MigrateOneOff:
		args := []string{"run", "--rm", "--no-deps", "-T"}
		keys := make([]string, 0, len(m.Env))
		for k := range m.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			args = append(args, "-e", k+"="+m.Env[k])
		}
		args = append(args, m.Service)
		if err := e.Compose.Run(ctx, sink.Log, append(args, m.Command...)...); err != nil {
			return fmt.Errorf("the migration failed: %w", err)
		}
		for _, after := range m.After {
			sink.Log("• " + strings.Join(after, " "))
			if err := e.Compose.Run(ctx, sink.Log, append(args[:len(args):len(args)], after...)...); err != nil {
				return fmt.Errorf("%s failed after the migration: %w", strings.Join(after, " "), err)
			}
		}
		return nil
	case profile.MigrateEntrypoint:
		return s.watchEntrypoint(ctx, sink)
	default:
		return nil
	}
}

// migrationService is the service that runs the migration: the profile's,
// or (entrypoint mode without one) the first service with the app role.
func (e *Env) migrationService() string {
	if s := e.Profile.Migration.Service; s != "" {
		return s
	}
	if apps := e.servicesWithRoles(profile.RoleApp); len(apps) > 0 {
		return apps[0]
	}
	return ""
}
