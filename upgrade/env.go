// Package upgrade holds the concrete steps of a hop and of a rollback, one
// file per step, and their order (Build). Steps reach Docker, docker
// compose, the database, backups and HTTP only through the small interfaces
// of ports.go; real.go wires the real ones, the tests use fakes.
package upgrade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	semver "github.com/seed-e7a9fb3b/upshift/releases/version"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// Env is what every step of a run shares: the outside world (through the
// ports), what detect found at the start, and the state the run builds up
// (restore point, version now).
type Env struct {
	Docker   Docker
	Compose  Compose
	Detector Detector
	Backups  Backups
	DB       DB
	HTTP     HTTP
	// PG runs the PostgreSQL major hop (nil in tests that have none).
	PG PGServers
	// BuildImage, when set, builds the app's image of a version instead
	// of pulling it (the demo builds its images from this binary).
	BuildImage func(ctx context.Context, version string, log func(string)) error
	// BuiltinEnvTemplate, when set, gives the .env template of a version
	// for a profile whose env_template is "builtin:..." (the demo).
	BuiltinEnvTemplate func(version string) ([]byte, error)

	Start     *detect.Result // detection before the run
	Profile   *profile.Profile
	Project   dockerx.Project
	BackupDir string
	Upshift   string // upshift's own version, recorded in manifests
	Journal   *steps.Journal
	// BackupAfterStop takes each backup after the writers stopped: no
	// acknowledged write can be lost by a rollback, at the price of the
	// backup's duration in downtime.
	BackupAfterStop bool
	// EnvTemplateDir holds <version>.env.example files that replace the
	// profile's template source (an admin without internet access).
	EnvTemplateDir string
	// TemplateDir (--templates DIR) holds <version>/<file> templates that
	// replace the profile's template sources (offline).
	TemplateDir string
	// BuiltinTemplate gives a template built into upshift (the demo's
	// compose file per version): name, the admin's file, version.
	BuiltinTemplate func(name, file, version string) ([]byte, error)
	// MigrationTimeout bounds a migration (default 30 minutes).
	MigrationTimeout time.Duration
	// RestoreProof says whether each hop's backup is proven by a restore
	// into a scratch PostgreSQL before the downtime ("" is auto).
	RestoreProof ProofMode
	// CleanupScratch removes scratch servers a killed run left behind
	// (nil in tests).
	CleanupScratch func(ctx context.Context) error
	// NoRehearsal turns off the rehearsal of each hop's migration on a
	// scratch copy (--no-rehearsal).
	NoRehearsal bool
	// RollbackTo says where a failure goes back to: the last good hop's
	// restore point (default: nothing written before it is lost) or the
	// run's first one.
	RollbackTo RollbackTarget

	// git: the project directory is a clone of the app's repository with
	// a tag per version; the config step checks the target's out.
	git *gitLayer
	// templateCache holds the release files fetched by this run.
	templateCache map[string][]byte

	mu         sync.Mutex
	points     []*backup.Set // restore points of the run, one per hop, oldest first
	current    string        // version running (or being installed) now
	changed    bool          // changed since the last verified version
	agreements []steps.Agreement
	// xidAtBackup is the next transaction ID when the newest restore
	// point's dump started (0: unknown); lateWrites counts, per restore
	// point, the write transactions committed between then and the stop,
	// which that restore point lacks.
	xidAtBackup int64
	lateWrites  map[string]int64
	verifiedIDs map[string]bool // sets verified by this run (checked before a restore)
	physical    bool            // this hop's restore point is a base backup + WAL (preflight decides)
	rehearsal   rehearsalState
	// pgSwitched are the restore points taken by a PostgreSQL major hop of
	// this process, after its stop: the old server's volume holds exactly
	// their data, so a rollback to one only switches back.
	pgSwitched map[string]bool
	// pgNext is the new major's server a PostgreSQL hop started before its
	// stop, until the copy step is done with it.
	pgNext *pgPrepared
}

// RollbackTarget is where a rollback goes back to.
type RollbackTarget string

// The rollback targets.
const (
	RollbackLastGood RollbackTarget = "last-good" // the newest restore point: the last verified version
	RollbackStart    RollbackTarget = "start"     // the run's first restore point
)

// MarkChanged records that the stack differs from the restore point from now
// on: a failure must roll back. Resume calls it when the journal shows a
// restore point (what happened after it is not certain).
func (e *Env) MarkChanged() {
	e.mu.Lock()
	e.changed = true
	e.mu.Unlock()
}

// Changed reports whether anything was changed since the restore point.
func (e *Env) Changed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

func (e *Env) setCurrent(v string) {
	e.mu.Lock()
	e.current = v
	e.mu.Unlock()
}

// Current is the version the stack runs (or is being moved to) now.
func (e *Env) Current() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.current
}

// RestorePoint is the backup set a rollback restores now: the newest one
// (taken at the start of the hop in progress, the last verified version),
// or the first one with RollbackStart; nil before the first backup.
func (e *Env) RestorePoint() *backup.Set {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.points) == 0 {
		return nil
	}
	if e.RollbackTo == RollbackStart {
		return e.points[0]
	}
	return e.points[len(e.points)-1]
}

// Origin is the run's first restore point: the stack as it was before.
func (e *Env) Origin() *backup.Set {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.points) == 0 {
		return nil
	}
	return e.points[0]
}

// AddRestorePoint records a restore point of the run (resume gives the
// journaled ones back, oldest first).
func (e *Env) AddRestorePoint(set *backup.Set) {
	e.mu.Lock()
	e.points = append(e.points, set)
	e.mu.Unlock()
}

// ResumeAt gives a resumed run what its journal says: the version that
// runs (the last verified one) and whether anything may have changed since.
func (e *Env) ResumeAt(current string, changed bool) {
	e.mu.Lock()
	e.current, e.changed = current, changed
	e.mu.Unlock()
}

// hopVerified marks the version now running as verified: a failure from
// here on before the next change leaves nothing to roll back (last-good).
func (e *Env) hopVerified() {
	e.mu.Lock()
	e.changed = false
	e.mu.Unlock()
}

// needsRollback says whether a failure now must restore a restore point:
// something changed since the last verified version, or the admin wants
// the run's start back and the stack is no longer there.
func (e *Env) needsRollback(from string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.points) == 0 {
		return false
	}
	return e.changed || (e.RollbackTo == RollbackStart && !semver.Same(e.current, from))
}

// sqlite reports whether the app keeps its data in a SQLite file.
func (e *Env) sqlite() bool { return e.Profile.DB.Engine == profile.EngineSQLite }

// pgContainer is the PostgreSQL container backups are checked in, "" for a
// SQLite app.
func (e *Env) pgContainer(det *detect.Result) string {
	if det.DB.SQLite != nil {
		return ""
	}
	return det.DB.Container
}

// Dir is the project directory.
func (e *Env) Dir() string { return e.Project.WorkingDir }

// EnvPath is the .env of the project.
func (e *Env) EnvPath() string {
	if e.Start != nil && e.Start.Stack.EnvFile != "" {
		return e.Start.Stack.EnvFile
	}
	return filepath.Join(e.Dir(), ".env")
}

// Secrets returns the values that must never be shown: the DB password and
// every secret-looking value of .env.
func (e *Env) Secrets() []string {
	var out []string
	if e.Start != nil && e.Start.DB.Params.Password != "" {
		out = append(out, e.Start.DB.Params.Password)
	}
	if b, err := os.ReadFile(e.EnvPath()); err == nil {
		if f, err := envfile.Parse(b); err == nil {
			for _, k := range f.Keys() {
				if v, _ := f.Get(k); envfile.IsSecretKey(k) {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// Redactor returns a function that masks every current secret.
func (e *Env) Redactor() func(string) string {
	return envfile.NewRedactor(e.Secrets()...).Redact
}

// Services with a role, in compose order.
func (e *Env) servicesWithRoles(roles ...string) []string {
	var out []string
	for _, s := range e.Start.Report.Services {
		for _, r := range roles {
			if s.Role == r {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

// Writers are the services stopped during a migration: the app's roles,
// and any other long-running service that can write to the database — it
// depends on the database service or holds its password (a cron sidecar,
// an exporter with a DSN). A reverse proxy that does neither keeps running.
func (e *Env) Writers() []string {
	out := e.servicesWithRoles(profile.RoleApp, profile.RoleWorker, profile.RoleScheduler, profile.RoleWeb)
	if e.Start == nil || e.Start.Stack == nil || e.Start.Stack.Model == nil {
		return out
	}
	dbSvc, pw := e.Start.DB.Service, e.Start.DB.Params.Password
	for _, s := range e.Start.Report.Services {
		if s.Role != profile.RoleOther || slices.Contains(out, s.Name) {
			continue
		}
		svc, ok := e.Start.Stack.Model.Services[s.Name]
		if !ok {
			continue
		}
		_, dependsOnDB := svc.DependsOn[dbSvc]
		holdsPassword := false
		for _, v := range svc.Environment {
			if v != nil && pw != "" && strings.Contains(*v, pw) {
				holdsPassword = true
			}
		}
		if (dbSvc != "" && dependsOnDB) || holdsPassword {
			out = append(out, s.Name)
		}
	}
	return out
}

// EnvTemplate fetches the env template (.env.example) of a version as the
// profile says: builtin, a path template in the project, or a URL template.
func (e *Env) EnvTemplate(ctx context.Context, version string) ([]byte, error) {
	src := e.Profile.EnvTemplate
	if e.EnvTemplateDir != "" && src != "" {
		bare := strings.TrimPrefix(version, "v")
		for _, name := range []string{version, bare, "v" + bare} {
			b, err := os.ReadFile(filepath.Join(e.EnvTemplateDir, name+".env.example"))
			if err == nil {
				return b, nil
			}
		}
		return nil, fmt.Errorf("no %s.env.example in %s (--env-templates)", version, e.EnvTemplateDir)
	}
	switch {
	case src == "":
		return nil, nil
	case strings.HasPrefix(src, "builtin:"):
		if e.BuiltinEnvTemplate == nil {
			return nil, fmt.Errorf("the profile's env template %s is not built into this upshift", src)
		}
		return e.BuiltinEnvTemplate(version)
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		url := strings.ReplaceAll(src, "{{version}}", version)
		status, b, err := e.HTTP.Get(ctx, url, 30*time.Second)
		if err != nil {
			return nil, fmt.Errorf("download env template: %w", err)
		}
		if status != 200 {
			return nil, fmt.Errorf("download env template %s: HTTP %d", url, status)
		}
		return b, nil
	default:
		p := strings.ReplaceAll(src, "{{version}}", version)
		if !filepath.IsAbs(p) {
			p = filepath.Join(e.Dir(), p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("env template of %s: %w", version, err)
		}
		return b, nil
	}
}

// detectNow re-reads the stack (containers are recreated between hops).
func (e *Env) detectNow(ctx context.Context) (*detect.Result, error) {
	return e.Detector.Detect(ctx)
}

// record journals a restore point (the journal is nil in dry runs and tests).
func (e *Env) recordBackup(id string, xid int64) {
	if e.Journal != nil {
		e.Journal.BackupCreated(id, xid)
	}
}

// ResumeLateWrites gives a resumed run the transaction ID at which its
// newest restore point's dump started: a rollback then counts the writes
// that point lacks (the killed run may have died before saying so).
func (e *Env) ResumeLateWrites(xid int64) {
	if xid <= 0 {
		return
	}
	e.mu.Lock()
	e.xidAtBackup = xid
	e.mu.Unlock()
}

func (e *Env) recordAgreement(a steps.Agreement) {
	if e.Journal != nil {
		e.Journal.Agreed(a)
	}
}

func (e *Env) markVerified(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.verifiedIDs == nil {
		e.verifiedIDs = map[string]bool{}
	}
	e.verifiedIDs[id] = true
}

func (e *Env) verified(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.verifiedIDs[id]
}
