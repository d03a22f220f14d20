package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// ErrRestoreProof means a set's dumps did not restore, or restored to other
// rows than the dump recorded. The live stack was not touched.
var ErrRestoreProof = errors.New("restore proof failed")

// ErrNoScratch means no scratch PostgreSQL could run (no or a wrong image,
// a full disk): it says nothing about the set.
var ErrNoScratch = errors.New("no scratch PostgreSQL could run")

// RestoreProof is the outcome of the last restore of a set into a scratch
// server (Set.VerifyRestore).
type RestoreProof struct {
	At      time.Time `json:"at"`
	Seconds float64   `json:"seconds"`
	Image   string    `json:"image"`
	Passed  bool      `json:"passed"`
	Tables  int       `json:"tables"` // tables whose count and checksum were compared
	// Unchecked names the databases restored without a comparison, because
	// the set recorded no table checksums (made before upshift did).
	Unchecked []string `json:"unchecked,omitempty"`
	Problem   string   `json:"problem,omitempty"`
}

// Summary is one line for the admin.
func (p *RestoreProof) Summary() string {
	if !p.Passed {
		return "restore proof failed: " + p.Problem
	}
	s := fmt.Sprintf("restored into a scratch PostgreSQL (%s) in %.1fs", short(p.Image), p.Seconds)
	if p.Tables > 0 {
		s += fmt.Sprintf("; %d tables, every row count and checksum equal to the dump's", p.Tables)
	}
	if len(p.Unchecked) > 0 {
		s += fmt.Sprintf("; database %s restored but its rows not compared: the set recorded no table checksums (made before upshift recorded them)", strings.Join(p.Unchecked, ", "))
	}
	return s
}

// scratchUser is the superuser of a scratch server; dumps are restored
// --no-owner, so the app's roles need not exist there.
const scratchUser = "postgres"

// readyTimeout bounds how long a fresh scratch server may take to accept
// connections (initdb included).
const scratchReady = 90 * time.Second

// VerifyRestore restores every dump of the set into a throw-away PostgreSQL
// container from image (the DB container's own image, so the same major and
// extensions) and compares each table's row count and checksum with what
// the dump recorded. It never touches the live stack: the scratch server has
// its own volume and an internal network, and is removed on every path. The
// outcome is recorded in the manifest (RestoreProof, Verified).
func (s *Set) VerifyRestore(ctx context.Context, eng *dockerx.Engine, image string, progress func(Progress)) (*RestoreProof, error) {
	proof, _, err := s.VerifyRestoreKeep(ctx, eng, image, ScratchOptions{}, progress)
	return proof, err
}

// ScratchOptions say what a restore proof leaves for a rehearsal.
type ScratchOptions struct {
	// Keep leaves the scratch server running after a passed proof and
	// returns it; the caller removes it (ScratchDB.Remove) on every path.
	Keep bool
	// Aliases are the server's extra names on its network (the app's DB
	// service name).
	Aliases []string
}

// VerifyRestoreKeep is VerifyRestore that, with opt.Keep, hands over the
// scratch server holding the restored set (nil when the proof failed).
func (s *Set) VerifyRestoreKeep(ctx context.Context, eng *dockerx.Engine, image string, opt ScratchOptions, progress func(Progress)) (*RestoreProof, *ScratchDB, error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	start := time.Now()
	proof := &RestoreProof{At: start.UTC(), Image: image}
	db, err := s.verifyRestore(ctx, eng, image, opt, proof, progress)
	if ctx.Err() != nil {
		if db != nil {
			_ = db.Remove(ctx)
		}
		return nil, nil, err // an interrupted proof says nothing about the set
	}
	proof.Seconds = time.Since(start).Seconds()
	proof.Passed = err == nil
	if err != nil {
		proof.Problem = err.Error()
	}
	s.Manifest.RestoreProof = proof
	// Only what the proof says about the set changes Verified: no image or
	// no disk space for the scratch server says nothing about the dump.
	if proof.Passed || errors.Is(err, ErrRestoreProof) || errors.Is(err, ErrCorrupt) {
		s.Manifest.Verified = proof.Passed
		s.Manifest.VerifiedAt = time.Now().UTC()
	}
	if serr := s.saveManifest(); serr != nil && err == nil {
		err = serr
	}
	if err != nil && db != nil {
		_ = db.Remove(ctx)
		db = nil
	}
	return proof, db, err
}

func (s *Set) verifyRestore(ctx context.Context, eng *dockerx.Engine, image string, opt ScratchOptions, proof *RestoreProof, progress func(Progress)) (_ *ScratchDB, err error) {
	s.intact = false
	if err := s.CheckFiles(ctx, progress); err != nil {
		return nil, err
	}
	if len(s.Manifest.Databases) == 0 && s.Manifest.Physical != nil {
		return nil, s.provePhysical(ctx, eng, proof, progress)
	}
	if len(s.Manifest.Databases) == 0 {
		return nil, fmt.Errorf("%w: %s has no PostgreSQL dump to restore", ErrRestoreProof, s.ID)
	}
	db, err := startScratchDB(ctx, eng, image, "restore-proof", opt.Aliases)
	if err != nil {
		return nil, err
	}
	r := db.r
	defer func() {
		if err != nil || !opt.Keep {
			_ = db.Remove(ctx)
		}
	}()
	var problems []string
	for _, d := range s.Manifest.Databases {
		got, err := s.restoreIntoScratch(ctx, r, d, progress)
		if err != nil {
			return nil, err
		}
		db.Databases = append(db.Databases, d.Name)
		if d.Tables == nil {
			proof.Unchecked = append(proof.Unchecked, d.Name)
			continue
		}
		proof.Tables += len(d.Tables)
		problems = append(problems, compareTables(d.Name, d.Tables, got)...)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s: the dump does not restore to the rows it recorded: %s. The set is not a good restore point; the live stack was not touched. Fix: make a new backup (upshift backup)",
			ErrRestoreProof, s.ID, strings.Join(problems, "; "))
	}
	if !opt.Keep {
		return nil, nil
	}
	return db, nil
}

func (s *Set) restoreIntoScratch(ctx context.Context, r pgRunner, d DatabaseEntry, progress func(Progress)) (map[string]TableSum, error) {
	f, _ := s.file(d.File)
	m := newMeter(progress, "restore-proof", f.Path, f.Size)
	dump, closeDump, err := s.openDump(ctx, d, m)
	if err != nil {
		return nil, err
	}
	code, stderr, err := r.pipe(ctx, r.args("pg_restore", scratchRestoreArgs(d.Name)...), dump, nil, m.line)
	closeDump()
	if err == nil && code != 0 {
		err = fmt.Errorf("pg_restore exited with %d: %s", code, lastLine(stderr))
	}
	if err != nil {
		if outOfSpace(stderr) {
			return nil, fmt.Errorf("%w: it ran out of disk space restoring database %s: %s. Nothing of the live stack was touched. Fix: free space where Docker keeps its volumes (docker info: Docker Root Dir), or skip the restore proof", ErrNoScratch, d.Name, lastLine(stderr))
		}
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s: the dump of database %s does not restore: %w. The live stack was not touched", ErrRestoreProof, s.ID, d.Name, err)
	}
	m.emit()
	sess := r.openSession(ctx, d.Name)
	got, err := sess.tableSums(sumAlgo(d.Tables))
	if cerr := sess.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("checksum the restored database %s: %w", d.Name, err)
	}
	return got, nil
}

// scratchRestoreArgs restore database name into a scratch server as its
// superuser: --create recreates the database with its recorded encoding
// and locale; "postgres" exists already and is restored into.
func scratchRestoreArgs(name string) []string {
	args := []string{"--no-owner", "--no-acl", "--exit-on-error"}
	if name == scratchUser {
		return append(args, "--dbname", name)
	}
	return append(args, "--create", "--dbname", scratchUser)
}

// startScratchDB starts an empty scratch server from image, ready for
// connections; its superuser has a random password. The caller removes it.
func startScratchDB(ctx context.Context, eng *dockerx.Engine, image, purpose string, aliases []string) (*ScratchDB, error) {
	if image == "" {
		return nil, fmt.Errorf("%w: %w: no PostgreSQL image is known to run it from (the database container is gone and the set records none)", ErrNoScratch, dockerx.ErrImageMissing)
	}
	img, ok, err := eng.ImageInspect(ctx, image)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %w: %s, so no scratch server can run. Nothing was changed. Fix: docker pull or build it", ErrNoScratch, dockerx.ErrImageMissing, image)
	}
	// Leftovers of a killed run (never another upshift's live server).
	_ = eng.CleanupScratch(ctx)
	pw := randomHex(16)
	sc, err := eng.StartScratch(ctx, dockerx.ScratchSpec{
		Image: img.ID, Purpose: purpose, DataDir: imagePGDATA(img.Env), Aliases: aliases,
		// The official image's variables, and Bitnami's for its superuser.
		Env: []string{
			"POSTGRES_USER=" + scratchUser, "POSTGRES_PASSWORD=" + pw, "POSTGRES_DB=" + scratchUser,
			"POSTGRESQL_POSTGRES_PASSWORD=" + pw, "POSTGRESQL_PASSWORD=" + pw,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoScratch, err)
	}
	// The internal network has no route from the host on every engine, so
	// the tools run inside the scratch container over its own loopback.
	r := pgRunner{eng: eng, db: DBSource{Container: sc.ID, User: scratchUser, Password: pw, Database: scratchUser, Host: "127.0.0.1"}}
	db := &ScratchDB{Scratch: sc, Image: img.ID, r: r}
	if err := waitReady(ctx, eng, r); err != nil {
		_ = db.Remove(ctx)
		return nil, err
	}
	return db, nil
}

// waitReady polls until the scratch server accepts a TCP connection (the
// image's init phase listens on the socket only), or fails with its log.
func waitReady(ctx context.Context, eng *dockerx.Engine, r pgRunner) error {
	deadline := time.Now().Add(scratchReady)
	var last error
	for time.Now().Before(deadline) {
		_, err := r.psql(ctx, scratchUser, "SELECT 1")
		if err == nil {
			return nil
		}
		if notInImage(err.Error()) {
			return fmt.Errorf("%w: its image has no psql, so it is not a PostgreSQL image: %v. Nothing was changed", ErrNoScratch, err)
		}
		last = err
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c, err := eng.Inspect(ctx, r.db.Container)
		if err == nil && c.State != "running" {
			return fmt.Errorf("%w: it exited (%d) before it accepted connections (is the image a PostgreSQL image?): %s", ErrNoScratch, c.ExitCode, scratchLog(ctx, eng, r.db.Container))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return fmt.Errorf("%w: it did not accept connections within %s: %v; its log: %s", ErrNoScratch, scratchReady, last, scratchLog(ctx, eng, r.db.Container))
}

func scratchLog(ctx context.Context, eng *dockerx.Engine, id string) string {
	var lines []string
	_ = eng.Logs(ctx, id, false, time.Time{}, func(l string) {
		lines = append(lines, l)
		if len(lines) > 5 {
			lines = lines[1:]
		}
	})
	s := strings.Join(lines, " / ")
	if outOfSpace(s) {
		s += ". Fix: free space where Docker keeps its volumes (docker info: Docker Root Dir)"
	}
	return s
}

// notInImage says whether exec failed because the tool is not in the image.
func notInImage(msg string) bool {
	return strings.Contains(msg, "executable file not found") || strings.Contains(msg, "exited with 126") || strings.Contains(msg, "exited with 127")
}

// outOfSpace says whether PostgreSQL's or Docker's message is about a full disk.
func outOfSpace(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "no space left on device") || strings.Contains(m, "could not extend file")
}

// compareTables lists every difference between the sums recorded at dump
// time and those of the restore, in a stable order.
func compareTables(db string, want, got map[string]TableSum) []string {
	names := make([]string, 0, len(want)+len(got))
	for t := range want {
		names = append(names, t)
	}
	for t := range got {
		if _, ok := want[t]; !ok {
			names = append(names, t)
		}
	}
	sort.Strings(names)
	var out []string
	for _, t := range names {
		w, inWant := want[t]
		g, inGot := got[t]
		switch {
		case !inGot:
			out = append(out, fmt.Sprintf("database %s: table %s (%d rows at dump time) is missing from the restore", db, t, w.Rows))
		case !inWant:
			out = append(out, fmt.Sprintf("database %s: table %s was restored but not recorded at dump time", db, t))
		case w.Rows != g.Rows:
			out = append(out, fmt.Sprintf("database %s: table %s has %d rows restored, %d at dump time", db, t, g.Rows, w.Rows))
		case w.MD5 != g.MD5:
			out = append(out, fmt.Sprintf("database %s: table %s has its %d rows but other contents than at dump time (checksum %s, recorded %s)", db, t, g.Rows, short(g.MD5), short(w.MD5)))
		}
	}
	return out
}

func short(s string) string {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) > 12 && !strings.ContainsAny(s, ":/") {
		return s[:12]
	}
	return s
}

// imagePGDATA is the data directory the image's entrypoint initialises.
func imagePGDATA(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PGDATA="); ok && v != "" {
			return v
		}
	}
	return "/var/lib/postgresql/data"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
