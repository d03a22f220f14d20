package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// A physical scratch copy is a scratch PostgreSQL made of a set's base
// backup that is not sealed yet (the app still runs) and the WAL the live
// server has written since, which the set's replication slot keeps: the
// copy recovers to the end of that WAL and is promoted. It holds every row
// committed before it was made, in about the time to unpack the base
// backup and replay the WAL (no index is rebuilt, unlike a restore of a
// dump), and needs the image the base backup was taken with.

// ErrNoPhysicalScratch means the set's base backup cannot make a scratch
// copy now (no base backup, sealed, another image, the slot gone...): the
// caller copies the running database another way.
var ErrNoPhysicalScratch = errors.New("no scratch copy of the base backup")

// minPhysicalScratch is the first PostgreSQL that recovers from
// recovery.signal and the settings in postgresql.auto.conf.
const minPhysicalScratch = 120000

// scratchRecoveryConf is appended to the copy's postgresql.auto.conf:
// replay what is in pg_wal (restore_command finds nothing else) on the
// base backup's timeline, without a target, so the recovery runs to the
// end of the WAL and promotes. No hot standby: the checks of max_connections
// and the like against the live server's do not apply, and nothing
// connects before the promotion. No archiving: the copy's WAL goes nowhere.
const scratchRecoveryConf = "\n# upshift scratch copy of a base backup (removed after the recovery)\n" +
	"restore_command = 'exit 1'\n" +
	"recovery_target_timeline = 'current'\n" +
	"hot_standby = off\n" +
	"archive_mode = off\n"

// scratchRecoveryReset clears scratchRecoveryConf after the promotion
// (archive_mode only changes at a restart: the copy keeps archiving off).
var scratchRecoveryReset = []string{
	"ALTER SYSTEM RESET restore_command", "ALTER SYSTEM RESET recovery_target_timeline",
	"ALTER SYSTEM RESET hot_standby", "ALTER SYSTEM RESET archive_mode", "SELECT pg_reload_conf()",
}

// PhysicalScratch makes a scratch server (the base backup's image, its own
// volume, an internal network on which it also answers to aliases) from
// the set's unsealed base backup and the WAL db's server wrote since it:
// the data directory is filled before the server's first start, the server
// recovers to the end of that WAL and is promoted. It logs in as db's user
// (the copy has the live server's roles, passwords and pg_hba.conf). The
// live server only gets a WAL switch, so the copy's last WAL segment is
// complete; its slot and files are left as they are (Seal works as before).
// Any failure removes the scratch server; ErrNoPhysicalScratch says the set
// or the server cannot give such a copy, ErrNoScratch that no scratch
// server could run.
func PhysicalScratch(ctx context.Context, eng *dockerx.Engine, set *Set, db DBSource, aliases []string, progress func(Progress)) (_ *ScratchDB, err error) {
	red := newRedactor(db.Password)
	progress = red.progress(progress)
	defer func() { err = red.err(err) }()
	p := set.Manifest.Physical
	if why := physicalScratchProblem(p, db); why != "" {
		return nil, fmt.Errorf("%w: %s", ErrNoPhysicalScratch, why)
	}
	base, ok := set.file(p.BaseFile)
	if !ok {
		return nil, fmt.Errorf("%w: %s lists no %s", ErrNoPhysicalScratch, set.ID, p.BaseFile)
	}
	live, err := eng.Inspect(ctx, db.Container)
	if err != nil {
		return nil, err
	}
	if live.ImageID != p.Image {
		return nil, fmt.Errorf("%w: the database container now runs image %s, the base backup was taken with %s", ErrNoPhysicalScratch, shortImage(live.ImageID), shortImage(p.Image))
	}
	r := pgRunner{eng: eng, db: db}
	wal, err := walSince(ctx, r, p)
	if err != nil {
		return nil, err
	}
	_ = eng.CleanupScratch(ctx)
	progress(Progress{Phase: "scratch-copy", Line: fmt.Sprintf("copying the base backup and the %d WAL segment(s) written since into a scratch server", len(wal))})
	m := newMeter(progress, "scratch-copy", base.Path, base.Size)
	var fillErr error
	sc, err := eng.StartScratch(ctx, dockerx.ScratchSpec{
		Image: p.Image, Purpose: "rehearsal", DataDir: p.DataDir, Aliases: aliases,
		Env: []string{"PGDATA=" + p.DataDir},
		Fill: func(ctx context.Context, sc *dockerx.Scratch) error {
			fillErr = set.fillScratch(ctx, eng, sc, db.Container, p, base, wal, m)
			return fillErr
		},
	})
	switch {
	case err != nil && fillErr != nil:
		return nil, fmt.Errorf("copy the base backup and the WAL into a scratch server: %w. Nothing of the live stack was touched", err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrNoScratch, err)
	}
	m.emit()
	defer func() {
		if err != nil {
			_ = sc.Remove(context.WithoutCancel(ctx))
		}
	}()
	// The copy's own roles and pg_hba.conf are the live server's: its user
	// over the container's local socket, as upshift reads the live server.
	cr := pgRunner{eng: eng, db: DBSource{Container: sc.ID, User: db.User, Password: db.Password, Database: db.Database, Extra: db.Extra}}
	if err := waitPromoted(ctx, eng, cr, sc.ID); err != nil {
		return nil, fmt.Errorf("the scratch copy of the base backup did not recover: %w", err)
	}
	if _, err := cr.psql(ctx, db.Database, scratchRecoveryReset...); err != nil {
		return nil, fmt.Errorf("clearing the recovery settings of the scratch copy: %w", err)
	}
	progress(Progress{Phase: "scratch-copy", Line: "✓ the scratch copy recovered to the end of the WAL and was promoted"})
	if err := openScratchHBA(ctx, eng, cr, sc.ID); err != nil {
		progress(Progress{Phase: "scratch-copy", Line: "! the copy keeps the live server's pg_hba.conf (" + err.Error() + "): an app whose address it does not list cannot log in"})
	}
	return &ScratchDB{Scratch: sc, Image: p.Image, Databases: db.databases(), r: cr}, nil
}

// physicalScratchProblem says why p cannot make a scratch copy from db's
// server ("" when it can).
func physicalScratchProblem(p *PhysicalEntry, db DBSource) string {
	switch {
	case p == nil:
		return "the set has no base backup"
	case p.IsSealed():
		return "the base backup is sealed (its WAL ends at a stop): restore it instead"
	case p.ServerVersionNum < minPhysicalScratch:
		return "PostgreSQL " + strconv.Itoa(p.ServerVersionNum) + " is older than 12 (no recovery.signal)"
	case db.Container == "" || db.Host != "":
		return "the database does not run in a container of the project"
	case p.DataDir == "" || !path.IsAbs(p.DataDir):
		return fmt.Sprintf("the set records no usable data directory (%q)", p.DataDir)
	}
	return ""
}

// walSince switches the live server to a new WAL segment and lists the
// segments from the base backup's start to the one just completed (and the
// timeline's history file), all of which the set's slot keeps: the rows
// committed before the switch are in them.
func walSince(ctx context.Context, r pgRunner, p *PhysicalEntry) ([]string, error) {
	out, err := r.psql(ctx, r.db.Database,
		"SELECT count(*) FROM pg_replication_slots WHERE slot_name = "+quoteLit(p.Slot),
		"SELECT timeline_id FROM pg_control_checkpoint()",
		"SELECT pg_walfile_name("+quoteLit(p.StartLSN)+"::pg_lsn)",
		"SELECT pg_walfile_name(pg_switch_wal())")
	if err != nil {
		return nil, fmt.Errorf("%w: reading the WAL position of the live server: %w", ErrNoPhysicalScratch, err)
	}
	f := strings.Split(out, "\n")
	if len(f) != 4 {
		return nil, fmt.Errorf("%w: unexpected answer %q to the WAL position query", ErrNoPhysicalScratch, out)
	}
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	if f[0] != "1" {
		return nil, fmt.Errorf("%w: the replication slot %s is gone, so the WAL since the base backup may be too", ErrNoPhysicalScratch, p.Slot)
	}
	if tl, _ := strconv.Atoi(f[1]); tl != p.Timeline {
		return nil, fmt.Errorf("%w: the server's timeline changed from %d to %d since the base backup", ErrNoPhysicalScratch, p.Timeline, tl)
	}
	segs, err := segmentRange(f[2], f[3], p.SegmentBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoPhysicalScratch, err)
	}
	if p.Timeline > 1 {
		segs = append(segs, fmt.Sprintf("%08X.history", p.Timeline))
	}
	return segs, nil
}

// fillScratch puts the data directory into the created, not yet started,
// scratch server: a helper on its volume empties the directory and gives
// it to the data directory's owner (mode 0700, as PostgreSQL wants), then
// the base backup, the recovery settings and the WAL files, read from the
// live container's pg_wal, are copied in as one stream. When the base
// backup is already unpacked next to the live data directory (staged), the
// helper copies that directory instead, at disk speed, and only the WAL
// is streamed.
func (s *Set) fillScratch(ctx context.Context, eng *dockerx.Engine, sc *dockerx.Scratch, live string, p *PhysicalEntry, base File, wal []string, m *meter) error {
	d := p.DataDir
	walOnly := func(tw *tar.Writer) error {
		for _, name := range wal {
			if err := copyOne(ctx, eng, live, path.Join(p.DataDir, "pg_wal", name), "pg_wal/"+name, tw); err != nil {
				return fmt.Errorf("WAL %s from the live server: %w", name, err)
			}
		}
		return nil
	}
	empty := `set -e; mkdir -p "$1"; rm -rf "$1"/..?* "$1"/.[!.]* "$1"/*; chown "$2" "$1"; chmod 700 "$1"`
	if st := p.Staged; st != nil && leftoverName.MatchString(st.Dir) {
		const from = "/upshift-staged"
		script := empty + "\n[ -f " + from + "/" + st.Dir + "/PG_VERSION ] || exit 3\ncp -a " + from + "/" + st.Dir + `/. "$1"/` + "\n" +
			`cat >> "$1/postgresql.auto.conf" <<'UPSHIFT_EOF'` + "\n" + scratchRecoveryConf + "UPSHIFT_EOF\n" +
			`: > "$1/recovery.signal"; chown "$2" "$1/postgresql.auto.conf" "$1/recovery.signal"; chmod 600 "$1/postgresql.auto.conf" "$1/recovery.signal"`
		err := sc.RunOnVolumes(ctx, []string{"/bin/sh", "-c", script, "sh", d, ownerOf(p)}, "scratch-pgdata",
			dockerx.HelperMount{Volume: st.Volume, Source: st.Source, Target: from, ReadOnly: true})
		if err == nil {
			m.add(int(base.Size))
			return copyTar(ctx, eng, sc.ID, d, func(w io.Writer) error {
				tw := tar.NewWriter(w)
				if err := walOnly(tw); err != nil {
					return err
				}
				return tw.Close()
			})
		}
		m.line("the base backup unpacked next to the data directory could not be copied (" + err.Error() + "): unpacking the backup's file instead")
	}
	if err := sc.RunOnVolumes(ctx, []string{"/bin/sh", "-c", empty, "sh", d, ownerOf(p)}, "scratch-pgdata"); err != nil {
		return fmt.Errorf("preparing the scratch server's data directory: %w", err)
	}
	return copyTar(ctx, eng, sc.ID, d, func(w io.Writer) error {
		return s.recoveryStream(ctx, w, p, base, scratchRecoveryConf, m, walOnly)
	})
}

// scratchHBALine lets every role log in with its password from the scratch
// server's own networks (the internal one, no route out): the copy's
// pg_hba.conf is the live server's, which may list only the compose
// network's addresses, and the rehearsal's app comes from another one.
const scratchHBALine = "host all all samenet md5 # upshift scratch copy"

// openScratchHBA puts scratchHBALine first in the copy's pg_hba.conf and
// reloads it.
func openScratchHBA(ctx context.Context, eng *dockerx.Engine, r pgRunner, container string) error {
	file, err := r.psql(ctx, r.db.Database, "SHOW hba_file")
	if err != nil {
		return err
	}
	script := `set -e; f="$1"; { echo "$2"; cat "$f"; } > "$f.upshift"; cat "$f.upshift" > "$f"; rm -f "$f.upshift"`
	res, err := eng.Exec(ctx, container, []string{"/bin/sh", "-c", script, "sh", strings.TrimSpace(file), scratchHBALine}, nil, "0", nil, io.Discard, nil)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("editing %s exited with %d: %s", strings.TrimSpace(file), res.ExitCode, res.Stderr)
	}
	if err != nil {
		return err
	}
	_, err = r.psql(ctx, r.db.Database, "SELECT pg_reload_conf()")
	return err
}
