package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	semver "github.com/seed-e7a9fb3b/upshift/releases/version"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// PostgresMajor is a hop that moves the database server to a new
// PostgreSQL major version, the app's version unchanged: the writers stop,
// every database and the roles are dumped from the old server and restored
// into a server of the new major on a new volume, compared table by table,
// then the compose file's database service is pointed at the new image and
// volume. The old volume is never written to again: a rollback switches
// the files back and starts the old server on it.
type PostgresMajor struct {
	FromMajor int
	ToMajor   int
	Image     string // the new major's image
}

// Title is the hop's name: "PostgreSQL 15 → 17".
func (m PostgresMajor) Title() string {
	return fmt.Sprintf("PostgreSQL %d → %d", m.FromMajor, m.ToMajor)
}

// HopID is the hop's name in step IDs and journals ("postgresql-17").
func (m PostgresMajor) HopID() string { return pgHopPrefix + strconv.Itoa(m.ToMajor) }

func (m PostgresMajor) hopID() string { return m.HopID() }

const pgHopPrefix = "postgresql-"

// IsPostgresHop says whether a hop name of a journal is a PostgreSQL major hop.
func IsPostgresHop(hop string) bool {
	_, ok := PostgresHopMajor(hop)
	return ok
}

// PostgresHopMajor is the major a PostgreSQL hop of a journal moves to
// ("postgresql-17": 17); ok is false for any other hop name.
func PostgresHopMajor(hop string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(hop, pgHopPrefix))
	return n, strings.HasPrefix(hop, pgHopPrefix) && err == nil && n > 0
}

// postgresHopSteps are the steps of the hop, with app the version that
// runs before and after it.
func postgresHopSteps(env *Env, app string, m PostgresMajor) []steps.Step {
	h := m.hopID()
	return []steps.Step{
		&pgPreflightStep{env: env, app: app, m: m},
		&pgImageStep{env: env, m: m},
		&pgReviewStep{env: env, m: m},
		&pgPrepareStep{env: env, m: m},
		&stopStep{env: env, hop: h},
		newPGBackupStep(env, m),
		&pgCopyStep{env: env, m: m},
		&pgSwitchStep{env: env, m: m},
		&startStep{env: env, hop: h, version: app},
		&verifyStep{env: env, hop: h, version: app, hopEnd: true},
	}
}

// pgLayout is where the old server keeps its data and how it was set up.
type pgLayout struct {
	container dockerx.Container
	dataDir   string // the mount point of the data volume
	volume    string // the Docker name of the old data volume
	// bindDir is the old data directory's path on the engine's host when
	// it is a bind mount (volume is then "").
	bindDir string
	env     []string
}

// pgLayoutOf reads the database container: its data volume (a named one,
// or a directory of the host, mounted at or above PGDATA) and the env its
// entrypoint initialised with.
func (e *Env) pgLayoutOf(det *detect.Result) (pgLayout, error) {
	svc := det.DB.Service
	c, ok := det.Containers[svc]
	if !ok || det.DB.Container == "" {
		return pgLayout{}, fmt.Errorf("no container of the database service %s runs. Nothing was changed. Fix: docker compose up -d %s", orDash(svc), orDash(svc))
	}
	l := pgLayout{container: c}
	pgdata := "/var/lib/postgresql/data"
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "PGDATA" && v != "" {
			pgdata = path.Clean(v)
		}
		if k == "PGDATA" || strings.HasPrefix(k, "POSTGRES_") || strings.HasPrefix(k, "POSTGRESQL_") {
			l.env = append(l.env, kv)
		}
	}
	var best dockerx.Mount
	for _, mt := range c.Mounts {
		d := path.Clean(mt.Destination)
		if (d == pgdata || strings.HasPrefix(pgdata, d+"/")) && len(d) > len(best.Destination) {
			best = mt
		}
	}
	switch {
	case best.Destination == "":
		return pgLayout{}, fmt.Errorf("the %s container keeps its data directory %s in no volume: its data would be lost with the container. Nothing was changed. Fix: mount a named volume or a directory there first", svc, pgdata)
	case best.Type == "bind" && path.IsAbs(best.Source) && path.Clean(best.Source) != "/":
		l.bindDir = path.Clean(best.Source)
	case best.Type != "volume" || best.Name == "":
		return pgLayout{}, fmt.Errorf("the %s container keeps its data directory %s in a %s mount (%s), not a named volume or a directory of the host: upshift cannot put the new major's data next to it. Nothing was changed. Do this upgrade by hand", svc, pgdata, best.Type, best.Source)
	}
	l.dataDir, l.volume = path.Clean(best.Destination), best.Name
	sort.Strings(l.env)
	return l, nil
}

// pgSwitchOf computes the compose/.env edit of the hop from the files.
func (e *Env) pgSwitchOf(det *detect.Result, l pgLayout, m PostgresMajor) (*pgSwitch, error) {
	return planPGSwitch(e.Project.Files, os.ReadFile, e.EnvPath(), det.DB.Service, l.dataDir, m.Image, m.ToMajor)
}

// pgVolumeName is the Docker name compose gives a volume key of the project.
func (e *Env) pgVolumeName(key string) string { return e.Project.Name + "_" + key }

func majorOf(versionNum int) int { return versionNum / 10000 }

// serverMajor reads the major from a server version string ("15.8", "PostgreSQL 15.8 on …").
func serverMajor(v string) int {
	for f := range strings.FieldsSeq(v) {
		num, _, _ := strings.Cut(f, ".")
		if n, err := strconv.Atoi(num); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

func (e *Env) pgPorts() error {
	if e.PG == nil {
		return errors.New("the PostgreSQL major upgrade is not available here (no Docker engine wired). Nothing was changed")
	}
	return nil
}

// ---- preflight

type pgPreflightStep struct {
	env *Env
	app string
	m   PostgresMajor
}

func (s *pgPreflightStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: id(s.m.hopID(), "preflight"), Hop: s.m.hopID(), Name: "Check before " + s.m.Title(),
		Explain:  fmt.Sprintf("Checks, before anything is touched, that the database server can move to PostgreSQL %d: it runs %d, the image %s is here (or will be pulled before any downtime), the database service keeps its data in a named volume or a directory of the host and its compose image: line can be edited, and the disk has room for a second data directory (about 1.5 × the databases) and the backup. Nothing is changed.", s.m.ToMajor, s.m.FromMajor, s.m.Image),
		Touches:  []string{"reads only"},
		ReadOnly: true,
	}
}

func (s *pgPreflightStep) Run(ctx context.Context, sink steps.Sink) error {
	e := s.env
	if err := e.pgPorts(); err != nil {
		return err
	}
	if _, err := e.Docker.Server(ctx); err != nil {
		return fmt.Errorf("the Docker engine: %w", err)
	}
	if _, err := e.Compose.Version(ctx); err != nil {
		return err
	}
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	rep := det.Report
	if !rep.DB.Reachable {
		return fmt.Errorf("the database is not reachable: %s. Nothing was changed", rep.DB.Error)
	}
	if got := serverMajor(rep.DB.ServerVersion); got != s.m.FromMajor {
		return fmt.Errorf("the database server runs PostgreSQL %s, but this hop moves %d to %d. Nothing was changed. Run `upshift plan` again", rep.DB.ServerVersion, s.m.FromMajor, s.m.ToMajor)
	}
	if !semver.Same(rep.Version, s.app) && !strings.HasPrefix(rep.Version, "unknown") {
		return fmt.Errorf("the stack runs %s, but this hop expects %s. Nothing was changed. Run `upshift plan` again", rep.Version, s.app)
	}
	sink.Log(fmt.Sprintf("✓ PostgreSQL %s at service %s (%s)", rep.DB.ServerVersion, rep.DB.Service, human.Bytes(rep.DB.SizeBytes)))
	l, err := e.pgLayoutOf(det)
	if err != nil {
		return err
	}
	if l.bindDir != "" {
		sink.Log("✓ its data directory " + l.dataDir + " is the host directory " + l.bindDir)
	} else {
		sink.Log("✓ its data directory " + l.dataDir + " is the named volume " + l.volume)
	}
	w, err := e.pgSwitchOf(det, l, s.m)
	if err != nil {
		return err
	}
	place, err := e.pgPlaceOf(l, w, s.m)
	if err != nil {
		return err
	}
	where := "in the compose file"
	if w.imageVar != "" {
		where = "in .env (" + w.imageVar + ")"
	}
	sink.Log(fmt.Sprintf("✓ the image %s is set %s; the new data will be in %s", w.oldImage, where, place))
	if _, ok, err := e.Docker.ImageInspect(ctx, s.m.Image); err != nil {
		return err
	} else if ok {
		sink.Log("✓ image " + s.m.Image + " is here")
	} else {
		sink.Log("• image " + s.m.Image + " will be pulled before any downtime")
	}
	if err := e.checkPlace(ctx, place, rep.DB.SizeBytes*3/2, sink); err != nil {
		return err
	}
	est, err := e.estimate(ctx, det)
	if err != nil {
		return err
	}
	if err := e.Backups.CheckFreeSpace(e.BackupDir, est); err != nil {
		return err
	}
	sink.Log(fmt.Sprintf("✓ free space for a backup of about %s in %s", human.Bytes(est), e.BackupDir))
	if e.CleanupScratch != nil {
		if err := e.CleanupScratch(ctx); err != nil {
			sink.Log("• could not remove leftover scratch servers: " + err.Error())
		}
	}
	return nil
}

// ---- image

type pgImageStep struct {
	env *Env
	m   PostgresMajor
}

func (s *pgImageStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: id(s.m.hopID(), "images"), Hop: s.m.hopID(), Name: "Get the PostgreSQL " + strconv.Itoa(s.m.ToMajor) + " image",
		Explain:  "Pulls " + s.m.Image + " (unless it is here already) while the app still runs, so the downtime is only the copy of the data.",
		Touches:  []string{s.m.Image},
		ReadOnly: true,
	}
}

func (s *pgImageStep) Run(ctx context.Context, sink steps.Sink) error {
	e := s.env
	if _, ok, err := e.Docker.ImageInspect(ctx, s.m.Image); err != nil {
		return err
	} else if ok {
		sink.Log(s.m.Image + " is already here")
		return nil
	}
	sink.Log("pulling " + s.m.Image)
	if err := e.Docker.ImagePull(ctx, s.m.Image, sink.Log); err != nil {
		return fmt.Errorf("%w. Nothing was changed: the old server still runs. Fix: pull or build %s, or name another image with --postgres-image", err, s.m.Image)
	}
	return nil
}

// ---- review the switch (before the downtime)

type pgReviewStep struct {
	env *Env
	m   PostgresMajor
}

func (s *pgReviewStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: id(s.m.hopID(), "review"), Hop: s.m.hopID(), Name: "Review the switch to PostgreSQL " + strconv.Itoa(s.m.ToMajor),
		Explain: "Shows how the database service will be pointed at the new server once its copy of the data is proven: the image (in the compose file, or the .env variable it comes from) and a new named volume declared next to the old one (or, for data kept in a directory of the host, a new directory next to it). Nothing is written now; the old volume or directory is never changed, so a rollback is switching back.",
		Confirm: true,
		Touches: append([]string{s.env.EnvPath()}, s.env.composeTree()...),
	}
}

func (s *pgReviewStep) compute(ctx context.Context) (*pgSwitch, error) {
	e := s.env
	det, err := e.detectNow(ctx)
	if err != nil {
		return nil, err
	}
	l, err := e.pgLayoutOf(det)
	if err != nil {
		return nil, err
	}
	return e.pgSwitchOf(det, l, s.m)
}

func (s *pgReviewStep) Prompt(ctx context.Context) (string, error) {
	w, err := s.compute(ctx)
	if err != nil {
		return "", err
	}
	what := "volume"
	if w.bind {
		what = "directory"
	}
	return w.Diff(s.env.EnvPath()) + fmt.Sprintf("\nwritten after the databases are copied into PostgreSQL %d and compared; the old %s %s is kept as it is\n", s.m.ToMajor, what, w.oldVolume), nil
}

func (s *pgReviewStep) Run(ctx context.Context, sink steps.Sink) error {
	w, err := s.compute(ctx)
	if err != nil {
		return err
	}
	if w.done {
		sink.Log("✓ the files point at " + s.m.Image + " and " + w.newVolume + " already")
		return nil
	}
	sink.Log(fmt.Sprintf("✓ image %s → %s, data %s → %s: written once the copy is proven", w.oldImage, w.newImage, w.oldVolume, w.newVolume))
	return nil
}

// ---- backup (after the stop: the data that moves)

type pgBackupStep struct {
	*backupStep
	m PostgresMajor
}

func newPGBackupStep(env *Env, m PostgresMajor) *pgBackupStep {
	s := &pgBackupStep{backupStep: &backupStep{env: env, hop: m.hopID(), afterStop: true, allDatabases: true}, m: m}
	s.adjust = s.copyWhileDumping
	return s
}

func (s *pgBackupStep) Info() steps.StepInfo {
	in := s.backupStep.Info()
	in.Name = "Back up and copy every database before " + s.m.Title()
	in.Explain = fmt.Sprintf("With the app stopped, makes the restore point of this hop: a pg_dump of every database of the server (with every table's row count and checksum), the compose files and .env, the volumes and the images. The roles are copied into PostgreSQL %d first, and each dump is restored into it while it is written, so the data crosses once; nothing written before the stop can be lost.", s.m.ToMajor)
	return in
}

// copyWhileDumping copies the roles into the server the hop prepared and
// has every dump restored into it as it is written. Without a prepared
// server (a resumed run), the copy step restores from the files.
func (s *pgBackupStep) copyWhileDumping(ctx context.Context, src *backup.Source, sink steps.Sink) error {
	e := s.env
	src.PostgresMove = &backup.PostgresMove{FromMajor: s.m.FromMajor, ToMajor: s.m.ToMajor, Image: s.m.Image}
	next := e.pgPrepared(s.m.hopID())
	if next == nil || src.DB == nil {
		return nil
	}
	sink.Log(fmt.Sprintf("• copying the roles into PostgreSQL %d", s.m.ToMajor))
	if err := e.PG.CopyGlobals(ctx, *src.DB, next.db, sink.Log); err != nil {
		return err
	}
	db := next.db
	src.CopyTo = &db
	sink.Log(fmt.Sprintf("• every dump is restored into PostgreSQL %d as it is written", s.m.ToMajor))
	return nil
}

// pgSwitchedSet marks set as the restore point of a PostgreSQL major hop
// whose old data volume is no longer written to.
func (e *Env) pgSwitchedSet(set *backup.Set) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pgSwitched == nil {
		e.pgSwitched = map[string]bool{}
	}
	e.pgSwitched[set.ID] = true
}

func (e *Env) isPGSwitched(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pgSwitched[id]
}
