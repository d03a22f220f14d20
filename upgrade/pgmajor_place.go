package upgrade

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// pgPlace is where the new major's data goes: a new named volume of the
// project, or, when the old data directory is a directory of the host (a
// bind mount, as in Dify's and Mattermost's layouts), a new directory next
// to it.
type pgPlace struct {
	volume string // the Docker name of the new volume ("" for a directory)
	dir    string // the new data directory on the engine's host
	image  string // the image whose helpers look at dir (the old server's)
}

func (p pgPlace) String() string {
	if p.dir != "" {
		return "the directory " + p.dir
	}
	return "the volume " + p.volume
}

// pgPlaceOf is the hop's new place for layout l and edit w, which must
// agree on what keeps the data (the running container and the files).
func (e *Env) pgPlaceOf(l pgLayout, w *pgSwitch, m PostgresMajor) (pgPlace, error) {
	switch {
	case w.bind && l.bindDir == "":
		return pgPlace{}, fmt.Errorf("the compose files keep the data directory %s in the host directory %s, but the running database container has it in the volume %s: the files changed since it started. Nothing was changed. Fix: docker compose up -d, then run upshift again", l.dataDir, w.oldVolume, l.volume)
	case !w.bind && l.bindDir != "":
		return pgPlace{}, fmt.Errorf("the compose files keep the data directory %s in the volume %s, but the running database container has it in the host directory %s: the files changed since it started. Nothing was changed. Fix: docker compose up -d, then run upshift again", l.dataDir, w.oldVolume, l.bindDir)
	case w.bind:
		if err := e.sameHostDir(w.oldVolume, l.bindDir); err != nil {
			return pgPlace{}, err
		}
		dir := l.bindDir
		if !w.done {
			dir += "-pg" + strconv.Itoa(m.ToMajor)
		}
		return pgPlace{dir: dir, image: l.container.Image}, nil
	}
	return pgPlace{volume: e.pgVolumeName(w.newVolume)}, nil
}

// sameHostDir checks that the compose files' path of the data directory
// (relative to the project directory) is the directory the database
// container runs on, when both are on this machine: the new directory is
// made next to the one, and the files will name the one next to the other.
func (e *Env) sameHostDir(composePath, running string) error {
	p := composePath
	switch {
	case strings.HasPrefix(p, "~"):
		return nil
	case !filepath.IsAbs(p):
		if e.Dir() == "" {
			return nil
		}
		p = filepath.Join(e.Dir(), p)
	}
	a, errA := filepath.EvalSymlinks(p)
	b, errB := filepath.EvalSymlinks(running)
	if errA != nil || errB != nil || a == b {
		return nil // not both here (another engine's host), or the same
	}
	return fmt.Errorf("the compose files keep the data directory in %s (%s), but the database container runs on %s: the files changed since it started. Nothing was changed. Fix: docker compose up -d, then run upshift again", composePath, a, running)
}

// checkPlace is the preflight's look at the new place: one upshift did not
// make is refused, and the disk must have room for need bytes.
func (e *Env) checkPlace(ctx context.Context, p pgPlace, need int64, sink steps.Sink) error {
	root := path.Dir(p.dir)
	if p.dir != "" {
		st, err := e.PG.DataDirState(ctx, p.image, p.dir)
		if err != nil {
			return err
		}
		switch st {
		case backup.DirForeign:
			return fmt.Errorf("%s exists already, holds files, and upshift did not make it: it may hold someone's data. Nothing was changed. Fix: move it away if it is not needed", p.dir)
		case backup.DirOurs:
			sink.Log("• " + p.dir + " was left by an earlier attempt that never switched to it: it will be made again")
		case backup.DirEmpty:
			sink.Log("• " + p.dir + " exists, empty: the new server initialises it")
		case backup.DirAbsent:
		}
	} else {
		if labels, ok, err := e.PG.VolumeLabels(ctx, p.volume); err != nil {
			return err
		} else if ok && labels[dockerx.LabelPGMajor] == "" {
			return fmt.Errorf("a volume %s exists already and upshift did not make it: it may hold someone's data. Nothing was changed. Fix: remove or rename it (docker volume rm %s) if it is not needed", p.volume, p.volume)
		}
		var err error
		if root, err = e.PG.RootDir(ctx); err != nil || root == "" {
			sink.Log("• the free space of the Docker host could not be checked: " + fmt.Sprint(err))
			return nil
		}
	}
	if _, err := os.Stat(root); err != nil {
		sink.Log("• the free space for the new data directory could not be checked (" + root + " is not on this machine)")
		return nil
	}
	if err := e.Backups.CheckFreeSpace(root, need); err != nil {
		return fmt.Errorf("no room for the new data directory (about %s) in %s: %w. Nothing was changed", human.Bytes(need), root, err)
	}
	sink.Log(fmt.Sprintf("✓ free space for a second data directory of about %s in %s", human.Bytes(need), root))
	return nil
}

// DropUnswitchedPG removes what a killed run's PostgreSQL hops to majors
// prepared and never switched to: the new volume or directory next to the
// one the database service runs on, when upshift made it (its label or
// marker says so) and nothing runs on it. Scratch servers must be gone
// first (CleanupScratch).
func (e *Env) DropUnswitchedPG(ctx context.Context, majors []int, log func(string)) {
	if e.PG == nil || len(majors) == 0 {
		return
	}
	det, err := e.detectNow(ctx)
	if err != nil {
		return
	}
	l, err := e.pgLayoutOf(det)
	if err != nil {
		return
	}
	// Files that name the new place were switched (or are being): never
	// touch what they point at.
	var files []byte
	for _, f := range append([]string{e.EnvPath()}, e.composeTree()...) {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			return
		}
		files = append(files, b...)
	}
	for _, n := range majors {
		suffix := "-pg" + strconv.Itoa(n)
		if strings.Contains(string(files), suffix) {
			continue
		}
		switch {
		case l.bindDir != "" && !strings.HasSuffix(l.bindDir, suffix):
			dir := l.bindDir + suffix
			if st, err := e.PG.DataDirState(ctx, l.container.Image, dir); err != nil || st != backup.DirOurs {
				continue
			}
			if err := e.PG.RemoveDataDir(ctx, l.container.Image, dir); err != nil {
				log("• could not remove " + dir + ", prepared by the interrupted run for PostgreSQL " + strconv.Itoa(n) + ": " + err.Error())
				continue
			}
			log("• removed " + dir + ": the interrupted run prepared it for PostgreSQL " + strconv.Itoa(n) + " and never switched to it")
		case l.volume != "" && !strings.HasSuffix(l.volume, suffix):
			vol := l.volume + suffix
			labels, ok, err := e.PG.VolumeLabels(ctx, vol)
			if err != nil || !ok || labels[dockerx.LabelPGMajor] != strconv.Itoa(n) || labels[dockerx.LabelComposeProject] != e.Project.Name {
				continue
			}
			if err := e.PG.RemoveVolume(ctx, vol); err != nil {
				log("• could not remove the volume " + vol + ", prepared by the interrupted run for PostgreSQL " + strconv.Itoa(n) + ": " + err.Error())
				continue
			}
			log("• removed the volume " + vol + ": the interrupted run prepared it for PostgreSQL " + strconv.Itoa(n) + " and never switched to it")
		}
	}
}
