package upgrade

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// Hop is one version to install on the way to the target.
type Hop struct {
	Version string
	Renames []envfile.Rename
	// Postgres, when set, makes this a PostgreSQL major hop (Version is
	// then the app version, unchanged by it).
	Postgres *PostgresMajor
}

// Build turns hops into the steps of an upgrade of env's stack, in order.
func Build(env *Env, from string, hops []Hop) *steps.Plan {
	env.setCurrent(from)
	if env.sqlite() {
		// A SQLite file (and its -wal) is only consistent with its writer
		// stopped: the backup always comes after the stop.
		env.BackupAfterStop = true
	}
	p := &steps.Plan{From: from}
	ahead := rehearseAhead(env, hops)
	prev := from
	for i, h := range hops {
		if h.Postgres != nil {
			p.Steps = append(p.Steps, postgresHopSteps(env, prev, *h.Postgres)...)
			continue
		}
		first := !slices.ContainsFunc(hops[:i], func(h Hop) bool { return h.Postgres == nil })
		p.Steps = append(p.Steps, &preflightStep{env: env, from: prev, to: h.Version})
		if !env.BackupAfterStop {
			p.Steps = append(p.Steps, withRestoreProof(&backupStep{env: env, hop: h.Version, rehearsedAhead: ahead && !first}))
		}
		switch {
		case ahead && first:
			// Every migration of the path is rehearsed, chained on one
			// copy, before the first downtime.
			p.Steps = append(p.Steps, rehearsalChain(env, prev, hops[i:], AheadGroup)...)
		case ahead:
			// Its image came and its migration was rehearsed before the
			// first hop's downtime.
		default:
			p.Steps = append(p.Steps, &imagesStep{env: env, hop: h.Version})
			if env.migrates() {
				// Before anything is stopped or changed; it skips itself (and
				// says why) when the backup comes after the stop.
				p.Steps = append(p.Steps, &rehearseStep{env: env, hop: h.Version, from: prev, renames: h.Renames})
			}
		}
		if len(env.Profile.Upgrade.Consent) > 0 {
			p.Steps = append(p.Steps, &termsStep{env: env, hop: h.Version})
		}
		config := &configStep{env: env, from: prev, to: h.Version, renames: h.Renames}
		if env.BackupAfterStop {
			// The restore point must hold the old .env: config comes after it.
			p.Steps = append(p.Steps, &stopStep{env: env, hop: h.Version}, &backupStep{env: env, hop: h.Version}, config)
		} else {
			// The .env diff is read and approved before the downtime starts.
			p.Steps = append(p.Steps, config, &stopStep{env: env, hop: h.Version})
		}
		if env.Profile.Migration.Mode != profile.MigrateNone && env.Profile.Migration.Mode != "" {
			p.Steps = append(p.Steps, &migrateStep{env: env, hop: h.Version})
		}
		p.Steps = append(p.Steps,
			&startStep{env: env, hop: h.Version, version: h.Version},
			&verifyStep{env: env, hop: h.Version, version: h.Version, hopEnd: true},
		)
		prev = h.Version
	}
	if len(hops) > 0 {
		p.To = hops[len(hops)-1].Version
		p.Steps = append(p.Steps, &cleanupStep{env: env})
	}
	p.Backup = func() string {
		if s := env.RestorePoint(); s != nil {
			return s.ID
		}
		return ""
	}
	p.Origin = func() string {
		if s := env.Origin(); s != nil {
			return s.ID
		}
		return ""
	}
	p.Rollback = func() []steps.Step {
		// Nothing to undo before the first change since the last verified
		// version (a failed pull, a "no" to the .env diff): a rollback
		// would only cost downtime.
		if !env.needsRollback(from) {
			return nil
		}
		return RestoreSteps(env, env.RestorePoint(), "rollback", false)
	}
	p.Reached = env.Current
	p.RollbackNote = env.rollbackNote
	return p
}

// AheadGroup is the heading of the images and rehearsals of every hop that
// run before the first downtime.
const AheadGroup = "before any downtime: every migration rehearsed, one after the other on one copy"

// rehearseAhead, for a path of more than one app hop whose migrations are
// rehearsed, says to rehearse every one of them before the first downtime
// (rehearsalChain); without it, hop N's rehearsal would come after hop
// N-1's downtime.
func rehearseAhead(env *Env, hops []Hop) bool {
	apps, _ := appHops(hops)
	return len(apps) > 1 && !env.BackupAfterStop && !env.NoRehearsal && env.migrates()
}

// appHops are the hops that install an app version, and the first
// PostgreSQL major hop of the path (nil if none).
func appHops(hops []Hop) ([]Hop, *PostgresMajor) {
	var apps []Hop
	var server *PostgresMajor
	for _, h := range hops {
		if h.Postgres != nil {
			if server == nil {
				m := *h.Postgres
				server = &m
			}
			continue
		}
		apps = append(apps, h)
	}
	return apps, server
}

// rehearsalChain is each app hop's images and its migration rehearsed on
// the copy the one before it left, from from. When the path moves
// PostgreSQL to a new major, the hops before the move are rehearsed on a
// copy in the old server's image, and the copy is moved into the new
// server's image (dump and restore, as the hop does) before the first hop
// after it; a path that starts with the move makes its copy in the new
// image.
func rehearsalChain(env *Env, from string, hops []Hop, group string) []steps.Step {
	apps, server := appHops(hops)
	env.rehearsal.server = server
	env.rehearsal.firstOld = false
	var out []steps.Step
	prev, moved, n, prevOld := from, server == nil, 0, false
	for _, h := range hops {
		if h.Postgres != nil {
			moved = true
			continue
		}
		n++
		if n == 1 {
			env.rehearsal.firstOld = !moved
		}
		out = append(out,
			&imagesStep{env: env, hop: h.Version, group: group},
			&rehearseStep{
				env: env, hop: h.Version, from: prev, chained: n > 1, keep: n < len(apps), renames: h.Renames,
				oldServer: !moved, move: moved && prevOld, group: group,
			})
		prev, prevOld = h.Version, !moved
	}
	return out
}

// RestoreSteps put a backup set back: config, images, database and volumes
// together, then start and verify the version it holds. `upshift restore`
// and the upgrade's rollback run the same steps.
func RestoreSteps(env *Env, set *backup.Set, hop string, confirm bool) []steps.Step {
	return []steps.Step{
		&restoreCheckStep{env: env, hop: hop, set: set},
		&stopStep{env: env, hop: hop, all: true},
		&restoreStep{env: env, hop: hop, set: set, confirm: confirm},
		&startStep{env: env, hop: hop, version: set.Manifest.Version},
		&verifyStep{env: env, hop: hop, version: set.Manifest.Version, restored: true},
	}
}

func id(hop, name string) string {
	if hop == "" {
		return name
	}
	return hop + "/" + name
}

// BackupPlan is `upshift backup`: one verified backup set, nothing else.
func BackupPlan(env *Env) *steps.Plan {
	cur := env.Start.Report.Version
	env.setCurrent(cur)
	st := []steps.Step{&backupStep{env: env}}
	if env.sqlite() {
		// A SQLite file is copied with its writer stopped: a short downtime.
		env.BackupAfterStop = true
		st = []steps.Step{&stopStep{env: env}, &backupStep{env: env}, &startStep{env: env, version: cur}, &verifyStep{env: env, version: cur}}
	}
	return &steps.Plan{
		From: cur, To: cur,
		Steps: st,
		Backup: func() string {
			if s := env.RestorePoint(); s != nil {
				return s.ID
			}
			return ""
		},
		Reached: env.Current,
	}
}

// RestorePlan is `upshift restore ID` (and `upshift rollback`): put a backup
// set back and start what it holds.
func RestorePlan(env *Env, set *backup.Set, hop string, confirm bool) *steps.Plan {
	env.setCurrent(env.Start.Report.Version)
	return &steps.Plan{
		From: env.Start.Report.Version, To: set.Manifest.Version,
		Steps:     RestoreSteps(env, set, hop, confirm),
		Backup:    func() string { return set.ID },
		Reached:   env.Current,
		Restoring: true,
		// A resumed rollback says what its restore point lacks.
		RollbackNote: env.rollbackNote,
	}
}

func sortedKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// rollbackNote says what the restore point of a rollback lacks.
func (e *Env) rollbackNote() string {
	set, origin := e.RestorePoint(), e.Origin()
	if set == nil {
		return ""
	}
	note := ""
	if e.RollbackTo == RollbackStart && origin != nil && len(e.points) > 1 {
		note = fmt.Sprintf("Back to the start (--rollback-to start): what was written after %s, while the later versions ran, is not in it.", origin.Manifest.Finished.Local().Format(time.DateTime))
	}
	if n := e.LateWrites(); n > 0 {
		note = strings.TrimSpace(note + fmt.Sprintf(" %d write transaction(s) committed between backup %s and the stop are not in it.", n, set.ID))
	}
	return note
}

// StartPlan starts the writers of version again and verifies it: what a
// resume does for a run killed while the app was stopped and nothing else
// had changed (a backup taken after the stop).
func StartPlan(env *Env, version string) *steps.Plan {
	env.setCurrent(version)
	return &steps.Plan{
		From: version, To: version,
		Steps: []steps.Step{
			&startStep{env: env, hop: "resume", version: version},
			&verifyStep{env: env, hop: "resume", version: version},
		},
		Reached: env.Current,
	}
}

// RehearsePlan is `upshift rehearse`: every hop's migration on one scratch
// copy, nothing of the stack stopped or changed. The first hop's backup is
// taken from the running database (proven by its restore into the scratch
// server, which stays up); each later hop runs on the copy the previous
// hop's migration left, as the real upgrade would find it.
func RehearsePlan(env *Env, from string, hops []Hop) (*steps.Plan, error) {
	env.setCurrent(from)
	// A PostgreSQL major hop has no migration of its own: the chain runs on
	// a copy in its new server, the one the app hops after it really meet.
	apps, server := appHops(hops)
	switch {
	case len(apps) == 0 && server != nil:
		return nil, fmt.Errorf("only the database server moves on this path (%s): it has no migration to rehearse; its copy step compares every table itself", server.Title())
	case len(apps) == 0:
		return nil, fmt.Errorf("already at %s: nothing to rehearse", from)
	case env.sqlite():
		return nil, errors.New("a SQLite app cannot be rehearsed: upshift rehearses migrations on a scratch PostgreSQL. Nothing was changed")
	case !env.migrates():
		return nil, fmt.Errorf("the %s profile runs no migration (migration.mode %q): nothing to rehearse", env.Profile.Name, env.Profile.Migration.Mode)
	}
	env.NoRehearsal, env.BackupAfterStop = false, false
	p := &steps.Plan{From: from, To: apps[len(apps)-1].Version}
	p.Steps = append(p.Steps,
		&preflightStep{env: env, from: from, to: apps[0].Version},
		withRestoreProof(&backupStep{env: env, hop: apps[0].Version}))
	p.Steps = append(p.Steps, rehearsalChain(env, from, hops, "")...)
	p.Reached = func() string { return from }
	p.Success = func() string {
		parts := make([]string, 0, len(apps))
		for _, r := range env.Rehearsals() {
			s := fmt.Sprintf("%s in %s", r.Hop, r.Duration.Round(100*time.Millisecond))
			if r.Head != "" {
				s += " (head " + r.Head + ")"
			}
			parts = append(parts, s)
		}
		msg := fmt.Sprintf("Every migration from %s to %s passed its rehearsal on a scratch copy", from, p.To)
		if len(parts) > 0 {
			msg += ": " + strings.Join(parts, ", ")
		}
		msg += fmt.Sprintf(". Nothing of the stack was stopped or changed; it still runs %s. `upshift upgrade --to %s` runs them for real.", from, p.To)
		if len(parts) < len(apps) {
			msg += " Some hops could not be rehearsed (no scratch PostgreSQL could run): see the log."
		}
		return msg
	}
	return p, nil
}
