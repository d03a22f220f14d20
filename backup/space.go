package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
)

// Estimate returns an upper bound of the size of a set for src: database
// sizes on the server (a dump is smaller: no indexes, compressed), the SQLite
// files, config files and volume contents, uncompressed.
func Estimate(ctx context.Context, eng *dockerx.Engine, src Source) (int64, error) {
	var total int64
	if src.DB != nil {
		r := pgRunner{eng: eng, db: *src.DB}
		sizes, err := r.databaseSizes(ctx, src.DB.databases())
		if err != nil {
			return 0, newRedactor(src.DB.Password).err(fmt.Errorf("estimate database size: %w", err))
		}
		for _, n := range sizes {
			total += n
		}
	}
	for _, f := range src.SQLiteFiles {
		n, _, err := eng.PathSize(ctx, f.Container, f.Path)
		if err != nil {
			return 0, err
		}
		total += n
	}
	for _, p := range src.ConfigPaths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(src.Project.WorkingDir, p)
		}
		n, err := treeSize(p)
		if err != nil {
			return 0, fmt.Errorf("estimate config size: %w", err)
		}
		total += n
	}
	for _, v := range src.Volumes {
		n, err := volumeSize(ctx, eng, v)
		if err != nil {
			return 0, fmt.Errorf("estimate size of volume %s: %w", v.Name, err)
		}
		total += n
	}
	return total, nil
}

// volumeSize walks the volume's directory on the host when it is reachable
// (local engine, enough rights), else counts the archive Docker streams.
func volumeSize(ctx context.Context, eng *dockerx.Engine, v VolumeSource) (int64, error) {
	c, err := eng.Inspect(ctx, v.Container)
	if err != nil {
		return 0, err
	}
	for _, m := range c.Mounts {
		if m.Destination != v.Path {
			continue
		}
		dir := m.Source
		if m.Type == "volume" && m.Name != "" {
			if mp, err := eng.VolumeMountpoint(ctx, m.Name); err == nil {
				dir = mp
			}
		}
		if dir != "" {
			if n, err := treeSize(dir); err == nil {
				return n, nil
			}
		}
	}
	rc, err := eng.CopyFrom(ctx, c.ID, v.Path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = rc.Close() }()
	n, err := io.Copy(io.Discard, rc)
	if err != nil {
		return 0, fmt.Errorf("read archive: %w", err)
	}
	return n, nil
}

// treeSize sums the sizes of the regular files under p (0 when p is missing).
func treeSize(p string) (int64, error) {
	var total int64
	err := filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return fmt.Errorf("stat: %w", err)
			}
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", p, err)
	}
	return total, nil
}

// ErrNoSpace means the backup directory has too little free space.
var ErrNoSpace = errors.New("not enough free space for the backup")

// CheckFreeSpace refuses when the file system of dir (or of its nearest
// existing parent) has less than 1.2 × need bytes available.
func CheckFreeSpace(dir string, need int64) error {
	free, err := FreeSpace(dir)
	if err != nil {
		return err
	}
	want := need + need/5
	if free < want {
		return fmt.Errorf("%w in %s: %s needed (1.2 × the estimated %s), only %s free. Fix: free some space there or choose another --backup-dir",
			ErrNoSpace, dir, human.Bytes(want), human.Bytes(need), human.Bytes(free))
	}
	return nil
}

// FreeSpace returns the bytes available to unprivileged users at dir.
func FreeSpace(dir string) (int64, error) {
	p, err := filepath.Abs(dir)
	if err != nil {
		return 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	for {
		if _, err := os.Stat(p); err == nil {
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", p, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil //nolint:gosec,unconvert // field types differ between platforms
}
