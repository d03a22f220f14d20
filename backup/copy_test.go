package backup

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// A copy whose restore stopped reading never blocks or fails the dump: the
// file gets every byte, the copy's writes stop at its first failure.
func TestTeeWriterSideFailureKeepsTheDump(t *testing.T) {
	pr, pw := io.Pipe()
	side := &sideCopy{w: pw, done: make(chan struct{})}
	var file bytes.Buffer
	tw := &teeWriter{w: &file, side: side}
	got := make(chan []byte)
	go func() {
		buf := make([]byte, 4)
		n, _ := io.ReadFull(pr, buf)
		_ = pr.CloseWithError(errCopyStopped) // the restore failed after 4 bytes
		got <- buf[:n]
	}()
	for _, chunk := range []string{"abcd", "efgh", "ijkl"} {
		if n, err := tw.Write([]byte(chunk)); err != nil || n != len(chunk) {
			t.Fatalf("write %q: %d %v", chunk, n, err)
		}
	}
	if s := string(<-got); s != "abcd" {
		t.Errorf("the copy read %q", s)
	}
	if file.String() != "abcdefghijkl" || !tw.bad {
		t.Errorf("file %q, side failed %v", file.String(), tw.bad)
	}
}

// A failing file write fails the dump whatever the copy does.
func TestTeeWriterFileFailure(t *testing.T) {
	boom := errors.New("disk full")
	tw := &teeWriter{w: failWriter{boom}}
	if _, err := tw.Write([]byte("x")); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// Complete says every database of the set was copied, and nothing else.
func TestCopyComplete(t *testing.T) {
	s := &Set{Manifest: Manifest{Databases: []DatabaseEntry{{Name: "app"}, {Name: "extra"}}}}
	for _, tt := range []struct {
		c    *Copy
		want bool
	}{
		{nil, false},
		{&Copy{Databases: []string{"app"}}, false},
		{&Copy{Databases: []string{"app", "extra"}}, true},
		{&Copy{Databases: []string{"app", "extra"}, Err: errors.New("x")}, false},
	} {
		if got := tt.c.Complete(s); got != tt.want {
			t.Errorf("%+v: Complete = %v", tt.c, got)
		}
	}
}
