package upgrade

import (
	"context"
	"errors"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/httpx"
	"github.com/seed-e7a9fb3b/upshift/pg"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

// Real wires env to the real engine, docker compose, PostgreSQL and HTTP.
func Real(env *Env, eng *dockerx.Engine) {
	env.Docker = eng
	env.Compose = composeCLI{p: env.Project}
	env.Detector = realDetector{eng: eng, env: env}
	env.Backups = realBackups{eng: eng}
	env.DB = realDB{}
	env.HTTP = realHTTP{}
	env.CleanupScratch = eng.CleanupScratch
	env.PG = realPG{eng: eng}
}

var _ Docker = (*dockerx.Engine)(nil)

type composeCLI struct{ p dockerx.Project }

func (c composeCLI) Version(ctx context.Context) (string, error) { return dockerx.ComposeVersion(ctx) }

func (c composeCLI) Run(ctx context.Context, line func(string), args ...string) error {
	return c.p.Compose(ctx, line, args...)
}

type realDetector struct {
	eng *dockerx.Engine
	env *Env
}

func (d realDetector) Detect(ctx context.Context) (*detect.Result, error) {
	e := d.env
	opts := detect.Options{
		StackOptions: detect.StackOptions{Dir: e.Dir(), Project: e.Project.Name, Files: e.Project.Files, EnvFiles: e.Project.EnvFiles, Profiles: e.Project.Profiles},
		Profile:      e.Profile.Name,
		Profiles:     []*profile.Profile{e.Profile},
	}
	return detect.Detect(ctx, d.eng, opts)
}

type realBackups struct{ eng *dockerx.Engine }

func (b realBackups) Estimate(ctx context.Context, src backup.Source) (int64, error) {
	return backup.Estimate(ctx, b.eng, src)
}

func (realBackups) CheckFreeSpace(dir string, need int64) error {
	return backup.CheckFreeSpace(dir, need)
}

func (b realBackups) Create(ctx context.Context, dir string, src backup.Source, progress func(backup.Progress)) (*backup.Set, error) {
	return backup.Create(ctx, b.eng, dir, src, progress)
}

func (b realBackups) Verify(ctx context.Context, set *backup.Set, dbContainer string) error {
	return set.Verify(ctx, b.eng, dbContainer)
}

func (realBackups) List(dir string) ([]*backup.Set, error) { return backup.List(dir) }

func (realBackups) RestoreConfig(ctx context.Context, set *backup.Set, projectDir string) error {
	return set.RestoreConfig(ctx, projectDir)
}

func (b realBackups) RestoreImages(ctx context.Context, set *backup.Set) error {
	return set.RestoreImages(ctx, b.eng)
}

func (b realBackups) RestoreDatabase(ctx context.Context, set *backup.Set, db backup.DBSource, progress func(backup.Progress)) error {
	return set.RestoreDatabase(ctx, b.eng, db, progress)
}

func (b realBackups) RestoreVolumes(ctx context.Context, set *backup.Set, progress func(backup.Progress)) error {
	return set.RestoreVolumes(ctx, b.eng, progress)
}

func (b realBackups) RestoreSQLite(ctx context.Context, set *backup.Set, into string, progress func(backup.Progress)) error {
	return set.RestoreSQLite(ctx, b.eng, into, progress)
}

type realDB struct{}

func (realDB) DDLRights(ctx context.Context, p pg.Params) ([]string, error) {
	conn, err := pg.Connect(ctx, p)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(ctx) }()
	return conn.DDLRights(ctx)
}

func (realDB) NextXID(ctx context.Context, p pg.Params) (int64, error) {
	conn, err := pg.Connect(ctx, p)
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close(ctx) }()
	return conn.NextXID(ctx)
}

type realHTTP struct{}

// Get is the one HTTP client's GET; an answer that is not 2xx is a status,
// not an error (a health check may want a given status).
func (realHTTP) Get(ctx context.Context, url string, timeout time.Duration) (int, []byte, error) {
	r, err := httpx.GetResponse(ctx, url, 8<<20, timeout)
	var he *httpx.Error
	if errors.As(err, &he) && he.StatusCode != 0 {
		return he.StatusCode, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	return r.StatusCode, r.Body, nil
}
