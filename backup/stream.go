package backup

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/seed-e7a9fb3b/upshift/envfile"
)

// Progress is what a long operation reports, at most a few times a second.
type Progress struct {
	Phase string  // database, sqlite, config, volume, images, manifest, verify, restore-database, ...
	File  string  // file of the set being written or read
	Done  int64   // bytes processed
	Total int64   // bytes expected; 0 when unknown (for a dump: the database size, an estimate)
	Rate  float64 // bytes per second since the phase started
	Line  string  // a log line (pg_dump/pg_restore stderr), secrets removed
}

// Compression settings: bounded memory whatever the input size (each encoder
// keeps about two windows), and fast enough to outrun pg_dump on one core.
const (
	zstdWindow   = 4 << 20
	sinkBuffer   = 256 << 10
	reportPeriod = 200 * time.Millisecond
)

func newEncoder(w io.Writer) (*zstd.Encoder, error) {
	conc := min(runtime.GOMAXPROCS(0), 2)
	enc, err := zstd.NewWriter(w,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(conc),
		zstd.WithWindowSize(zstdWindow),
		zstd.WithLowerEncoderMem(true),
		zstd.WithEncoderCRC(true),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return enc, nil
}

func newDecoder(r io.Reader) (*zstd.Decoder, error) {
	dec, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(64<<20),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return dec, nil
}

// sink writes one file of a set, hashing and counting what it writes.
type sink struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	h    hash.Hash
	n    int64
}

func createSink(path string) (*sink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	s := &sink{path: path, f: f, h: sha256.New()}
	s.bw = bufio.NewWriterSize(f, sinkBuffer)
	return s, nil
}

func (s *sink) Write(p []byte) (int, error) {
	n, err := s.bw.Write(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", s.path, err)
	}
	return n, nil
}

// finish flushes and syncs the file and returns its manifest entry.
func (s *sink) finish(name, kind string) (File, error) {
	if err := s.bw.Flush(); err != nil {
		_ = s.f.Close()
		return File{}, fmt.Errorf("write %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		_ = s.f.Close()
		return File{}, fmt.Errorf("write %s: %w", s.path, err)
	}
	if err := s.f.Close(); err != nil {
		return File{}, fmt.Errorf("write %s: %w", s.path, err)
	}
	return File{Path: name, Size: s.n, SHA256: hex.EncodeToString(s.h.Sum(nil)), Kind: kind}, nil
}

func (s *sink) abort() { _ = s.f.Close() }

// compressTo streams everything written to it through zstd into a set file.
type compressedFile struct {
	sink *sink
	enc  *zstd.Encoder
}

func createCompressed(path string) (*compressedFile, error) {
	s, err := createSink(path)
	if err != nil {
		return nil, err
	}
	enc, err := newEncoder(s)
	if err != nil {
		s.abort()
		return nil, err
	}
	return &compressedFile{sink: s, enc: enc}, nil
}

func (c *compressedFile) Write(p []byte) (int, error) {
	n, err := c.enc.Write(p)
	if err != nil {
		return n, fmt.Errorf("compress %s: %w", c.sink.path, err)
	}
	return n, nil
}

func (c *compressedFile) finish(name, kind string) (File, error) {
	if err := c.enc.Close(); err != nil {
		c.sink.abort()
		return File{}, fmt.Errorf("compress %s: %w", c.sink.path, err)
	}
	return c.sink.finish(name, kind)
}

func (c *compressedFile) abort() {
	_ = c.enc.Close()
	c.sink.abort()
}

// meter counts bytes for one phase and reports them, rate-limited.
type meter struct {
	fn    func(Progress)
	phase string
	file  string
	total int64
	done  int64
	start time.Time
	last  time.Time
}

func newMeter(fn func(Progress), phase, file string, total int64) *meter {
	now := time.Now()
	m := &meter{fn: fn, phase: phase, file: file, total: total, start: now, last: now}
	m.emit()
	return m
}

func (m *meter) add(n int) {
	m.done += int64(n)
	if now := time.Now(); now.Sub(m.last) >= reportPeriod {
		m.last = now
		m.emit()
	}
}

func (m *meter) emit() {
	rate := 0.0
	if el := time.Since(m.start).Seconds(); el > 0 {
		rate = float64(m.done) / el
	}
	m.fn(Progress{Phase: m.phase, File: m.file, Done: m.done, Total: m.total, Rate: rate})
}

func (m *meter) line(s string) {
	m.fn(Progress{Phase: m.phase, File: m.file, Done: m.done, Total: m.total, Line: s})
}

// countingWriter reports through a meter and stops when ctx is done.
type countingWriter struct {
	ctx context.Context
	w   io.Writer
	m   *meter
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.m.add(n)
	return n, err //nolint:wrapcheck // errors of the wrapped writer already say what failed
}

type countingReader struct {
	ctx context.Context
	r   io.Reader
	m   *meter
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.m.add(n)
	return n, err //nolint:wrapcheck // io.EOF must pass unchanged
}

// redactor removes secret values from errors and progress lines shown to
// the admin, with envfile's rules (the one redactor of upshift).
type redactor struct{ r *envfile.Redactor }

func newRedactor(secrets ...string) *redactor {
	return &redactor{r: envfile.NewRedactor(secrets...)}
}

func (r *redactor) text(s string) string { return r.r.Redact(s) }

func (r *redactor) err(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := r.text(msg)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

func (r *redactor) progress(fn func(Progress)) func(Progress) {
	if fn == nil {
		return func(Progress) {}
	}
	return func(p Progress) {
		p.Line = r.text(p.Line)
		fn(p)
	}
}

// redactedError keeps the chain (errors.Is works) but prints without secrets.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// hashFile streams a file and returns its size and SHA-256.
func hashFile(ctx context.Context, path string, m *meter) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	var r io.Reader = f
	if m != nil {
		r = &countingReader{ctx: ctx, r: f, m: m}
	}
	n, err := io.CopyBuffer(h, r, make([]byte, 1<<20))
	if err != nil {
		if ctx.Err() != nil {
			return n, "", fmt.Errorf("read %s: %w", path, ctx.Err())
		}
		return n, "", fmt.Errorf("read %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// checkedReader hashes what is read and, at EOF, fails unless the content
// matches the manifest: a file changed after the pre-check is still caught.
type checkedReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	want File
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if errors.Is(err, io.EOF) {
		if c.n != c.want.Size || hex.EncodeToString(c.h.Sum(nil)) != c.want.SHA256 {
			return n, fmt.Errorf("%s changed since it was checked: checksum mismatch", c.want.Path)
		}
	}
	return n, err //nolint:wrapcheck // io.EOF must pass unchanged
}

// openDump opens a database dump as pg_restore reads it.
func (s *Set) openDump(ctx context.Context, d DatabaseEntry, m *meter) (io.Reader, func(), error) {
	f, _ := s.file(d.File)
	if d.Mode == DumpHostZstd {
		return s.openCompressed(ctx, f, m)
	}
	fh, err := os.Open(s.path(f.Path))
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", f.Path, err)
	}
	var r io.Reader = &checkedReader{r: bufio.NewReaderSize(fh, sinkBuffer), h: sha256.New(), want: f}
	if m != nil {
		r = &countingReader{ctx: ctx, r: r, m: m}
	}
	return r, func() { _ = fh.Close() }, nil
}

// openCompressed opens a set file for streaming decompression.
func (s *Set) openCompressed(ctx context.Context, f File, m *meter) (io.Reader, func(), error) {
	fh, err := os.Open(s.path(f.Path))
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", f.Path, err)
	}
	var r io.Reader = &checkedReader{r: bufio.NewReaderSize(fh, sinkBuffer), h: sha256.New(), want: f}
	if m != nil {
		r = &countingReader{ctx: ctx, r: r, m: m}
	}
	dec, err := newDecoder(r)
	if err != nil {
		_ = fh.Close()
		return nil, nil, err
	}
	return dec, func() { dec.Close(); _ = fh.Close() }, nil
}
