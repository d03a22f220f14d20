package upgrade

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// provingBackups is the fake Backups plus a restore proof.
type provingBackups struct {
	*fakeBackups
	image string
	err   error
	calls int
}

var _ restoreProver = (*provingBackups)(nil)

func (b *provingBackups) VerifyRestore(_ context.Context, set *backup.Set, image string, _ func(backup.Progress)) (*backup.RestoreProof, error) {
	b.calls++
	b.image = image
	if b.err != nil {
		return nil, b.err
	}
	return &backup.RestoreProof{Passed: true, Image: image, Tables: 3}, nil
}

func TestProofDecision(t *testing.T) {
	tests := []struct {
		mode ProofMode
		size int64
		run  bool
		why  string
	}{
		{ProofAuto, 40 << 20, true, ""},
		{ProofAuto, 2 << 30, false, "more than 1.0 GiB"},
		{ProofAlways, 2 << 30, true, ""},
		{ProofNever, 1, false, "--restore-proof never"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s-%d", tt.mode, tt.size), func(t *testing.T) {
			run, why := proofDecision(tt.mode, tt.size)
			if run != tt.run || !strings.Contains(why, tt.why) {
				t.Errorf("got %v %q", run, why)
			}
		})
	}
	set := &backup.Set{Manifest: backup.Manifest{Databases: []backup.DatabaseEntry{{DumpBytes: 300 << 20}}}}
	if got := proofSize(0, set); got != 1800<<20 {
		t.Errorf("size estimated from the dump: %d", got)
	}
	if got := proofSize(42, set); got != 42 {
		t.Errorf("detected size: %d", got)
	}
	if m, err := ParseProofMode(""); err != nil || m != ProofAuto {
		t.Errorf("default: %v %v", m, err)
	}
	if _, err := ParseProofMode("sometimes"); err == nil {
		t.Error("sometimes must be refused")
	}
}

func TestProvenBackupStep(t *testing.T) {
	setup := func(t *testing.T, proofErr error) (*fixture, *provingBackups, *provenBackupStep) {
		f := newFixture(t, "upshift-demo", "1.0.0")
		demoMounts(f)
		set := testSet("20261201-1.0.0", "1.0.0")
		set.Manifest.Databases = []backup.DatabaseEntry{{Name: "notes"}}
		set.Manifest.Images = []backup.ServiceImage{{Service: f.env.Start.DB.Service, ID: "sha256:pg"}}
		f.backups.set = set
		pb := &provingBackups{fakeBackups: f.backups, err: proofErr}
		f.env.Backups = pb
		return f, pb, withRestoreProof(&backupStep{env: f.env, hop: "1.1.0"}).(*provenBackupStep)
	}
	t.Run("small database: proven with the DB image", func(t *testing.T) {
		f, pb, s := setup(t, nil)
		if err := s.Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if pb.calls != 1 || pb.image != "sha256:pg" || !strings.Contains(f.sink.text(), "every row count and checksum equal") {
			t.Errorf("calls %d image %q:\n%s", pb.calls, pb.image, f.sink.text())
		}
		if s.Info().ID != "1.1.0/backup" || !strings.Contains(s.Info().Explain, "throw-away PostgreSQL") || !strings.Contains(strings.Join(s.Info().Touches, "\n"), "io.upshift.scratch") {
			t.Errorf("info %+v", s.Info())
		}
	})
	t.Run("a set that does not restore stops the upgrade", func(t *testing.T) {
		f, _, s := setup(t, fmt.Errorf("%w: table x has 0 rows restored, 5 at dump time", backup.ErrRestoreProof))
		wantErr(t, s.Run(context.Background(), f.sink), "not a good restore point", "nothing was stopped", "0 rows restored")
	})
	t.Run("no scratch possible: auto goes on, always stops", func(t *testing.T) {
		f, _, s := setup(t, fmt.Errorf("%w: postgres:15", dockerx.ErrImageMissing))
		if err := s.Run(context.Background(), f.sink); err != nil || !strings.Contains(f.sink.text(), "restore proof not possible") {
			t.Fatalf("auto: %v\n%s", err, f.sink.text())
		}
		f, _, s = setup(t, fmt.Errorf("%w: postgres:15", dockerx.ErrImageMissing))
		SetRestoreProof(f.env, ProofAlways)
		if err := s.Run(context.Background(), f.sink); !errors.Is(err, dockerx.ErrImageMissing) {
			t.Fatalf("always: %v", err)
		}
	})
	t.Run("never and too big skip it", func(t *testing.T) {
		f, pb, s := setup(t, nil)
		SetRestoreProof(f.env, ProofNever)
		if err := s.Run(context.Background(), f.sink); err != nil || pb.calls != 0 {
			t.Fatalf("never: %v %d", err, pb.calls)
		}
		f, pb, s = setup(t, nil)
		f.env.Start.Report.DB.SizeBytes = 5 << 30
		if err := s.Run(context.Background(), f.sink); err != nil || pb.calls != 0 || !strings.Contains(f.sink.text(), "restore proof skipped: the database is 5.0 GiB") {
			t.Fatalf("big: %v %d\n%s", err, pb.calls, f.sink.text())
		}
	})
}
