package backup

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// Copy is what became of Source.CopyTo: the databases whose dump was
// restored into that server while it was written, or why not. It lives in
// this process only (the manifest does not record it).
type Copy struct {
	Databases []string // restored, in dump order
	Err       error    // the first failure; the databases after it were not copied
}

// Complete says whether every database of the set was restored by the copy.
func (c *Copy) Complete(s *Set) bool {
	return c != nil && c.Err == nil && len(c.Databases) == len(s.Manifest.Databases)
}

// errCopyStopped ends the dump's writes into a restore that has finished.
var errCopyStopped = errors.New("the copy's restore ended")

// sideCopy is the restore of one database from the bytes of its dump as
// pg_dump writes them. A restore that fails only stops the copy: the dump
// (the restore point) goes on, and the caller restores from the file.
type sideCopy struct {
	w    *io.PipeWriter
	done chan struct{}
	err  error
}

func (b *builder) startCopy(ctx context.Context, name string) *sideCopy {
	if b.src.CopyTo == nil || b.copy.Err != nil {
		return nil
	}
	pr, pw := io.Pipe()
	c := &sideCopy{w: pw, done: make(chan struct{})}
	r := pgRunner{eng: b.eng, db: *b.src.CopyTo}
	m := newMeter(b.progress, "copy", name, 0)
	go func() {
		defer close(c.done)
		if b.src.copyScratch {
			c.err = restoreScratchStream(ctx, r, name, pr, m)
		} else {
			c.err = restoreDatabase(ctx, r, name, pr, m)
		}
		// pg_restore may stop reading before the end (it failed): the
		// dump's writes into the copy must fail now, not block.
		_ = pr.CloseWithError(errCopyStopped)
	}()
	return c
}

// finish ends the copy's input (dumpErr when the dump itself failed) and
// waits for its restore.
func (b *builder) finishCopy(c *sideCopy, name string, dumpErr error) {
	if c == nil {
		return
	}
	if dumpErr != nil {
		_ = c.w.CloseWithError(dumpErr)
	} else {
		_ = c.w.Close()
	}
	<-c.done
	switch {
	case dumpErr != nil:
	case c.err != nil:
		b.copy.Err = fmt.Errorf("restoring database %s into the new server while it was dumped: %w", name, c.err)
	default:
		b.copy.Databases = append(b.copy.Databases, name)
	}
}

// teeWriter writes to w, and to side until side fails; a failing side never
// fails the write.
type teeWriter struct {
	w    io.Writer
	side *sideCopy
	bad  bool
}

func (t *teeWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil || t.side == nil {
		return n, err //nolint:wrapcheck // errors of the wrapped writer already say what failed
	}
	if !t.bad {
		if _, serr := t.side.w.Write(p[:n]); serr != nil {
			t.bad = true
		}
	}
	return n, nil
}

// restoreScratchStream restores database name from dump into a scratch
// server, as its superuser (owners and grants left out).
func restoreScratchStream(ctx context.Context, r pgRunner, name string, dump io.Reader, m *meter) error {
	code, stderr, err := r.pipe(ctx, r.args("pg_restore", scratchRestoreArgs(name)...), dump, nil, m.line)
	if err == nil && code != 0 {
		err = fmt.Errorf("pg_restore exited with %d: %s", code, lastLine(stderr))
	}
	if err != nil && outOfSpace(stderr) {
		return fmt.Errorf("%w: it ran out of disk space restoring database %s: %s. Nothing of the live stack was touched. Fix: free space where Docker keeps its volumes (docker info: Docker Root Dir)", ErrNoScratch, name, lastLine(stderr))
	}
	return err
}

// LiveScratch copies src's databases into a new scratch server from image
// (with aliases on its network), each restored while pg_dump writes it: a
// throw-away copy of a running database for a rehearsal, in about the time
// of one restore. The dumps land in a set under root, which the caller
// removes; the scratch server is the caller's to remove.
func LiveScratch(ctx context.Context, eng *dockerx.Engine, root string, src Source, image string, aliases []string, progress func(Progress)) (*ScratchDB, error) {
	if src.DB == nil {
		return nil, errors.New("no PostgreSQL database to copy")
	}
	db, err := startScratchDB(ctx, eng, image, "rehearsal", aliases)
	if err != nil {
		return nil, err
	}
	target := db.r.db
	src.CopyTo, src.copyScratch = &target, true
	set, err := Create(ctx, eng, root, src, progress)
	if err == nil && !set.Copy.Complete(set) {
		err = set.Copy.Err
		if err == nil {
			err = errors.New("not every database was copied")
		}
	}
	if err != nil {
		_ = db.Remove(context.WithoutCancel(ctx))
		return nil, err
	}
	db.Databases = append(db.Databases, set.Copy.Databases...)
	return db, nil
}

// MoveScratch copies the databases of the scratch server from into a new
// scratch server of image, each restored while it is dumped (what a
// PostgreSQL major hop does to the real database): a rehearsal chain that
// crosses such a hop goes on in the new major. src names the app (its DB is
// replaced by from's server); from stays, the caller removes it.
func MoveScratch(ctx context.Context, eng *dockerx.Engine, root string, src Source, from *ScratchDB, image string, aliases []string, progress func(Progress)) (*ScratchDB, error) {
	if len(from.Databases) == 0 {
		return nil, errors.New("the scratch copy holds no database to move")
	}
	db := from.r.db
	db.Database, db.Extra = from.Databases[0], from.Databases[1:]
	src.DB = &db
	src.Secrets = append(append([]string(nil), src.Secrets...), db.Password)
	src.Physical, src.CopyTo, src.ConfigPaths, src.Volumes, src.SQLiteFiles = false, nil, nil, nil, nil
	return LiveScratch(ctx, eng, root, src, image, aliases, progress)
}
