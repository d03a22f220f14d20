package envfile

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// WriteAtomic replaces path with data: a temporary file in the same
// directory, written, synced, given perm, then renamed over path (and the
// directory synced), so a crash leaves either the old or the new file.
func WriteAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".upshift-tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: cannot create a temporary file next to it: %w", path, err)
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(name)
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: set mode %v: %w", path, perm, err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w; the original file is untouched", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w; the original file is untouched", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: close: %w; the original file is untouched", path, err)
	}
	if err = os.Rename(name, path); err != nil {
		return fmt.Errorf("write %s: rename into place: %w; the original file is untouched", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // best effort: makes the rename itself durable
		_ = d.Close()
	}
	return nil
}

// Backup copies path to path.upshift-<UTC timestamp>.bak with mode 0600 and
// returns the copy's path.
func Backup(path string, now time.Time) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("back up %s: %w; nothing was changed", path, err)
	}
	bak := fmt.Sprintf("%s.upshift-%s.bak", path, now.UTC().Format("20060102T150405Z"))
	if _, err := os.Stat(bak); err == nil {
		return "", fmt.Errorf("back up %s: %s already exists; nothing was changed. Wait a second and try again", path, bak)
	}
	if err := WriteAtomic(bak, data, 0o600); err != nil {
		return "", err
	}
	return bak, nil
}
