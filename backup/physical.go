package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/pg"
)

// A physical restore point is PostgreSQL's own: a base backup of the data
// directory taken while the app runs (pg_basebackup, inside the DB
// container, streamed out), a replication slot that keeps every WAL segment
// from its start, and, at the stop, the WAL up to the stop position. A
// restore replaces the data directory and replays the WAL to exactly that
// position: nothing committed before the stop is lost, and the downtime is
// about the time to copy the data directory.

// File kinds of a physical restore point.
const (
	KindBase = "base" // pg_basebackup tar of the data directory, zstd-compressed
	KindWAL  = "wal"  // tar of the WAL segments up to the stop, zstd-compressed
)

// dockerxStopGrace is how long a scratch server may take to shut down.
const dockerxStopGrace = 30 * time.Second

const (
	baseFile    = "pgdata-base.tar.zst"
	walFile     = "pgdata-wal.tar.zst"
	slotPrefix  = "upshift_"
	minPhysical = 100000 // PostgreSQL 10: pg_wal, pg_walfile_name, recovery targets by LSN
)

// PhysicalEntry is the physical part of a set.
type PhysicalEntry struct {
	Slot             string `json:"slot"` // replication slot holding the WAL until the seal
	BaseFile         string `json:"base_file"`
	StartLSN         string `json:"start_lsn"` // WAL is kept from here (the slot's restart_lsn)
	Timeline         int    `json:"timeline"`
	SegmentBytes     int64  `json:"segment_bytes"`
	ServerVersionNum int    `json:"server_version_num"`
	Image            string `json:"image"`    // image ID of the DB container: a restore needs the same
	DataDir          string `json:"data_dir"` // PGDATA inside the container
	Owner            string `json:"owner"`    // uid:gid of the data directory
	User             string `json:"user"`     // the role that took it (a scratch proof connects as it)
	Database         string `json:"database"`
	BaseBytes        int64  `json:"base_bytes,omitempty"` // the base backup's tar, uncompressed
	// Staged, when set, is the base backup unpacked next to the data
	// directory before the stop (a rollback swaps it in).
	Staged *StagedCopy `json:"staged,omitempty"`
	// Set by Seal, with the writers stopped.
	WALFile  string    `json:"wal_file,omitempty"`
	StopLSN  string    `json:"stop_lsn,omitempty"`
	Segments []string  `json:"segments,omitempty"`
	Sealed   time.Time `json:"sealed,omitzero"`
	// Tables fingerprints every user table of each database at the stop
	// (exact: nothing writes then); TablesNote says why they are missing.
	Tables     map[string]map[string]TableSum `json:"tables,omitempty"`
	TablesNote string                         `json:"tables_note,omitempty"`
}

// IsSealed reports whether the WAL up to the stop is in the set.
func (p *PhysicalEntry) IsSealed() bool { return p != nil && p.WALFile != "" && p.StopLSN != "" }

// SlotName is the replication slot of the set id: lower case letters,
// digits and underscores, at most 63 bytes.
func SlotName(id string) string {
	s := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(id, "_"))
	s = slotPrefix + strings.Trim(s, "_")
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// Readiness says whether a physical restore point can be taken of db, and
// when not, why (the caller falls back to a logical dump).
type Readiness struct {
	OK     bool
	Reason string
}

// PhysicalReady checks what pg_basebackup and a replication slot need:
// a DB container, wal_level replica or logical, free WAL senders and slots,
// a role with REPLICATION (or superuser), and a replication connection over
// the container's local socket that pg_hba.conf lets through.
func PhysicalReady(ctx context.Context, eng *dockerx.Engine, db DBSource) Readiness {
	if db.Container == "" || db.Host != "" {
		return Readiness{Reason: "the database does not run in a container of the project"}
	}
	r := pgRunner{eng: eng, db: db}
	out, err := r.psql(ctx, db.Database, `SELECT current_setting('server_version_num'), current_setting('wal_level'),
 current_setting('max_wal_senders'), current_setting('max_replication_slots'),
 (SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user),
 (SELECT count(*) FROM pg_replication_slots), (SELECT count(*) FROM pg_stat_replication)`)
	if err != nil {
		return Readiness{Reason: "reading the replication settings failed: " + err.Error()}
	}
	f := strings.Split(out, "|")
	if len(f) != 7 {
		return Readiness{Reason: fmt.Sprintf("unexpected answer %q to the replication settings query", out)}
	}
	num, _ := strconv.Atoi(f[0])
	senders, _ := strconv.Atoi(f[2])
	slots, _ := strconv.Atoi(f[3])
	usedSlots, _ := strconv.Atoi(f[5])
	usedSenders, _ := strconv.Atoi(f[6])
	switch {
	case num < minPhysical:
		return Readiness{Reason: "PostgreSQL " + f[0] + " is older than 10"}
	case f[1] != "replica" && f[1] != "logical":
		return Readiness{Reason: "wal_level is " + f[1] + " (needs replica: set wal_level = replica and restart PostgreSQL)"}
	case senders <= usedSenders:
		return Readiness{Reason: fmt.Sprintf("no free WAL sender (max_wal_senders = %d, %d in use)", senders, usedSenders)}
	case slots <= usedSlots:
		return Readiness{Reason: fmt.Sprintf("no free replication slot (max_replication_slots = %d, %d in use)", slots, usedSlots)}
	case f[4] != "t":
		return Readiness{Reason: "the role " + db.User + " has neither SUPERUSER nor REPLICATION"}
	}
	// What pg_basebackup will do: a replication connection on the socket.
	cmd := r.args("psql", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--dbname", "dbname=replication replication=true", "--command", "IDENTIFY_SYSTEM")
	code, stderr, err := r.run(ctx, cmd, nil, io.Discard, nil)
	if err != nil {
		return Readiness{Reason: "trying a replication connection failed: " + err.Error()}
	}
	if code != 0 {
		return Readiness{Reason: "pg_hba.conf refuses a local replication connection for " + db.User + " (" + lastLine(stderr) + "; add `local replication all trust` or peer)"}
	}
	return Readiness{OK: true}
}

// basebackup takes the physical part of a set: the slot first (so the WAL
// from the backup's start is kept), then pg_basebackup's tar of the data
// directory, streamed and compressed on the host. The slot is dropped on
// failure; on success Seal drops it.
func (b *builder) basebackup(ctx context.Context) (err error) {
	db := *b.src.DB
	r := pgRunner{eng: b.eng, db: db}
	c, err := b.eng.Inspect(ctx, db.Container)
	if err != nil {
		return err
	}
	p := &PhysicalEntry{Slot: SlotName(b.m.ID), BaseFile: baseFile, Image: c.ImageID, User: db.User, Database: db.Database}
	out, err := r.psql(ctx, db.Database, `SELECT current_setting('server_version_num'), current_setting('data_directory'),
 pg_size_bytes(current_setting('wal_segment_size'))`)
	if err != nil {
		return fmt.Errorf("base backup: %w", err)
	}
	f := strings.Split(out, "|")
	if len(f) != 3 {
		return fmt.Errorf("base backup: unexpected answer %q", out)
	}
	p.ServerVersionNum, _ = strconv.Atoi(f[0])
	p.DataDir = f[1]
	p.SegmentBytes, _ = strconv.ParseInt(f[2], 10, 64)
	if p.SegmentBytes <= 0 {
		return fmt.Errorf("base backup: wal_segment_size %q", f[2])
	}
	var owner strings.Builder
	res, err := b.eng.Exec(ctx, db.Container, []string{"/bin/sh", "-c", `stat -c %u:%g "$1"`, "sh", p.DataDir}, nil, "", nil, &owner, nil)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("stat %s exited with %d: %s", p.DataDir, res.ExitCode, res.Stderr)
	}
	if err != nil {
		return fmt.Errorf("base backup: the owner of the data directory: %w", err)
	}
	p.Owner = strings.TrimSpace(owner.String())
	out, err = r.psql(ctx, db.Database,
		"SELECT lsn FROM pg_create_physical_replication_slot("+quoteLit(p.Slot)+", true)",
		"SELECT timeline_id FROM pg_control_checkpoint()")
	if err != nil {
		return fmt.Errorf("base backup: creating the replication slot %s: %w", p.Slot, err)
	}
	defer func() {
		if err != nil {
			if derr := dropSlot(context.WithoutCancel(ctx), r, db.Database, p.Slot); derr != nil {
				err = fmt.Errorf("%w; and dropping the replication slot %s failed (%v): drop it with SELECT pg_drop_replication_slot('%s')", err, p.Slot, derr, p.Slot)
			}
		}
	}()
	lines := strings.Split(out, "\n")
	if len(lines) != 2 {
		return fmt.Errorf("base backup: unexpected answer %q", out)
	}
	p.StartLSN = strings.TrimSpace(lines[0])
	p.Timeline, _ = strconv.Atoi(strings.TrimSpace(lines[1]))

	sink, err := createCompressed(pathJoin(b.dir, baseFile))
	if err != nil {
		return err
	}
	m := newMeter(b.progress, "database", baseFile, 0)
	cw := &countingWriter{ctx: ctx, w: sink, m: m}
	// -X none: the WAL comes from the slot at the seal; --checkpoint=fast:
	// no wait for the next scheduled checkpoint.
	cmd := r.args("pg_basebackup", "--pgdata=-", "--format=tar", "--wal-method=none", "--no-manifest", "--checkpoint=fast")
	code, stderr, err := r.run(ctx, cmd, nil, cw, func(l string) {
		if !strings.Contains(l, "WAL archiving is not enabled") && !strings.Contains(l, "all required WAL segments") {
			m.line(l)
		}
	})
	if err == nil && code != 0 {
		err = fmt.Errorf("pg_basebackup exited with %d: %s", code, lastLine(stderr))
	}
	if err != nil {
		sink.abort()
		return fmt.Errorf("base backup: %w", err)
	}
	file, err := sink.finish(baseFile, KindBase)
	if err != nil {
		return err
	}
	p.BaseBytes = m.done
	m.emit()
	b.dbFiles = append(b.dbFiles, file)
	b.m.Physical = p
	return nil
}

func pathJoin(dir, name string) string { return dir + "/" + name }

func dropSlot(ctx context.Context, r pgRunner, database, slot string) error {
	_, err := r.psql(ctx, database, "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE slot_name = "+quoteLit(slot))
	return err
}

// SealTableSumsLimit is the largest database whose tables are fingerprinted
// at the seal: the sums are read with the app stopped, so they cost
// downtime (about a second per 250 MB here); above it the restore relies on
// PostgreSQL's WAL replay reaching the stop position.
const SealTableSumsLimit = 256 << 20

// Seal completes the physical part of the set with the writers stopped:
// the stop position, a WAL switch so its segment is complete, the WAL
// segments from the base backup's start to it (held by the slot), and each
// table's fingerprint at the stop. The slot is dropped whatever happens.
func (s *Set) Seal(ctx context.Context, eng *dockerx.Engine, db DBSource, progress func(Progress)) (err error) {
	red := newRedactor(db.Password)
	progress = red.progress(progress)
	p := s.Manifest.Physical
	if p == nil {
		return nil
	}
	if p.IsSealed() {
		return nil
	}
	r := pgRunner{eng: eng, db: db}
	defer func() {
		if derr := dropSlot(context.WithoutCancel(ctx), r, db.Database, p.Slot); derr != nil && err == nil {
			err = red.err(fmt.Errorf("seal %s: dropping the replication slot %s failed: %w. Drop it with SELECT pg_drop_replication_slot('%s')", s.ID, p.Slot, derr, p.Slot))
		}
	}()
	// The message guarantees WAL after the last commit, so the switch
	// happens and its record, at or after the stop position, ends the
	// replay there (without a record at or past the target, recovery
	// refuses to promote).
	out, err := r.psql(ctx, db.Database,
		"SELECT count(*) FROM pg_replication_slots WHERE slot_name = "+quoteLit(p.Slot),
		"SELECT pg_logical_emit_message(false, 'upshift', "+quoteLit("seal "+s.ID)+")",
		"SELECT pg_current_wal_insert_lsn()",
		"SELECT pg_walfile_name(pg_switch_wal() - 1)",
		"SELECT pg_walfile_name("+quoteLit(p.StartLSN)+"::pg_lsn)",
		"SELECT timeline_id FROM pg_control_checkpoint()")
	if err != nil {
		return red.err(fmt.Errorf("seal %s: %w", s.ID, err))
	}
	f := strings.Split(out, "\n")
	if len(f) != 6 {
		return fmt.Errorf("seal %s: unexpected answer %q", s.ID, out)
	}
	f = append(f[:1], f[2:]...)
	if strings.TrimSpace(f[0]) != "1" {
		return fmt.Errorf("seal %s: the replication slot %s is gone, so the WAL since the base backup may be too: this restore point cannot be completed", s.ID, p.Slot)
	}
	if tl, _ := strconv.Atoi(strings.TrimSpace(f[4])); tl != p.Timeline {
		return fmt.Errorf("seal %s: the server's timeline changed from %d to %d since the base backup", s.ID, p.Timeline, tl)
	}
	stop := strings.TrimSpace(f[1])
	segs, err := segmentRange(strings.TrimSpace(f[3]), strings.TrimSpace(f[2]), p.SegmentBytes)
	if err != nil {
		return fmt.Errorf("seal %s: %w", s.ID, err)
	}
	file, err := s.copyWAL(ctx, eng, db.Container, p, segs, progress)
	if err != nil {
		return red.err(fmt.Errorf("seal %s: %w", s.ID, err))
	}
	p.Tables, p.TablesNote = sealSums(ctx, r, db, progress)
	p.WALFile, p.StopLSN, p.Segments, p.Sealed = walFile, stop, segs, time.Now().UTC()
	s.Manifest.Files = append(s.Manifest.Files, file)
	s.intact = false
	return s.saveManifest()
}

func sealSums(ctx context.Context, r pgRunner, db DBSource, progress func(Progress)) (map[string]map[string]TableSum, string) {
	names := db.databases()
	sizes, err := r.databaseSizes(ctx, names)
	if err != nil {
		return nil, "no table checksums recorded at the stop: " + err.Error()
	}
	var total int64
	for _, n := range sizes {
		total += n
	}
	if total > SealTableSumsLimit {
		return nil, fmt.Sprintf("no table checksums recorded at the stop: the databases hold %d MB, reading them would lengthen the downtime; the restore is proven by WAL replay to the stop position", total>>20)
	}
	out := map[string]map[string]TableSum{}
	for _, n := range names {
		sess := r.openSession(ctx, n)
		sums, err := sess.tableSums(pg.SumAuto)
		cerr := sess.close()
		if err = errors.Join(err, cerr); err != nil {
			progress(Progress{Phase: "seal", Line: "no table checksums of " + n + ": " + err.Error()})
			return nil, "no table checksums recorded at the stop: " + err.Error()
		}
		out[n] = sums
	}
	return out, ""
}

// segmentRange lists the WAL segment file names from first to last.
func segmentRange(first, last string, segBytes int64) ([]string, error) {
	tl1, n1, err := parseSegment(first, segBytes)
	if err != nil {
		return nil, err
	}
	tl2, n2, err := parseSegment(last, segBytes)
	if err != nil {
		return nil, err
	}
	if tl1 != tl2 || n2 < n1 || n2-n1 > 1<<16 {
		return nil, fmt.Errorf("WAL segments %s to %s are not one range", first, last)
	}
	per := uint64(0x100000000) / uint64(segBytes)
	var out []string
	for n := n1; n <= n2; n++ {
		out = append(out, fmt.Sprintf("%08X%08X%08X", tl1, n/per, n%per))
	}
	return out, nil
}

func parseSegment(name string, segBytes int64) (uint64, uint64, error) {
	if len(name) != 24 || segBytes <= 0 {
		return 0, 0, fmt.Errorf("%q is not a WAL segment name", name)
	}
	tl, err1 := strconv.ParseUint(name[:8], 16, 32)
	hi, err2 := strconv.ParseUint(name[8:16], 16, 32)
	lo, err3 := strconv.ParseUint(name[16:], 16, 32)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, fmt.Errorf("%q is not a WAL segment name", name)
	}
	per := uint64(0x100000000) / uint64(segBytes)
	return tl, hi*per + lo, nil
}

// copyWAL copies the segments (and any timeline history file) out of the
// container's pg_wal into one compressed tar, file by file.
func (s *Set) copyWAL(ctx context.Context, eng *dockerx.Engine, container string, p *PhysicalEntry, segs []string, progress func(Progress)) (File, error) {
	out, err := createCompressed(s.path(walFile))
	if err != nil {
		return File{}, err
	}
	m := newMeter(progress, "seal", walFile, int64(len(segs))*p.SegmentBytes)
	tw := tar.NewWriter(&countingWriter{ctx: ctx, w: out, m: m})
	names := append([]string(nil), segs...)
	if p.Timeline > 1 {
		names = append(names, fmt.Sprintf("%08X.history", p.Timeline))
	}
	for _, name := range names {
		if err := copyOne(ctx, eng, container, path.Join(p.DataDir, "pg_wal", name), name, tw); err != nil {
			out.abort()
			return File{}, fmt.Errorf("WAL %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		out.abort()
		return File{}, fmt.Errorf("WAL archive: %w", err)
	}
	f, err := out.finish(walFile, KindWAL)
	if err != nil {
		return File{}, err
	}
	m.emit()
	return f, nil
}

func copyOne(ctx context.Context, eng *dockerx.Engine, container, src, name string, tw *tar.Writer) error {
	rc, err := eng.CopyFrom(ctx, container, src)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			return fmt.Errorf("read %s: %w", src, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		h.Name = name
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
		return nil
	}
}

// DropStaleSlots drops every inactive replication slot upshift made
// (upshift_…) except keep: a slot forgotten by a killed run keeps WAL until
// the disk is full. It returns the names dropped.
func DropStaleSlots(ctx context.Context, eng *dockerx.Engine, db DBSource, keep string) ([]string, error) {
	r := pgRunner{eng: eng, db: db}
	out, err := r.psql(ctx, db.Database,
		`SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'upshift\_%' AND NOT active AND slot_name <> `+quoteLit(keep))
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, name := range strings.Fields(out) {
		if err := dropSlot(ctx, r, db.Database, name); err != nil {
			return dropped, fmt.Errorf("drop the replication slot %s: %w", name, err)
		}
		dropped = append(dropped, name)
	}
	return dropped, nil
}
