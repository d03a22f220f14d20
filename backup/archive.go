package backup

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrUnsafeArchive means a tar entry would escape the directory it is
// restored into (an absolute path or a ".." component).
var ErrUnsafeArchive = errors.New("unsafe path in archive")

// safeName checks a tar entry name and returns it cleaned and relative.
func safeName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty name", ErrUnsafeArchive)
	}
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) || filepath.IsAbs(name) {
		return "", fmt.Errorf("%w: absolute path %q", ErrUnsafeArchive, name)
	}
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return "", fmt.Errorf("%w: %q has a \"..\" component", ErrUnsafeArchive, name)
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return ".", nil
	}
	return clean, nil
}

// stripRoot checks an entry of a CopyFromContainer archive, whose entries all
// sit under root, and returns its name relative to root ("." for root itself).
func stripRoot(root, name string) (string, error) {
	clean, err := safeName(name)
	if err != nil {
		return "", err
	}
	if clean == root {
		return ".", nil
	}
	rest, ok := strings.CutPrefix(clean, root+"/")
	if !ok {
		return "", fmt.Errorf("%w: %q is outside the archive root %q", ErrUnsafeArchive, name, root)
	}
	return rest, nil
}

// checkVolumeArchive reads a whole volume archive and refuses it if any entry
// (or hard-link target) is unsafe. It returns the header of the root entry.
func checkVolumeArchive(r io.Reader, root string) (*tar.Header, error) {
	tr := tar.NewReader(r)
	var rootHdr *tar.Header
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return rootHdr, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		rel, err := stripRoot(root, h.Name)
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeLink {
			if _, err := stripRoot(root, h.Linkname); err != nil {
				return nil, fmt.Errorf("hard link %s: %w", h.Name, err)
			}
		}
		if rel == "." {
			rootHdr = h
		}
	}
}

// rewriteVolumeArchive copies a checked volume archive, re-rooting every
// entry at "." so it can be extracted into the (emptied) mount point.
func rewriteVolumeArchive(w io.Writer, r io.Reader, root string) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		rel, err := stripRoot(root, h.Name)
		if err != nil {
			return err
		}
		if rel == "." {
			continue // the mount point itself: its owner and mode are set by the helper
		}
		h.Name = rel
		if h.Typeflag == tar.TypeDir && !strings.HasSuffix(h.Name, "/") {
			h.Name += "/"
		}
		if h.Typeflag == tar.TypeLink {
			if h.Linkname, err = stripRoot(root, h.Linkname); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("write archive: %w", err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("copy archive entry %s: %w", rel, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	return nil
}

// archiveRoot returns the name of the first entry of a CopyFromContainer archive.
func archiveRoot(r io.Reader) (string, error) {
	h, err := tar.NewReader(r).Next()
	if err != nil {
		return "", fmt.Errorf("read archive: %w", err)
	}
	name, err := safeName(h.Name)
	if err != nil {
		return "", err
	}
	root, _, _ := strings.Cut(name, "/")
	return root, nil
}

// configName is the archive name of a config path: relative to the project
// directory when inside it, else "_abs/" + the absolute path.
func configName(projectDir, p string) string {
	if projectDir != "" {
		if rel, err := filepath.Rel(projectDir, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && rel != "." {
			return filepath.ToSlash(rel)
		}
	}
	return "_abs/" + strings.TrimPrefix(filepath.ToSlash(p), "/")
}

// configTarget maps an archive name back to a host path.
func configTarget(projectDir, name string) string {
	if rest, ok := strings.CutPrefix(name, "_abs/"); ok {
		return "/" + filepath.FromSlash(rest)
	}
	return filepath.Join(projectDir, filepath.FromSlash(name))
}

// addConfigPath archives a config file or directory (regular files and
// directories only; symlinks inside directories are skipped, a symlink given
// as the path itself is followed). It returns false when p does not exist.
func addConfigPath(tw *tar.Writer, name, p string, onFile func(int64)) (bool, bool, error) {
	st, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("config %s: %w", p, err)
	}
	if !st.IsDir() {
		return true, false, addConfigFile(tw, name, p, st, onFile)
	}
	err = filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("config %s: %w", fp, err)
		}
		rel, err := filepath.Rel(p, fp)
		if err != nil {
			return fmt.Errorf("config %s: %w", fp, err)
		}
		entry := name
		if rel != "." {
			entry = name + "/" + filepath.ToSlash(rel)
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("config %s: %w", fp, err)
		}
		switch {
		case d.IsDir():
			h, err := tar.FileInfoHeader(info, "")
			if err != nil {
				return fmt.Errorf("config %s: %w", fp, err)
			}
			h.Name = entry + "/"
			if err := tw.WriteHeader(h); err != nil {
				return fmt.Errorf("config %s: %w", fp, err)
			}
			return nil
		case info.Mode().IsRegular():
			return addConfigFile(tw, entry, fp, info, onFile)
		default:
			return nil
		}
	})
	if err != nil {
		return true, true, fmt.Errorf("config directory %s: %w", p, err)
	}
	return true, true, nil
}

func addConfigFile(tw *tar.Writer, name, p string, st fs.FileInfo, onFile func(int64)) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("config %s: %w", p, err)
	}
	defer func() { _ = f.Close() }()
	h, err := tar.FileInfoHeader(st, "")
	if err != nil {
		return fmt.Errorf("config %s: %w", p, err)
	}
	h.Name = name
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("config %s: %w", p, err)
	}
	n, err := io.Copy(tw, f)
	if err != nil {
		return fmt.Errorf("config %s: %w", p, err)
	}
	onFile(n)
	return nil
}

// checkConfigArchive refuses unsafe names and anything but files and directories.
func checkConfigArchive(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read config archive: %w", err)
		}
		if _, err := safeName(h.Name); err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w: config entry %q is not a file or directory", ErrUnsafeArchive, h.Name)
		}
	}
}

// writeConfigEntry restores one checked config entry atomically with its mode.
func writeConfigEntry(h *tar.Header, r io.Reader, target string) error {
	mode := fs.FileMode(h.Mode).Perm()
	if h.Typeflag == tar.TypeDir {
		if err := os.MkdirAll(target, mode); err != nil {
			return fmt.Errorf("restore %s: %w", target, err)
		}
		if err := os.Chmod(target, mode); err != nil {
			return fmt.Errorf("restore %s: %w", target, err)
		}
		return nil
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("restore %s: %w", target, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".upshift-*")
	if err != nil {
		return fmt.Errorf("restore %s: %w", target, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	fail := func(err error) error {
		_ = tmp.Close()
		return fmt.Errorf("restore %s: %w", target, err)
	}
	if _, err := io.Copy(tmp, r); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if os.Geteuid() == 0 {
		_ = tmp.Chown(h.Uid, h.Gid)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("restore %s: %w", target, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("restore %s: %w", target, err)
	}
	return nil
}

// rootSniffer keeps the beginning of a tar stream to find its root entry.
type rootSniffer struct{ buf []byte }

const sniffLimit = 64 << 10

func (s *rootSniffer) Write(p []byte) (int, error) {
	if room := sniffLimit - len(s.buf); room > 0 {
		s.buf = append(s.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (s *rootSniffer) name() (string, error) { return archiveRoot(bytes.NewReader(s.buf)) }

func copyTee(w, tee io.Writer, r io.Reader) (int64, error) {
	n, err := io.CopyBuffer(io.MultiWriter(w, tee), r, make([]byte, 256<<10))
	if err != nil {
		return n, fmt.Errorf("copy: %w", err)
	}
	return n, nil
}
