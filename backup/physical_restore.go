package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// RecoveryTimeout bounds the WAL replay after a physical restore.
var RecoveryTimeout = 15 * time.Minute

// PhysicalProblem says why the set's physical part cannot be restored
// into db.Container now ("" when it can): not sealed, another image (a
// PostgreSQL major or build change makes the data directory unreadable),
// or no volume or bind mount holding the data directory.
func (s *Set) PhysicalProblem(ctx context.Context, eng *dockerx.Engine, db DBSource) string {
	p := s.Manifest.Physical
	switch {
	case p == nil:
		return "the set has no base backup"
	case !p.IsSealed():
		return "the base backup was never completed with the WAL up to a stop"
	case db.Container == "":
		return "no database container to restore into"
	}
	c, err := eng.Inspect(ctx, db.Container)
	if err != nil {
		return err.Error()
	}
	if c.ImageID != p.Image {
		return fmt.Sprintf("the database container now runs image %s, the base backup was taken with %s (a data directory only opens in the same PostgreSQL build)", shortImage(c.ImageID), shortImage(p.Image))
	}
	if _, _, ok := dataMount(c, p.DataDir); !ok {
		return "no volume or bind mount of the database container holds " + p.DataDir
	}
	return ""
}

func shortImage(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// dataMount finds the mount holding dataDir and the directory's path inside it.
func dataMount(c dockerx.Container, dataDir string) (dockerx.Mount, string, bool) {
	best := -1
	for i, m := range c.Mounts {
		d := strings.TrimSuffix(m.Destination, "/")
		if dataDir == d || strings.HasPrefix(dataDir, d+"/") {
			if best < 0 || len(d) > len(strings.TrimSuffix(c.Mounts[best].Destination, "/")) {
				best = i
			}
		}
	}
	if best < 0 {
		return dockerx.Mount{}, "", false
	}
	m := c.Mounts[best]
	return m, strings.TrimPrefix(dataDir, strings.TrimSuffix(m.Destination, "/")), true
}

// RestorePhysical replaces the data directory of db.Container with the
// base backup and replays the WAL to the stop position: the database
// container is stopped, a helper container (the same image, no network)
// mounting its volume empties the data directory, the base backup, the WAL
// and recovery.signal are copied in as one stream, the container is
// started and recovers to the stop LSN, then is promoted. The tables are
// then compared with their fingerprints at the stop, when recorded.
func (s *Set) RestorePhysical(ctx context.Context, eng *dockerx.Engine, db DBSource, progress func(Progress)) error {
	red := newRedactor(db.Password)
	progress = red.progress(progress)
	if why := s.PhysicalProblem(ctx, eng, db); why != "" {
		return fmt.Errorf("%s: cannot restore the database from its base backup: %s; nothing restored", s.ID, why)
	}
	p := s.Manifest.Physical
	c, err := eng.Inspect(ctx, db.Container)
	if err != nil {
		return err
	}
	mt, rel, _ := dataMount(c, p.DataDir)
	staged := p.Staged != nil && p.Staged.holds(mt)
	if staged {
		// Only the WAL is read from the set now (the base backup was read,
		// and checked, when it was unpacked).
		err = s.checkFile(ctx, p.WALFile, progress)
	} else {
		err = s.CheckFiles(ctx, progress)
	}
	if err != nil {
		return err
	}
	if c.State == "running" {
		progress(Progress{Phase: "restore-database", Line: "stopping the database container " + c.Name})
		if err := stopForReplace(ctx, eng, c.ID); err != nil {
			return err
		}
	}
	old := "" // the data directory a swap moved aside
	if staged {
		old, err = s.restoreStaged(ctx, eng, p, mt, rel, progress)
		if errors.Is(err, errNoStaged) {
			progress(Progress{Phase: "restore-database", Line: "the base backup unpacked before the stop is not there (an interrupted swap?): copying the base backup in instead"})
			p.Staged, staged = nil, false
			err = s.CheckFiles(ctx, progress)
		}
		if err != nil {
			return fmt.Errorf("%s: the data directory may now be partial; run `upshift restore %s` again (it copies the base backup in): %w", s.ID, s.ID, err)
		}
	}
	if !staged {
		if err := s.fillDataDir(ctx, eng, p, mt, restoreMount+rel, progress); err != nil {
			return fmt.Errorf("%s: the data directory may now be empty or partial; run `upshift restore %s` again: %w", s.ID, s.ID, err)
		}
	}
	progress(Progress{Phase: "restore-database", Line: "starting the database: replaying the WAL to " + p.StopLSN})
	if err := eng.Start(ctx, c.ID); err != nil {
		return err
	}
	// The replaced data directory goes while the server recovers.
	removed := removeOld(ctx, eng, p.Image, helperMount(mt), old)
	defer func() {
		if rerr := removed(); rerr != nil {
			progress(Progress{Phase: "restore-database", Line: "! " + rerr.Error()})
		}
	}()
	r := pgRunner{eng: eng, db: db}
	if err := waitPromoted(ctx, eng, r, c.ID); err != nil {
		return red.err(fmt.Errorf("%s: recovery to %s: %w", s.ID, p.StopLSN, err))
	}
	progress(Progress{Phase: "restore-database", Line: "✓ recovered to " + p.StopLSN + " and promoted"})
	if _, err := r.psql(ctx, db.Database, "ALTER SYSTEM RESET restore_command", "ALTER SYSTEM RESET recovery_target_lsn",
		"ALTER SYSTEM RESET recovery_target_inclusive", "ALTER SYSTEM RESET recovery_target_action",
		"ALTER SYSTEM RESET recovery_target_timeline", "SELECT pg_reload_conf()"); err != nil {
		return red.err(fmt.Errorf("%s: clearing the recovery settings: %w", s.ID, err))
	}
	return red.err(s.comparePhysical(ctx, r, db, progress))
}

// stopForReplace stops a server whose data directory is about to be
// replaced. A docker stop (not a kill): a container with restart: always
// is restarted by Docker after a kill, and would run on the directory being
// replaced; after a stop it stays down.
func stopForReplace(ctx context.Context, eng *dockerx.Engine, id string) error {
	return eng.Stop(ctx, id, 2*time.Minute)
}

// fillDataDir empties the data directory through a helper and streams the
// base backup, the WAL and the recovery settings into it.
func (s *Set) fillDataDir(ctx context.Context, eng *dockerx.Engine, p *PhysicalEntry, mt dockerx.Mount, target string, progress func(Progress)) error {
	// Also what an interrupted swap or a staged copy left at the mount's root.
	script := "set -e; mkdir -p " + target + "; rm -rf " + target + "/..?* " + target + "/.[!.]* " + target + "/* " +
		restoreMount + "/" + stagedPrefix + "* " + restoreMount + "/" + swapPrefix + "* " + restoreMount + "/" + oldPrefix + "*" +
		"; chown " + ownerOf(p) + " " + target + "; chmod 700 " + target
	id, err := mountHelper(ctx, eng, p.Image, helperMount(mt), script, "restore-pgdata")
	if id != "" {
		defer func() { _ = eng.RemoveContainer(ctx, id) }()
	}
	if err != nil {
		return fmt.Errorf("emptying the data directory failed: %w", err)
	}
	progress(Progress{Phase: "restore-database", Line: "data directory emptied; copying the base backup and the WAL in"})
	base, _ := s.file(p.BaseFile)
	wal, _ := s.file(p.WALFile)
	m := newMeter(progress, "restore-database", base.Path, base.Size+wal.Size)
	if err := copyTar(ctx, eng, id, target, func(w io.Writer) error { return s.dataDirStream(ctx, w, p, base, wal, m) }); err != nil {
		return err
	}
	m.emit()
	return nil
}

// recoveryConf is appended to postgresql.auto.conf: replay the set's WAL
// (already in pg_wal: restore_command finds nothing else) up to and
// including the stop position on the backup's timeline, then promote.
func recoveryConf(p *PhysicalEntry) string {
	return "\n# upshift restore of a physical restore point (removed after the recovery)\n" +
		"restore_command = 'exit 1'\n" +
		"recovery_target_lsn = '" + p.StopLSN + "'\n" +
		"recovery_target_inclusive = true\n" +
		"recovery_target_timeline = 'current'\n" +
		"recovery_target_action = 'promote'\n"
}

func (s *Set) dataDirStream(ctx context.Context, w io.Writer, p *PhysicalEntry, base, wal File, m *meter) error {
	return s.recoveryStream(ctx, w, p, base, recoveryConf(p), m, func(tw *tar.Writer) error { return s.walEntries(ctx, tw, p, wal, m) })
}

// recoveryStream writes a data directory that recovers into w: the base
// backup (without its recovery.signal or standby.signal) with conf added to
// its postgresql.auto.conf, recovery.signal, then what wal writes.
func (s *Set) recoveryStream(ctx context.Context, w io.Writer, p *PhysicalEntry, base File, conf string, m *meter, wal func(*tar.Writer) error) error {
	tw := tar.NewWriter(w)
	sawConf, err := s.baseEntries(ctx, tw, base, m, func(body []byte) []byte { return append(body, conf...) })
	if err != nil {
		return err
	}
	uid, gid := ownerIDs(p.Owner)
	now := time.Now()
	extra := map[string][]byte{"recovery.signal": nil}
	if !sawConf {
		extra["postgresql.auto.conf"] = []byte(conf)
	}
	for _, name := range sortedNames(extra) {
		body := extra[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Uid: uid, Gid: gid, ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if _, err := tw.Write(body); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := wal(tw); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write the data directory: %w", err)
	}
	return nil
}

// baseEntries writes the base backup's entries into tw, without a
// recovery.signal or standby.signal, its postgresql.auto.conf passed
// through conf (nil: as it is). It says whether there was one.
func (s *Set) baseEntries(ctx context.Context, tw *tar.Writer, base File, m *meter, conf func([]byte) []byte) (bool, error) {
	br, closeB, err := s.openCompressed(ctx, base, m)
	if err != nil {
		return false, err
	}
	defer closeB()
	tr := tar.NewReader(br)
	sawConf := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return sawConf, nil
		}
		if err != nil {
			return sawConf, fmt.Errorf("read the base backup: %w", err)
		}
		name, err := safeName(h.Name)
		if err != nil {
			return sawConf, err
		}
		if name == "recovery.signal" || name == "standby.signal" {
			continue
		}
		if name == "postgresql.auto.conf" && conf != nil {
			body, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return sawConf, fmt.Errorf("read postgresql.auto.conf: %w", err)
			}
			body = conf(body)
			h.Size = int64(len(body))
			if err := tw.WriteHeader(h); err != nil {
				return sawConf, fmt.Errorf("write the data directory: %w", err)
			}
			if _, err := tw.Write(body); err != nil {
				return sawConf, fmt.Errorf("write the data directory: %w", err)
			}
			sawConf = true
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return sawConf, fmt.Errorf("write the data directory: %w", err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return sawConf, fmt.Errorf("write the data directory: %w", err)
		}
	}
}

// walEntries writes the set's WAL segments into tw as pg_wal/<segment>.
func (s *Set) walEntries(ctx context.Context, tw *tar.Writer, p *PhysicalEntry, wal File, m *meter) error {
	uid, gid := ownerIDs(p.Owner)
	wr, closeW, err := s.openCompressed(ctx, wal, m)
	if err != nil {
		return err
	}
	defer closeW()
	wtr := tar.NewReader(wr)
	for {
		h, err := wtr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the WAL archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg || h.Name != path.Base(h.Name) || strings.HasPrefix(h.Name, ".") {
			return fmt.Errorf("the WAL archive holds %q, not a WAL file", h.Name)
		}
		h.Name = "pg_wal/" + h.Name
		h.Uid, h.Gid, h.Uname, h.Gname = uid, gid, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("write %s: %w", h.Name, err)
		}
		if _, err := io.Copy(tw, wtr); err != nil {
			return fmt.Errorf("write %s: %w", h.Name, err)
		}
	}
}

func sortedNames(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func ownerIDs(owner string) (int, int) {
	u, g, _ := strings.Cut(owner, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil {
		return 999, 999
	}
	return uid, gid
}

// waitPromoted waits until the server accepts connections and has left
// recovery; a container that exits (recovery failed) ends the wait.
func waitPromoted(ctx context.Context, eng *dockerx.Engine, r pgRunner, container string) error {
	ctx, cancel := context.WithTimeout(ctx, RecoveryTimeout)
	defer cancel()
	last := ""
	for {
		c, err := eng.Inspect(ctx, container)
		if err != nil {
			return err
		}
		if c.State != "running" {
			return fmt.Errorf("the database container stopped (exit %d) during the recovery: %s (docker logs %s)", c.ExitCode, logTail(ctx, eng, container, 3), c.Name)
		}
		out, err := r.psql(ctx, maintenanceDB(r.db.Database), "SELECT pg_is_in_recovery()")
		if err == nil && out == "f" {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = "still in recovery"
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not promoted after %s (%s): %w", RecoveryTimeout, last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// logTail is the last n lines of a container's log, joined.
func logTail(ctx context.Context, eng *dockerx.Engine, container string, n int) string {
	var lines []string
	_ = eng.Logs(ctx, container, false, time.Time{}, func(l string) {
		lines = append(lines, strings.TrimSpace(l))
		if len(lines) > n {
			lines = lines[1:]
		}
	})
	return strings.Join(lines, " | ")
}

// comparePhysical compares every table with its fingerprint at the stop.
func (s *Set) comparePhysical(ctx context.Context, r pgRunner, db DBSource, progress func(Progress)) error {
	p := s.Manifest.Physical
	if len(p.Tables) == 0 {
		if p.TablesNote != "" {
			progress(Progress{Phase: "restore-database", Line: p.TablesNote})
		}
		return nil
	}
	names := make([]string, 0, len(p.Tables))
	for n := range p.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sess := r.openSession(ctx, n)
		got, err := sess.tableSums(sumAlgo(p.Tables[n]))
		cerr := sess.close()
		if err = errors.Join(err, cerr); err != nil {
			return fmt.Errorf("%s: checksums of database %s after the restore: %w", s.ID, n, err)
		}
		var diff []string
		for t, want := range p.Tables[n] {
			if g, ok := got[t]; !ok || g != want {
				diff = append(diff, fmt.Sprintf("%s (%d rows %s, want %d rows %s)", t, g.Rows, g.MD5, want.Rows, want.MD5))
			}
		}
		for t := range got {
			if _, ok := p.Tables[n][t]; !ok {
				diff = append(diff, t+" (not there at the stop)")
			}
		}
		if len(diff) > 0 {
			sort.Strings(diff)
			return fmt.Errorf("%s: after the restore, database %s differs from the stop: %s", s.ID, n, strings.Join(diff, "; "))
		}
		progress(Progress{Phase: "restore-database", Line: fmt.Sprintf("✓ database %s: %d tables identical to the stop", n, len(got))})
	}
	return nil
}
