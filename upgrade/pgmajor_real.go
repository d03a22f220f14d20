package upgrade

import (
	"context"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// PGServers is what the PostgreSQL major hop needs beyond the other ports:
// volumes, a server container of the new major, roles, and the comparison
// of a server's tables with a backup set.
type PGServers interface {
	RootDir(ctx context.Context) (string, error)
	VolumeLabels(ctx context.Context, name string) (map[string]string, bool, error)
	CreateVolume(ctx context.Context, name string, labels map[string]string) error
	RemoveVolume(ctx context.Context, name string) error
	// The new major's data directory next to a bind-mounted old one, on
	// the engine's host, looked at and changed by helpers of image.
	DataDirState(ctx context.Context, image, dir string) (backup.DirState, error)
	FreshDataDir(ctx context.Context, image, dir, like, note string) error
	RemoveDataDir(ctx context.Context, image, dir string) error
	// StartServer starts a server container on its own internal network
	// (a scratch server whose data directory is the named spec.Volume);
	// remove deletes the container and network, never the volume.
	StartServer(ctx context.Context, spec dockerx.ScratchSpec) (id string, remove func(context.Context) error, err error)
	WaitServer(ctx context.Context, db backup.DBSource, timeout time.Duration) error
	ListDatabases(ctx context.Context, db backup.DBSource) ([]backup.ServerDatabase, error)
	CreateDatabase(ctx context.Context, db backup.DBSource, name, owner string) error
	CopyGlobals(ctx context.Context, from, to backup.DBSource, log func(string)) error
	CompareServer(ctx context.Context, set *backup.Set, db backup.DBSource) (int, error)
	CompareServerCounts(ctx context.Context, set *backup.Set, db backup.DBSource) (int, error)
	ServerVersionNum(ctx context.Context, db backup.DBSource) (int, error)
}

type realPG struct{ eng *dockerx.Engine }

var _ PGServers = realPG{}

func (r realPG) RootDir(ctx context.Context) (string, error) { return r.eng.RootDir(ctx) }

func (r realPG) VolumeLabels(ctx context.Context, name string) (map[string]string, bool, error) {
	return r.eng.VolumeLabels(ctx, name)
}

func (r realPG) CreateVolume(ctx context.Context, name string, labels map[string]string) error {
	return r.eng.CreateVolume(ctx, name, labels)
}

func (r realPG) RemoveVolume(ctx context.Context, name string) error {
	return r.eng.RemoveVolume(ctx, name)
}

func (r realPG) DataDirState(ctx context.Context, image, dir string) (backup.DirState, error) {
	return backup.DataDirState(ctx, r.eng, image, dir)
}

func (r realPG) FreshDataDir(ctx context.Context, image, dir, like, note string) error {
	return backup.FreshDataDir(ctx, r.eng, image, dir, like, note)
}

func (r realPG) RemoveDataDir(ctx context.Context, image, dir string) error {
	return backup.RemoveDataDir(ctx, r.eng, image, dir)
}

func (r realPG) StartServer(ctx context.Context, spec dockerx.ScratchSpec) (string, func(context.Context) error, error) {
	sc, err := r.eng.StartScratch(ctx, spec)
	if err != nil {
		return "", nil, err
	}
	return sc.ID, sc.Remove, nil
}

func (r realPG) WaitServer(ctx context.Context, db backup.DBSource, timeout time.Duration) error {
	return backup.WaitServer(ctx, r.eng, db, timeout)
}

func (r realPG) ListDatabases(ctx context.Context, db backup.DBSource) ([]backup.ServerDatabase, error) {
	return backup.ListDatabases(ctx, r.eng, db)
}

func (r realPG) CreateDatabase(ctx context.Context, db backup.DBSource, name, owner string) error {
	return backup.CreateDatabase(ctx, r.eng, db, name, owner)
}

func (r realPG) CopyGlobals(ctx context.Context, from, to backup.DBSource, log func(string)) error {
	return backup.CopyGlobals(ctx, r.eng, from, to, log)
}

func (r realPG) CompareServer(ctx context.Context, set *backup.Set, db backup.DBSource) (int, error) {
	return set.CompareServer(ctx, r.eng, db)
}

func (r realPG) CompareServerCounts(ctx context.Context, set *backup.Set, db backup.DBSource) (int, error) {
	return set.CompareServerCounts(ctx, r.eng, db)
}

func (r realPG) ServerVersionNum(ctx context.Context, db backup.DBSource) (int, error) {
	return backup.ServerVersionNum(ctx, r.eng, db)
}
