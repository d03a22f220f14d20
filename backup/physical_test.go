package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

func TestSlotName(t *testing.T) {
	for id, want := range map[string]string{
		"20261122-081500-2.0.0":   "upshift_20261122_081500_2_0_0",
		"20261122-081500-v1.2-RC": "upshift_20261122_081500_v1_2_rc",
		strings.Repeat("a", 80):   "upshift_" + strings.Repeat("a", 55),
	} {
		if got := SlotName(id); got != want {
			t.Errorf("SlotName(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestSegmentRange(t *testing.T) {
	const seg = 16 << 20
	got, err := segmentRange("0000000100000000000000FE", "000000010000000100000001", seg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0000000100000000000000FE", "0000000100000000000000FF", "000000010000000100000000", "000000010000000100000001"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range [][2]string{
		{"000000010000000000000005", "000000010000000000000004"}, // backwards
		{"000000010000000000000005", "000000020000000000000006"}, // another timeline
		{"00000001000000000000005", "000000010000000000000006"},  // not a name
	} {
		if _, err := segmentRange(bad[0], bad[1], seg); err == nil {
			t.Errorf("segmentRange(%s, %s) gave no error", bad[0], bad[1])
		}
	}
}

func TestDataMount(t *testing.T) {
	c := dockerx.Container{Mounts: []dockerx.Mount{
		{Type: "volume", Name: "other", Destination: "/var/lib"},
		{Type: "volume", Name: "pg", Destination: "/var/lib/postgresql/data"},
	}}
	m, rel, ok := dataMount(c, "/var/lib/postgresql/data/pgdata")
	if !ok || m.Name != "pg" || rel != "/pgdata" {
		t.Fatalf("got %+v %q %v", m, rel, ok)
	}
	if _, rel, ok := dataMount(c, "/var/lib/postgresql/data"); !ok || rel != "" {
		t.Fatalf("the mount itself: %q %v", rel, ok)
	}
	if _, _, ok := dataMount(c, "/srv/pg"); ok {
		t.Fatal("a data directory outside every mount was found")
	}
}

// TestDataDirStream: the stream copied into the emptied data directory is
// the base backup with the recovery settings appended to
// postgresql.auto.conf, no stale signal file, recovery.signal, and the WAL
// under pg_wal owned by the data directory's owner.
func TestDataDirStream(t *testing.T) {
	dir := t.TempDir()
	s := &Set{ID: "x", Dir: dir}
	writeTar := func(name string, entries map[string]string, order []string) File {
		out, err := createCompressed(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		tw := tar.NewWriter(out)
		for _, n := range order {
			body := entries[n]
			if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o600, Size: int64(len(body)), Uid: 70, Gid: 70, Typeflag: tar.TypeReg}); err != nil {
				t.Fatal(err)
			}
			_, _ = tw.Write([]byte(body))
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := out.finish(name, KindBase)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	base := writeTar(baseFile, map[string]string{"PG_VERSION": "15\n", "postgresql.auto.conf": "work_mem = '8MB'\n", "standby.signal": ""}, []string{"PG_VERSION", "postgresql.auto.conf", "standby.signal"})
	wal := writeTar(walFile, map[string]string{"000000010000000000000003": "wal"}, []string{"000000010000000000000003"})
	p := &PhysicalEntry{StopLSN: "0/3000100", Owner: "999:998"}
	var buf bytes.Buffer
	if err := s.dataDirStream(context.Background(), &buf, p, base, wal, newMeter(func(Progress) {}, "t", "", 0)); err != nil {
		t.Fatal(err)
	}
	_, got, owner := tarEntries(t, &buf)
	if _, ok := got["standby.signal"]; ok {
		t.Error("standby.signal was kept")
	}
	if _, ok := got["recovery.signal"]; !ok {
		t.Error("no recovery.signal")
	}
	conf := got["postgresql.auto.conf"]
	for _, want := range []string{"work_mem = '8MB'", "recovery_target_lsn = '0/3000100'", "recovery_target_action = 'promote'", "recovery_target_inclusive = true"} {
		if !strings.Contains(conf, want) {
			t.Errorf("postgresql.auto.conf lacks %q:\n%s", want, conf)
		}
	}
	if got["pg_wal/000000010000000000000003"] != "wal" || owner["pg_wal/000000010000000000000003"] != 999*1000+998 {
		t.Errorf("WAL entry: %q owner %d", got["pg_wal/000000010000000000000003"], owner["pg_wal/000000010000000000000003"])
	}
	// A damaged base backup is caught by its checksum while streaming.
	if err := os.WriteFile(filepath.Join(dir, baseFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.dataDirStream(context.Background(), io.Discard, p, base, wal, newMeter(func(Progress) {}, "t", "", 0)); err == nil {
		t.Error("a damaged base backup streamed without an error")
	}
}
