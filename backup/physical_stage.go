package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// A staged copy is a restore point's base backup already unpacked next to
// the live data directory, on the same filesystem, while the app still
// runs. A rollback then swaps directories (renames) instead of writing the
// whole data directory during the downtime: what is left to do after the
// stop is the WAL since the base backup and the server's recovery.

// StagedCopy is where a set's base backup was unpacked.
type StagedCopy struct {
	Volume string `json:"volume,omitempty"` // the named volume holding the data directory
	Source string `json:"source,omitempty"` // or the host directory of its bind mount
	Dir    string `json:"dir"`              // the copy's directory at the mount's root
}

const (
	stagedPrefix = ".upshift-staged-"
	oldPrefix    = ".upshift-old-"
	swapPrefix   = ".upshift-swap-"
)

// ErrNoRoom is returned by Stage when the data directory's filesystem has
// no room for a second data directory.
var ErrNoRoom = errors.New("no room for a staged copy of the data directory")

// stagedName is the staged copy's directory of set id.
func stagedName(id string) string {
	return stagedPrefix + strings.TrimPrefix(SlotName(id), slotPrefix)
}

func (st *StagedCopy) mount() dockerx.HelperMount {
	return dockerx.HelperMount{Volume: st.Volume, Source: st.Source, Target: restoreMount}
}

func (st *StagedCopy) holds(mt dockerx.Mount) bool { return st.mount() == helperMount(mt) }

func helperMount(mt dockerx.Mount) dockerx.HelperMount {
	hm := dockerx.HelperMount{Target: restoreMount}
	if mt.Type == "volume" {
		hm.Volume = mt.Name
	} else {
		hm.Source = mt.Source
	}
	return hm
}

// errHelperCode is a helper script's exit status other than 0.
type errHelperCode int

func (e errHelperCode) Error() string { return "exit " + strconv.Itoa(int(e)) }

// mountHelper runs script in a helper container of image with hm mounted
// and waits for it. The container is left (exited) for a CopyTo into the
// mount; the caller removes it, also on error when id is not empty.
func mountHelper(ctx context.Context, eng *dockerx.Engine, image string, hm dockerx.HelperMount, script, purpose string) (string, error) {
	id, err := eng.CreateHelper(ctx, dockerx.HelperSpec{
		Image: image, Cmd: []string{"/bin/sh", "-c", script},
		Mounts: []dockerx.HelperMount{hm}, Purpose: purpose,
	})
	if err != nil {
		return "", err
	}
	if err := eng.Start(ctx, id); err != nil {
		return id, err
	}
	code, err := eng.Wait(ctx, id)
	if err != nil {
		return id, err
	}
	if code != 0 {
		return id, fmt.Errorf("%s: %w: %s", purpose, errHelperCode(code), logTail(ctx, eng, id, 2))
	}
	return id, nil
}

// freeBytes is the free space of the filesystem holding dir inside the
// running container (df -Pk).
func freeBytes(ctx context.Context, eng *dockerx.Engine, container, dir string) (int64, error) {
	var out strings.Builder
	res, err := eng.Exec(ctx, container, []string{"/bin/sh", "-c", `df -Pk "$1"`, "sh", dir}, nil, "", nil, &out, nil)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("df exited with %d: %s", res.ExitCode, res.Stderr)
	}
	if err != nil {
		return 0, err
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(lines) < 2 || len(f) < 4 {
		return 0, fmt.Errorf("unexpected df output %q", out.String())
	}
	kb, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("unexpected df output %q", out.String())
	}
	return kb << 10, nil
}

// Stage unpacks the set's base backup next to db's live data directory
// (at the root of the volume or bind mount holding it) while the app runs,
// so a rollback only swaps directories. It fails with ErrNoRoom when the
// filesystem lacks room for a second data directory; any failure leaves
// the set as it was (a rollback then copies the base backup in). Stale
// staged copies of other sets are removed first.
func (s *Set) Stage(ctx context.Context, eng *dockerx.Engine, db DBSource, progress func(Progress)) error {
	p := s.Manifest.Physical
	if p == nil || p.Staged != nil {
		return nil
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	c, err := eng.Inspect(ctx, db.Container)
	if err != nil {
		return err
	}
	if c.ImageID != p.Image {
		return fmt.Errorf("the database container runs another image than the base backup's")
	}
	mt, _, ok := dataMount(c, p.DataDir)
	if !ok {
		return fmt.Errorf("no volume or bind mount of the database container holds %s", p.DataDir)
	}
	base, ok := s.file(p.BaseFile)
	if !ok {
		return fmt.Errorf("the set has no %s", p.BaseFile)
	}
	need := p.BaseBytes
	if need <= 0 {
		need = 3 * base.Size
	}
	need += need/10 + 256<<20
	if free, err := freeBytes(ctx, eng, c.ID, mt.Destination); err != nil {
		return fmt.Errorf("free space next to the data directory: %w", err)
	} else if free < need {
		return fmt.Errorf("%w: %d MB free where the data directory is, %d MB needed", ErrNoRoom, free>>20, need>>20)
	}
	dir := stagedName(s.ID)
	script := "set -e; cd " + restoreMount + "; rm -rf ./" + stagedPrefix + "* ./" + oldPrefix + "*; mkdir " + dir +
		"; chown " + ownerOf(p) + " " + dir + "; chmod 700 " + dir
	id, err := mountHelper(ctx, eng, p.Image, helperMount(mt), script, "stage-pgdata")
	if id != "" {
		defer func() { _ = eng.RemoveContainer(ctx, id) }()
	}
	if err != nil {
		return err
	}
	m := newMeter(progress, "stage", base.Path, base.Size)
	err = copyTar(ctx, eng, id, restoreMount+"/"+dir, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if _, err := s.baseEntries(ctx, tw, base, m, nil); err != nil {
			return err
		}
		return tw.Close()
	})
	if err != nil {
		_ = removeIn(context.WithoutCancel(ctx), eng, p.Image, helperMount(mt), []string{dir})
		return fmt.Errorf("unpack the base backup next to the data directory: %w", err)
	}
	m.emit()
	hm := helperMount(mt)
	p.Staged = &StagedCopy{Volume: hm.Volume, Source: hm.Source, Dir: dir}
	if err := s.saveManifest(); err != nil {
		p.Staged = nil
		_ = removeIn(context.WithoutCancel(ctx), eng, p.Image, helperMount(mt), []string{dir})
		return err
	}
	return nil
}

func ownerOf(p *PhysicalEntry) string {
	if p.Owner == "" {
		return "999:999"
	}
	return p.Owner
}

// removeIn removes names (at the mount's root) through a helper.
func removeIn(ctx context.Context, eng *dockerx.Engine, image string, hm dockerx.HelperMount, names []string) error {
	var q []string
	for _, n := range names {
		q = append(q, "./"+n)
	}
	id, err := mountHelper(ctx, eng, image, hm, "cd "+restoreMount+" && rm -rf "+strings.Join(q, " "), "unstage-pgdata")
	if id != "" {
		_ = eng.RemoveContainer(ctx, id)
	}
	return err
}

// Unstage removes the set's staged copy, when it has one.
func (s *Set) Unstage(ctx context.Context, eng *dockerx.Engine) error {
	p := s.Manifest.Physical
	if p == nil || p.Staged == nil {
		return nil
	}
	if err := removeIn(ctx, eng, p.Image, p.Staged.mount(), []string{p.Staged.Dir}); err != nil {
		return fmt.Errorf("remove the staged copy %s of %s: %w", p.Staged.Dir, s.ID, err)
	}
	p.Staged = nil
	return s.saveManifest()
}

var lsnPattern = regexp.MustCompile(`^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$`)

var leftoverName = regexp.MustCompile(`^\.upshift-(staged|old)-[a-z0-9_]+$`)

// DropStaleStaged removes the staged copies (and the old data directories
// of an interrupted swap) next to db's data directory, except keep: they
// hold a whole data directory each. It returns the names removed.
func DropStaleStaged(ctx context.Context, eng *dockerx.Engine, db DBSource, keep []string) ([]string, error) {
	r := pgRunner{eng: eng, db: db}
	dataDir, err := r.psql(ctx, db.Database, "SHOW data_directory")
	if err != nil {
		return nil, err
	}
	c, err := eng.Inspect(ctx, db.Container)
	if err != nil {
		return nil, err
	}
	mt, _, ok := dataMount(c, strings.TrimSpace(dataDir))
	if !ok {
		return nil, nil
	}
	var out strings.Builder
	res, err := eng.Exec(ctx, c.ID, []string{"/bin/sh", "-c", `ls -a "$1"`, "sh", mt.Destination}, nil, "", nil, &out, nil)
	if err != nil || res.ExitCode != 0 {
		return nil, nil //nolint:nilerr // no ls in the image: nothing to judge by
	}
	var stale []string
	for _, n := range strings.Fields(out.String()) {
		if leftoverName.MatchString(n) && !slices.Contains(keep, n) {
			stale = append(stale, n)
		}
	}
	if len(stale) == 0 {
		return nil, nil
	}
	sort.Strings(stale)
	if err := removeIn(ctx, eng, c.ImageID, helperMount(mt), stale); err != nil {
		return nil, err
	}
	return stale, nil
}

// StagedDir is the directory of the set's staged copy ("" without one).
func (s *Set) StagedDir() string {
	if p := s.Manifest.Physical; p != nil && p.Staged != nil {
		return p.Staged.Dir
	}
	return ""
}

// errNoStaged says the staged copy is not there (any more): the restore
// copies the base backup in instead.
var errNoStaged = errors.New("the staged copy is gone")

// swapStaged puts the staged copy in place of the data directory (renames
// on one filesystem), the old one moved aside (its name is returned), with
// the recovery settings. The copy is first renamed to a swap directory, so
// an interrupted swap leaves no staged copy to trust: a retry copies the
// base backup in. It returns the exited helper container too (for the
// WAL's copy).
func (s *Set) swapStaged(ctx context.Context, eng *dockerx.Engine, p *PhysicalEntry, mt dockerx.Mount, rel string) (id, old string, err error) {
	if !lsnPattern.MatchString(p.StopLSN) {
		return "", "", fmt.Errorf("the set's stop position %q is not an LSN", p.StopLSN)
	}
	st := p.Staged.Dir
	if !leftoverName.MatchString(st) {
		return "", "", fmt.Errorf("the set's staged copy %q is not upshift's", st)
	}
	tail := strings.TrimPrefix(st, stagedPrefix)
	w, o := swapPrefix+tail, oldPrefix+tail
	d := restoreMount + rel
	owner := ownerOf(p)
	script := "set -e; cd " + restoreMount + "\n" +
		"[ -f " + st + "/PG_VERSION ] || exit 3\n" +
		"rm -rf " + w + " " + o + "; mv " + st + " " + w + "; mkdir " + o + "\n" +
		"for f in " + d + "/* " + d + "/.[!.]* " + d + "/..?*; do\n" +
		"  [ -e \"$f\" ] || [ -h \"$f\" ] || continue\n" +
		"  case \"${f##*/}\" in " + w + "|" + o + ") continue;; esac\n" +
		"  mv \"$f\" " + o + "/\ndone\n" +
		"for f in " + w + "/* " + w + "/.[!.]* " + w + "/..?*; do\n" +
		"  [ -e \"$f\" ] || [ -h \"$f\" ] || continue\n" +
		"  mv \"$f\" " + d + "/\ndone\n" +
		"rmdir " + w + "\n" +
		"cat >> " + d + "/postgresql.auto.conf <<'UPSHIFT_EOF'\n" + recoveryConf(p) + "UPSHIFT_EOF\n" +
		": > " + d + "/recovery.signal\n" +
		"chown " + owner + " " + d + "/postgresql.auto.conf " + d + "/recovery.signal\n" +
		"chmod 600 " + d + "/postgresql.auto.conf " + d + "/recovery.signal\n"
	id, err = mountHelper(ctx, eng, p.Image, helperMount(mt), script, "swap-pgdata")
	var code errHelperCode
	if errors.As(err, &code) && code == 3 {
		err = errNoStaged
	}
	return id, o, err
}

// copyTar streams the tar that fill writes into dir of container id.
func copyTar(ctx context.Context, eng *dockerx.Engine, id, dir string, fill func(io.Writer) error) error {
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pw.CloseWithError(fill(pw))
	}()
	err := eng.CopyTo(ctx, id, dir, pr)
	_ = pr.CloseWithError(errStopped)
	wg.Wait()
	return err
}

// checkFile checks one file of the set against its size and SHA-256.
func (s *Set) checkFile(ctx context.Context, name string, progress func(Progress)) error {
	f, ok := s.file(name)
	if !ok {
		return fmt.Errorf("%w: %s: the manifest lists no %s", ErrCorrupt, s.ID, name)
	}
	n, sum, err := hashFile(ctx, s.path(f.Path), newMeter(progress, "verify", f.Path, f.Size))
	switch {
	case err != nil && ctx.Err() != nil:
		return err
	case err != nil:
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, s.ID, err)
	case n != f.Size:
		return fmt.Errorf("%w: %s: %s is %d bytes, the manifest says %d", ErrCorrupt, s.ID, f.Path, n, f.Size)
	case sum != f.SHA256:
		return fmt.Errorf("%w: %s: %s does not match its SHA-256 checksum", ErrCorrupt, s.ID, f.Path)
	}
	return nil
}

// restoreStaged swaps the staged copy in and adds the WAL to the stop
// (the database container is stopped); it returns the name of the data
// directory moved aside. errNoStaged: nothing was changed.
func (s *Set) restoreStaged(ctx context.Context, eng *dockerx.Engine, p *PhysicalEntry, mt dockerx.Mount, rel string, progress func(Progress)) (string, error) {
	progress(Progress{Phase: "restore-database", Line: "swapping in the base backup unpacked before the stop (" + p.Staged.Dir + ")"})
	id, old, err := s.swapStaged(ctx, eng, p, mt, rel)
	if id != "" {
		defer func() { _ = eng.RemoveContainer(ctx, id) }()
	}
	if err != nil {
		return "", err
	}
	p.Staged = nil // consumed, whatever follows
	wal, _ := s.file(p.WALFile)
	m := newMeter(progress, "restore-database", wal.Path, wal.Size)
	err = copyTar(ctx, eng, id, restoreMount+rel, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := s.walEntries(ctx, tw, p, wal, m); err != nil {
			return err
		}
		return tw.Close()
	})
	if err != nil {
		return old, fmt.Errorf("copy the WAL to the stop in: %w", err)
	}
	m.emit()
	return old, s.saveManifest()
}

// removeOld removes the data directory old (at hm's root) that a swap
// moved aside, while the server recovers: wait for the result with the
// returned func. Nothing to do when old is "".
func removeOld(ctx context.Context, eng *dockerx.Engine, image string, hm dockerx.HelperMount, old string) func() error {
	if old == "" {
		return func() error { return nil }
	}
	done := make(chan error, 1)
	go func() { done <- removeIn(context.WithoutCancel(ctx), eng, image, hm, []string{old}) }()
	return func() error {
		if err := <-done; err != nil {
			return fmt.Errorf("remove the data directory the rollback replaced (%s at the root of the data volume; remove it by hand): %w", old, err)
		}
		return nil
	}
}
