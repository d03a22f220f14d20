package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPhysicalScratchProblem(t *testing.T) {
	live := DBSource{Container: "db1", User: "app", Database: "app"}
	ok := &PhysicalEntry{ServerVersionNum: 150004, DataDir: "/var/lib/postgresql/data"}
	sealed := *ok
	sealed.WALFile, sealed.StopLSN = walFile, "0/3000100"
	old := *ok
	old.ServerVersionNum = 110022
	noDir := *ok
	noDir.DataDir = "data"
	for _, tt := range []struct {
		name string
		p    *PhysicalEntry
		db   DBSource
		want string
	}{
		{"ready", ok, live, ""},
		{"no base backup", nil, live, "no base backup"},
		{"sealed", &sealed, live, "sealed"},
		{"PostgreSQL 11", &old, live, "older than 12"},
		{"no container", ok, DBSource{Host: "db.example", User: "app"}, "does not run in a container"},
		{"scratch-like source", ok, DBSource{Container: "db1", Host: "127.0.0.1"}, "does not run in a container"},
		{"relative data directory", &noDir, live, "no usable data directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := physicalScratchProblem(tt.p, tt.db)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// Every setting the scratch copy recovers with is reset after the promotion.
func TestScratchRecoverySettingsAreReset(t *testing.T) {
	var set []string
	for _, l := range strings.Split(scratchRecoveryConf, "\n") {
		if k, _, ok := strings.Cut(l, " = "); ok && !strings.HasPrefix(l, "#") {
			set = append(set, k)
		}
	}
	var reset []string
	for _, s := range scratchRecoveryReset {
		if k, ok := strings.CutPrefix(s, "ALTER SYSTEM RESET "); ok {
			reset = append(reset, k)
		}
	}
	slices.Sort(set)
	slices.Sort(reset)
	if len(set) == 0 || !slices.Equal(set, reset) {
		t.Errorf("set %v, reset %v", set, reset)
	}
	if strings.Contains(scratchRecoveryConf, "recovery_target_lsn") || strings.Contains(scratchRecoveryConf, "recovery_target_action") {
		t.Error("a scratch copy recovers to the end of its WAL, not to a target")
	}
}

// The scratch copy's stream: the base backup without its signal files, the
// scratch settings in postgresql.auto.conf (none there: a new one),
// recovery.signal, then the WAL entries last.
func TestRecoveryStreamOfAScratchCopy(t *testing.T) {
	dir := t.TempDir()
	s := &Set{ID: "x", Dir: dir}
	out, err := createCompressed(filepath.Join(dir, baseFile))
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(out)
	for _, n := range []string{"PG_VERSION", "recovery.signal", "global/pg_control"} {
		_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o600, Size: 2, Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte("x\n"))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	base, err := out.finish(baseFile, KindBase)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	p := &PhysicalEntry{Owner: "999:999"}
	err = s.recoveryStream(context.Background(), &buf, p, base, scratchRecoveryConf, newMeter(func(Progress) {}, "t", "", 0), func(tw *tar.Writer) error {
		if err := tw.WriteHeader(&tar.Header{Name: "pg_wal/000000010000000000000002", Mode: 0o600, Size: 3, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write([]byte("wal"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	names, bodies, _ := tarEntries(t, &buf)
	conf := bodies["postgresql.auto.conf"]
	want := []string{"PG_VERSION", "global/pg_control", "postgresql.auto.conf", "recovery.signal", "pg_wal/000000010000000000000002"}
	if !slices.Equal(names, want) {
		t.Errorf("entries %v, want %v", names, want)
	}
	if conf != scratchRecoveryConf {
		t.Errorf("postgresql.auto.conf:\n%s", conf)
	}
}

// tarEntries reads a tar: its entry names in order, their bodies and owners
// (uid*1000+gid).
func tarEntries(t *testing.T, r io.Reader) ([]string, map[string]string, map[string]int) {
	t.Helper()
	tr := tar.NewReader(r)
	var names []string
	bodies, owners := map[string]string{}, map[string]int{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, bodies, owners
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		names = append(names, h.Name)
		bodies[h.Name], owners[h.Name] = string(b), h.Uid*1000+h.Gid
	}
}
