package backup

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// A PostgreSQL major hop of a database kept in a bind mount (Dify's
// ./volumes/db/data, Mattermost's POSTGRES_DATA_PATH) puts the new major's
// data directory next to the old one, on the engine's host: dir-pgN. That
// it is upshift's own (so a killed attempt's can be replaced) is told by a
// file next to it, since the data directory must be empty for initdb.

// DirState is what is at the path of a new data directory.
type DirState int

// The states of a new data directory's path.
const (
	DirAbsent  DirState = iota // nothing there
	DirOurs                    // made by upshift for a hop (its marker is there)
	DirEmpty                   // an empty directory someone made
	DirForeign                 // a directory with files, not upshift's
)

// dirMarker is the file next to dir that says upshift made dir.
func dirMarker(dir string) string {
	return path.Join(path.Dir(dir), ".upshift-made-"+path.Base(dir))
}

// dirHelper runs script with the parent of dir (an absolute path of the
// engine's host, which must exist) mounted at /p; $1 is dir's name, $2 its
// marker's.
func dirHelper(ctx context.Context, eng *dockerx.Engine, image, dir, script, purpose string) error {
	dir = path.Clean(dir)
	if !path.IsAbs(dir) || dir == "/" {
		return fmt.Errorf("%s: %q is not an absolute directory of the Docker host", purpose, dir)
	}
	hm := dockerx.HelperMount{Source: path.Dir(dir), Target: "/p"}
	full := "set -e; cd /p; set -- " + shellQuote(path.Base(dir)) + " " + shellQuote(path.Base(dirMarker(dir))) + "\n" + script
	id, err := mountHelper(ctx, eng, image, hm, full, purpose)
	if id != "" {
		_ = eng.RemoveContainer(context.WithoutCancel(ctx), id)
	}
	return err
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// DataDirState says what is at dir (see DirState), with a helper of image.
func DataDirState(ctx context.Context, eng *dockerx.Engine, image, dir string) (DirState, error) {
	err := dirHelper(ctx, eng, image, dir, `if [ ! -e "$1" ]; then exit 0; fi
[ -d "$1" ] || exit 12
if [ -f "$2" ]; then exit 10; fi
if [ -z "$(ls -A "$1")" ]; then exit 11; fi
exit 12`, "pg-major-dir-state")
	var code errHelperCode
	switch {
	case err == nil:
		return DirAbsent, nil
	case errors.As(err, &code) && code == 10:
		return DirOurs, nil
	case errors.As(err, &code) && code == 11:
		return DirEmpty, nil
	case errors.As(err, &code) && code == 12:
		return DirForeign, nil
	}
	return 0, fmt.Errorf("look at %s on the Docker host: %w", dir, err)
}

// FreshDataDir makes dir an empty directory for a new major's data, owned
// like the old data directory like (next to it: the server of the image
// may run as its own user, which must own its data directory), with the
// marker next to it; a directory upshift made earlier (a killed attempt's)
// is emptied, an empty one adopted, any other refused.
func FreshDataDir(ctx context.Context, eng *dockerx.Engine, image, dir, like, note string) error {
	if path.Dir(path.Clean(like)) != path.Dir(path.Clean(dir)) {
		return fmt.Errorf("the new data directory %s is not next to the old one %s", dir, like)
	}
	st, err := DataDirState(ctx, eng, image, dir)
	if err != nil {
		return err
	}
	if st == DirForeign {
		return fmt.Errorf("%s exists already, holds files, and upshift did not make it: it may be someone's data. Nothing was changed. Fix: move it away if it is not needed", dir)
	}
	script := `o=$(stat -c %u:%g ` + shellQuote(path.Base(like)) + `)
rm -rf "$1"; mkdir -m 700 "$1"; chown "$o" "$1"
printf '%s\n' ` + shellQuote(note) + ` > "$2.tmp"; mv "$2.tmp" "$2"`
	return dirHelper(ctx, eng, image, dir, script, "pg-major-dir")
}

// RemoveDataDir removes dir and its marker, if upshift made dir; a
// directory it did not make is left, and said so.
func RemoveDataDir(ctx context.Context, eng *dockerx.Engine, image, dir string) error {
	st, err := DataDirState(ctx, eng, image, dir)
	if err != nil {
		return err
	}
	switch st {
	case DirAbsent:
		return nil
	case DirOurs:
		return dirHelper(ctx, eng, image, dir, `rm -rf "$1"; rm -f "$2"`, "pg-major-dir-remove")
	case DirEmpty, DirForeign:
	}
	return fmt.Errorf("%s was not made by upshift: left as it is", dir)
}
