package upgrade

import (
	"context"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/pg"
)

// The steps reach the outside world only through these interfaces, each
// with just the methods the steps call (real adapters in real.go,
// hand-written fakes in fakes_test.go).

// Docker is the engine API the steps use.
type Docker interface {
	Server(ctx context.Context) (dockerx.ServerInfo, error)
	ImageInspect(ctx context.Context, ref string) (dockerx.Image, bool, error)
	ImagePull(ctx context.Context, ref string, log func(string)) error
	ImageRemove(ctx context.Context, ref string) error
	ProjectContainers(ctx context.Context, project string) ([]dockerx.Container, error)
	Wait(ctx context.Context, containerID string) (int, error)
	Stop(ctx context.Context, containerID string, grace time.Duration) error
	Logs(ctx context.Context, containerID string, follow bool, since time.Time, line func(string)) error
	ReadImageFile(ctx context.Context, image, path string, max int64) ([]byte, error)
}

// Compose runs `docker compose` with the admin's own project invocation.
type Compose interface {
	Version(ctx context.Context) (string, error)
	Run(ctx context.Context, line func(string), args ...string) error
}

// Detector reads the stack as it is now (containers are recreated between
// hops, so steps detect again).
type Detector interface {
	Detect(ctx context.Context) (*detect.Result, error)
}

// Backups makes, checks and puts back restore points.
type Backups interface {
	Estimate(ctx context.Context, src backup.Source) (int64, error)
	CheckFreeSpace(dir string, need int64) error
	Create(ctx context.Context, dir string, src backup.Source, progress func(backup.Progress)) (*backup.Set, error)
	Verify(ctx context.Context, set *backup.Set, dbContainer string) error
	List(dir string) ([]*backup.Set, error)
	RestoreConfig(ctx context.Context, set *backup.Set, projectDir string) error
	RestoreImages(ctx context.Context, set *backup.Set) error
	RestoreDatabase(ctx context.Context, set *backup.Set, db backup.DBSource, progress func(backup.Progress)) error
	RestoreVolumes(ctx context.Context, set *backup.Set, progress func(backup.Progress)) error
	RestoreSQLite(ctx context.Context, set *backup.Set, into string, progress func(backup.Progress)) error
}

// DB asks the database server what the steps need to know.
type DB interface {
	// DDLRights lists what the role may not do to the app's tables.
	DDLRights(ctx context.Context, p pg.Params) (missing []string, err error)
	// NextXID is the next transaction ID (counts committed writes).
	NextXID(ctx context.Context, p pg.Params) (int64, error)
}

// HTTP fetches a URL (health checks, templates) with a timeout.
type HTTP interface {
	Get(ctx context.Context, url string, timeout time.Duration) (status int, body []byte, err error)
}
