package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// ErrCorrupt means a set's files do not match its manifest; nothing was restored.
var ErrCorrupt = errors.New("backup set is damaged")

func (s *Set) path(name string) string { return s.Dir + string(os.PathSeparator) + name }

func (s *Set) file(name string) (File, bool) {
	for _, f := range s.Manifest.Files {
		if f.Path == name {
			return f, true
		}
	}
	return File{}, false
}

// CheckFiles checks the manifest's completeness, every file's size and
// SHA-256, and that no archive entry could escape its directory. Each restore calls it first (once per Set value), so a damaged set
// is refused before anything is touched.
func (s *Set) CheckFiles(ctx context.Context, progress func(Progress)) error {
	if s.intact {
		return nil
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	if p := s.completeness(); len(p) > 0 {
		return fmt.Errorf("%w: %s: manifest incomplete: %s", ErrCorrupt, s.ID, strings.Join(p, "; "))
	}
	var total int64
	for _, f := range s.Manifest.Files {
		total += f.Size
	}
	m := newMeter(progress, "verify", "", total)
	for _, f := range s.Manifest.Files {
		m.file = f.Path
		n, sum, err := hashFile(ctx, s.path(f.Path), m)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			return fmt.Errorf("%w: %s: %w", ErrCorrupt, s.ID, err)
		}
		if n != f.Size {
			return fmt.Errorf("%w: %s: %s is %d bytes, the manifest says %d", ErrCorrupt, s.ID, f.Path, n, f.Size)
		}
		if sum != f.SHA256 {
			return fmt.Errorf("%w: %s: %s does not match its SHA-256 checksum", ErrCorrupt, s.ID, f.Path)
		}
	}
	m.emit()
	roots, err := s.checkArchives(ctx)
	if err != nil {
		return err
	}
	s.volumeRoots = roots
	s.intact = true
	return nil
}

// checkArchives reads every archive of the set once and refuses the set if
// any entry could escape its directory, so that no restore of a set with
// one bad archive starts at all. It returns the root entry of each volume.
func (s *Set) checkArchives(ctx context.Context) ([]*tar.Header, error) {
	if f, ok := s.file(configArchive); ok {
		r, closeR, err := s.openCompressed(ctx, f, nil)
		if err != nil {
			return nil, err
		}
		err = checkConfigArchive(r)
		closeR()
		if err != nil {
			return nil, fmt.Errorf("%s: config archive refused, nothing restored: %w", s.ID, err)
		}
	}
	for _, e := range s.Manifest.SQLite {
		if !e.Present {
			continue
		}
		f, _ := s.file(e.File)
		r, closeR, err := s.openCompressed(ctx, f, nil)
		if err != nil {
			return nil, err
		}
		_, err = checkVolumeArchive(r, path.Base(e.Path))
		closeR()
		if err != nil {
			return nil, fmt.Errorf("%s: archive of %s refused, nothing restored: %w", s.ID, e.Path, err)
		}
	}
	roots := make([]*tar.Header, len(s.Manifest.Volumes))
	for i, v := range s.Manifest.Volumes {
		f, _ := s.file(v.File)
		r, closeR, err := s.openCompressed(ctx, f, nil)
		if err != nil {
			return nil, err
		}
		roots[i], err = checkVolumeArchive(r, v.Root)
		closeR()
		if err != nil {
			return nil, fmt.Errorf("%s: archive of volume %s refused, nothing restored: %w", s.ID, v.Name, err)
		}
	}
	return roots, nil
}

// Verify checks the set (manifest completeness, checksums and, when
// dbContainer is not empty, `pg_restore --list` of every dump inside that
// container) and records the outcome in the manifest.
func (s *Set) Verify(ctx context.Context, eng *dockerx.Engine, dbContainer string) error {
	s.intact = false
	err := s.verify(ctx, eng, dbContainer)
	if ctx.Err() != nil {
		return err // an interrupted check says nothing about the set
	}
	s.Manifest.Verified = err == nil
	s.Manifest.VerifiedAt = time.Now().UTC()
	if serr := s.saveManifest(); serr != nil && err == nil {
		err = serr
	}
	return err
}

func (s *Set) verify(ctx context.Context, eng *dockerx.Engine, dbContainer string) error {
	if err := s.CheckFiles(ctx, nil); err != nil {
		return err
	}
	if dbContainer == "" {
		return nil
	}
	r := pgRunner{eng: eng, db: DBSource{Container: dbContainer, User: "postgres"}}
	for _, d := range s.Manifest.Databases {
		dump, closeDump, err := s.openDump(ctx, d, nil)
		if err != nil {
			return err
		}
		// pg_restore --list needs no server connection, so no credentials.
		n, err := listDump(ctx, r, dump)
		closeDump()
		if err != nil {
			return fmt.Errorf("%w: %s: dump of database %s is unreadable: %w", ErrCorrupt, s.ID, d.Name, err)
		}
		if n == 0 {
			return fmt.Errorf("%w: %s: dump of database %s lists no objects", ErrCorrupt, s.ID, d.Name)
		}
	}
	return nil
}

// RestoreDatabase recreates every database of the set from its dump:
// other sessions are terminated, the database is dropped and pg_restore
// --create runs inside db.Container (or on the host without one).
func (s *Set) RestoreDatabase(ctx context.Context, eng *dockerx.Engine, db DBSource, progress func(Progress)) error {
	red := newRedactor(db.Password)
	progress = red.progress(progress)
	if err := s.CheckFiles(ctx, progress); err != nil {
		return err
	}
	r := pgRunner{eng: eng, db: db}
	for _, d := range s.Manifest.Databases {
		f, _ := s.file(d.File)
		m := newMeter(progress, "restore-database", f.Path, f.Size)
		dump, closeDump, err := s.openDump(ctx, d, m)
		if err != nil {
			return err
		}
		err = restoreDatabase(ctx, r, d.Name, dump, m)
		closeDump()
		if err != nil {
			return red.err(err)
		}
		m.emit()
	}
	return nil
}

// RestoreConfig writes the set's config files back (relative ones under
// projectDir, others to their absolute path), each atomically with its
// original mode. Files that did not exist when the set was taken, and files
// added since to a backed-up directory, are left alone.
func (s *Set) RestoreConfig(ctx context.Context, projectDir string) error {
	f, ok := s.file(configArchive)
	if !ok {
		return nil
	}
	if err := s.CheckFiles(ctx, nil); err != nil {
		return err
	}
	r, closeR, err := s.openCompressed(ctx, f, nil)
	if err != nil {
		return err
	}
	defer closeR()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: read config archive: %w", s.ID, err)
		}
		name, err := safeName(h.Name)
		if err != nil {
			return err
		}
		if err := writeConfigEntry(h, tr, configTarget(projectDir, name)); err != nil {
			return err
		}
	}
}

// restoreMount is where a helper container mounts the volume being restored.
const restoreMount = "/upshift-restore"

// RestoreVolumes makes every volume of the set identical to the archive: a
// helper container (from the recorded image, which has a shell) mounts the
// volume, empties it, and the archive is copied in. The writers must be
// stopped. Every archive is checked before the first volume is touched.
func (s *Set) RestoreVolumes(ctx context.Context, eng *dockerx.Engine, progress func(Progress)) error {
	if progress == nil {
		progress = func(Progress) {}
	}
	if len(s.Manifest.Volumes) == 0 {
		return nil
	}
	if err := s.CheckFiles(ctx, progress); err != nil {
		return err
	}
	roots := s.volumeRoots
	if _, ok, err := eng.ImageInspect(ctx, s.Manifest.HelperImage); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%s: cannot restore volumes: the image %s used to empty them is no longer on this host, nothing restored", s.ID, s.Manifest.HelperImage)
	}
	for i, v := range s.Manifest.Volumes {
		if err := s.restoreVolume(ctx, eng, v, roots[i], progress); err != nil {
			return fmt.Errorf("restore volume %s: %w", v.Name, err)
		}
	}
	return nil
}

func (s *Set) restoreVolume(ctx context.Context, eng *dockerx.Engine, v VolumeEntry, root *tar.Header, progress func(Progress)) error {
	script := "rm -rf " + restoreMount + "/..?* " + restoreMount + "/.[!.]* " + restoreMount + "/*"
	if root != nil {
		script += fmt.Sprintf(" && chown %d:%d %s && chmod %o %s", root.Uid, root.Gid, restoreMount, root.Mode&0o7777, restoreMount)
	}
	mt := dockerx.HelperMount{Volume: v.DockerName, Source: v.BindSource, Target: restoreMount}
	id, err := mountHelper(ctx, eng, s.Manifest.HelperImage, mt, script, "restore-volume")
	if id != "" {
		defer func() { _ = eng.RemoveContainer(ctx, id) }()
	}
	if err != nil {
		return fmt.Errorf("emptying the volume failed: %w", err)
	}
	f, _ := s.file(v.File)
	m := newMeter(progress, "restore-volume", f.Path, f.Size)
	r, closeR, err := s.openCompressed(ctx, f, m)
	if err != nil {
		return err
	}
	defer closeR()
	if err := copyTar(ctx, eng, id, restoreMount, func(w io.Writer) error { return rewriteVolumeArchive(w, r, v.Root) }); err != nil {
		return err
	}
	m.emit()
	return nil
}

// RestoreSQLite copies the SQLite files back into their containers (which
// must be stopped), or into container into when it is not empty (the one
// mounting the file now, when the recorded one was recreated). A -wal/-shm
// file that did not exist is restored as an empty file, which SQLite treats
// as absent.
func (s *Set) RestoreSQLite(ctx context.Context, eng *dockerx.Engine, into string, progress func(Progress)) error {
	if progress == nil {
		progress = func(Progress) {}
	}
	if len(s.Manifest.SQLite) == 0 {
		return nil
	}
	if err := s.CheckFiles(ctx, progress); err != nil {
		return err
	}
	for _, e := range s.Manifest.SQLite {
		var src io.Reader
		var closeR func()
		if e.Present {
			f, _ := s.file(e.File)
			m := newMeter(progress, "restore-sqlite", f.Path, f.Size)
			r, c, err := s.openCompressed(ctx, f, m)
			if err != nil {
				return err
			}
			src, closeR = r, c
		} else {
			src, closeR = emptyFileTar(path.Base(e.Path)), func() {}
		}
		target := e.Container
		if into != "" {
			target = into
		}
		err := eng.CopyTo(ctx, target, path.Dir(e.Path), src)
		closeR()
		if err != nil {
			return fmt.Errorf("restore SQLite file %s: %w", e.Path, err)
		}
	}
	return nil
}

func emptyFileTar(name string) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, ModTime: time.Now()})
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// RestoreImages points every recorded image reference back at the image ID
// that ran when the set was taken.
func (s *Set) RestoreImages(ctx context.Context, eng *dockerx.Engine) error {
	var errs []error
	for _, img := range s.Manifest.Images {
		if img.ID == "" || img.Ref == "" {
			continue
		}
		cur, ok, err := eng.ImageInspect(ctx, img.Ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok && cur.ID == img.ID {
			continue
		}
		if _, ok, err := eng.ImageInspect(ctx, img.ID); err != nil {
			errs = append(errs, err)
			continue
		} else if !ok {
			hint := "rebuild or pull it"
			if len(img.RepoDigests) > 0 {
				hint = "docker pull " + img.RepoDigests[0] + " && docker tag " + img.RepoDigests[0] + " " + img.Ref
			}
			errs = append(errs, fmt.Errorf("image %s of service %s (%s) is no longer on this host. Fix: %s", img.Ref, img.Service, img.ID, hint))
			continue
		}
		if err := eng.ImageTag(ctx, img.ID, img.Ref); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
