package backup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/seed-e7a9fb3b/upshift/pg"
)

// psqlSession is one psql process kept open on stdin/stdout, so that a
// transaction (and the snapshot it exported) outlives a single command. It
// runs wherever pgRunner runs its tools: in the DB container through exec,
// or on the host.
type psqlSession struct {
	in    *io.PipeWriter
	lines chan string
	n     int

	done   chan struct{}
	code   int
	stderr string
	err    error
}

func (r pgRunner) openSession(ctx context.Context, database string) *psqlSession {
	cmd := r.args("psql", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--set", "ON_ERROR_STOP=1", "--dbname", database)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &psqlSession{in: inW, lines: make(chan string, 256), done: make(chan struct{})}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		_ = outR.CloseWithError(errStopped) // keep the writer from blocking
	}()
	go func() {
		defer close(s.done)
		s.code, s.stderr, s.err = r.run(ctx, cmd, inR, outW, nil)
		_ = outW.Close()
		_ = inR.CloseWithError(errStopped) // a write after psql died fails instead of blocking
	}()
	return s
}

// query sends one statement and returns its output lines.
func (s *psqlSession) query(sql string) ([]string, error) {
	s.n++
	marker := "__upshift_end_" + strconv.Itoa(s.n) + "__"
	if _, err := io.WriteString(s.in, sql+";\n\\echo "+marker+"\n"); err != nil {
		return nil, s.failure(err)
	}
	var out []string
	for l := range s.lines {
		if l == marker {
			return out, nil
		}
		out = append(out, l)
	}
	return nil, s.failure(errors.New("psql ended early"))
}

func (s *psqlSession) failure(cause error) error {
	_ = s.in.Close()
	<-s.done
	switch {
	case s.err != nil:
		return s.err
	case s.code != 0:
		return fmt.Errorf("psql exited with %d: %s", s.code, lastLine(s.stderr))
	default:
		return fmt.Errorf("psql: %w", cause)
	}
}

// close commits (the transaction was read-only) and waits for psql to end.
func (s *psqlSession) close() error {
	_, _ = io.WriteString(s.in, "COMMIT;\n")
	_ = s.in.Close()
	for range s.lines { //nolint:revive // drain, so the output copy never blocks
	}
	<-s.done
	if s.err != nil {
		return s.err
	}
	if s.code != 0 {
		return fmt.Errorf("psql exited with %d: %s", s.code, lastLine(s.stderr))
	}
	return nil
}

// tableSums fingerprints every user table through the session, with the
// SQL of pg.TableChecksums, so both give equal sums for equal rows. algo is
// the recorded sums' algorithm when comparing with them (pg.AlgoOf), or
// pg.SumAuto when recording.
func (s *psqlSession) tableSums(algo pg.SumAlgo) (map[string]TableSum, error) {
	// The text form of timestamptz, float, interval and bytea depends on the
	// session (role and database defaults differ between the live server and
	// the scratch one): fix it exactly as pg.Connect does.
	// row_security off as pg_dump sets it: a policy hiding rows from the
	// app's role makes the sums fail (and are then not recorded) instead of
	// silently describing fewer rows than the dump holds.
	if _, err := s.query(pg.ChecksumSettingsSQL() + "; SET row_security = off"); err != nil {
		return nil, fmt.Errorf("fix the session's text settings: %w", err)
	}
	if algo == pg.SumAuto {
		v, err := s.query("SHOW server_version_num")
		if err != nil || len(v) != 1 {
			return nil, fmt.Errorf("server version: %w", err)
		}
		num, err := strconv.Atoi(strings.TrimSpace(v[0]))
		if err != nil {
			return nil, fmt.Errorf("server version %q: %w", v[0], err)
		}
		algo = pg.AlgoFor(num)
	}
	tables, err := s.query(pg.TablesQuery())
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	out := make(map[string]TableSum, len(tables))
	for _, t := range tables {
		if t == "" {
			continue
		}
		rows, err := s.query(pg.TableSumQuery(t, algo))
		if err != nil {
			return nil, fmt.Errorf("checksum table %s: %w", t, err)
		}
		if len(rows) != 1 {
			return nil, fmt.Errorf("checksum table %s: %d rows of output, want 1", t, len(rows))
		}
		name, sum, err := pg.ParseTableSumRow(rows[0])
		if err != nil {
			return nil, err
		}
		out[name] = TableSum{Rows: sum.Rows, MD5: sum.MD5}
	}
	return out, nil
}

// snapshotDump holds a REPEATABLE READ transaction open on database, exports
// its snapshot, runs dump with that snapshot and fingerprints every table in
// the same transaction meanwhile: the sums describe exactly the rows the dump
// holds, even while writers keep writing. When no snapshot can be exported
// (a server or role that refuses it), the dump runs on its own and sums is
// nil with a note saying why.
func snapshotDump(ctx context.Context, r pgRunner, database string, dump func(snapshot string) error) (sums map[string]TableSum, note string, err error) {
	// Its own context: when the dump fails, the checksums still running are
	// abandoned instead of waited for.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess := r.openSession(sctx, database)
	snap, serr := sess.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot()")
	if serr != nil || len(snap) != 1 || strings.TrimSpace(snap[0]) == "" {
		_ = sess.close()
		if serr == nil {
			serr = fmt.Errorf("pg_export_snapshot returned %q", snap)
		}
		return nil, "no table checksums recorded: exporting a snapshot failed: " + serr.Error(), dump("")
	}
	var wg sync.WaitGroup
	var sumErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		sums, sumErr = sess.tableSums(pg.SumAuto)
	}()
	dumpErr := dump(strings.TrimSpace(snap[0]))
	if dumpErr != nil {
		cancel()
	}
	wg.Wait()
	closeErr := sess.close()
	if dumpErr != nil {
		return nil, "", dumpErr
	}
	if ctx.Err() != nil {
		return nil, "", ctx.Err()
	}
	if sumErr != nil || closeErr != nil {
		return nil, "no table checksums recorded: " + errors.Join(sumErr, closeErr).Error(), nil
	}
	return sums, "", nil
}
