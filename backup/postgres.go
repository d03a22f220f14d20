package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

// DBSource is the PostgreSQL server of an app. The PostgreSQL client tools
// run inside Container (so they match the server); when Container is empty
// the host's pg_dump/pg_restore/psql are used against Host:Port.
type DBSource struct {
	Container string
	User      string
	Password  string
	Database  string
	Extra     []string // further databases the profile lists
	Host      string   // without Container; with one, connect over TCP inside it (a scratch server)
	Port      int      // 0 means 5432
}

func (d DBSource) databases() []string {
	out := []string{d.Database}
	for _, e := range d.Extra {
		if e != "" && e != d.Database {
			out = append(out, e)
		}
	}
	return out
}

// pgRunner runs a PostgreSQL client tool, in the DB container or on the host.
type pgRunner struct {
	eng *dockerx.Engine
	db  DBSource
}

func (r pgRunner) env() []string {
	if r.db.Password == "" {
		return nil
	}
	// Never on a command line: exec env is not shown by ps, logs or events.
	return []string{"PGPASSWORD=" + r.db.Password}
}

// args adds the connection options to a tool's command line.
func (r pgRunner) args(tool string, rest ...string) []string {
	a := []string{tool, "--no-password", "--username", r.db.User}
	if r.db.Container == "" || r.db.Host != "" {
		host := r.db.Host
		if host == "" {
			host = "127.0.0.1"
		}
		port := r.db.Port
		if port == 0 {
			port = 5432
		}
		a = append(a, "--host", host, "--port", strconv.Itoa(port))
	}
	return append(a, rest...)
}

// run executes cmd; stdout is streamed, stderr lines go to line. It returns
// the exit code and the tail of stderr.
func (r pgRunner) run(ctx context.Context, cmd []string, stdin io.Reader, stdout io.Writer, line func(string)) (int, string, error) {
	if r.db.Container != "" {
		res, err := r.eng.Exec(ctx, r.db.Container, cmd, r.env(), "", stdin, stdout, line)
		return res.ExitCode, res.Stderr, err
	}
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Env = append(os.Environ(), r.env()...)
	c.Stdin = stdin
	c.Stdout = stdout
	tail := &lineTail{line: line}
	c.Stderr = tail
	// Its own process group: an SSH drop must not kill a restore half-way.
	err := dockerx.StartInGroup(c)
	if err == nil {
		err = c.Wait()
		if err != nil && ctx.Err() != nil {
			dockerx.KillGroup(c)
		}
	}
	tail.flush()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return ee.ExitCode(), tail.String(), nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return -1, tail.String(), fmt.Errorf("%s: %w", cmd[0], ctx.Err())
		}
		return -1, tail.String(), fmt.Errorf("%s on the host: %w", cmd[0], err)
	}
	return 0, tail.String(), nil
}

// lineTail splits stderr into lines and keeps the last few kilobytes.
type lineTail struct {
	mu      sync.Mutex
	line    func(string)
	partial []byte
	tail    []byte
}

func (t *lineTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tail = append(t.tail, p...)
	if len(t.tail) > 4096 {
		t.tail = t.tail[len(t.tail)-4096:]
	}
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		if t.line != nil {
			t.line(string(t.partial[:i]))
		}
		t.partial = t.partial[i+1:]
	}
	return len(p), nil
}

func (t *lineTail) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.partial) > 0 && t.line != nil {
		t.line(string(t.partial))
	}
	t.partial = nil
}

func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.tail))
}

// psql runs SQL statements one by one (each -c is its own transaction, as
// DROP DATABASE needs) and returns the unaligned output.
func (r pgRunner) psql(ctx context.Context, database string, statements ...string) (string, error) {
	args := []string{"--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--set", "ON_ERROR_STOP=1", "--dbname", database}
	for _, s := range statements {
		args = append(args, "--command", s)
	}
	var out bytes.Buffer
	code, stderr, err := r.run(ctx, r.args("psql", args...), nil, &out, nil)
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("psql on database %s exited with %d: %s", database, code, stderr)
	}
	return strings.TrimSpace(out.String()), nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLit(s string) string   { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// maintenanceDB is where to connect while database is dropped and recreated.
func maintenanceDB(database string) string {
	if database == "postgres" {
		return "template1"
	}
	return "postgres"
}

// databaseSizes returns pg_database_size of each database (0 when absent).
func (r pgRunner) databaseSizes(ctx context.Context, names []string) (map[string]int64, error) {
	lits := make([]string, len(names))
	for i, n := range names {
		lits[i] = quoteLit(n)
	}
	out, err := r.psql(ctx, r.db.Database,
		"SELECT datname, pg_database_size(datname) FROM pg_database WHERE datname IN ("+strings.Join(lits, ",")+")")
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	for _, l := range strings.Split(out, "\n") {
		name, size, ok := strings.Cut(l, "|")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64)
		if err == nil {
			sizes[name] = n
		}
	}
	return sizes, nil
}

// setFile is a set file being written.
type setFile interface {
	io.Writer
	finish(name, kind string) (File, error)
	abort()
}

// dumpDatabase streams pg_dump's custom format into path, never holding the
// dump in memory: compressed by pg_dump itself (DumpInContainer) or as
// `pg_dump -Z0` through zstd on the host (DumpHostZstd).
// A non-empty snapshot (from pg_export_snapshot) makes pg_dump read exactly it.
func dumpDatabase(ctx context.Context, r pgRunner, name, mode, snapshot, path string, m *meter, side *sideCopy) (File, int64, error) {
	var out setFile
	var err error
	level := "--compress=1"
	if mode == DumpHostZstd {
		level = "--compress=0"
		out, err = createCompressed(path)
	} else {
		out, err = createSink(path)
	}
	if err != nil {
		return File{}, 0, err
	}
	var w io.Writer = out
	if side != nil {
		w = &teeWriter{w: out, side: side}
	}
	cw := &countingWriter{ctx: ctx, w: w, m: m}
	cmd := r.args("pg_dump", "--format=custom", level, "--dbname", name)
	if snapshot != "" {
		cmd = append(cmd, "--snapshot="+snapshot)
	}
	code, stderr, err := r.run(ctx, cmd, nil, cw, m.line)
	if err == nil && code != 0 {
		err = fmt.Errorf("pg_dump of database %s exited with %d: %s", name, code, lastLine(stderr))
	}
	if err != nil {
		out.abort()
		return File{}, 0, err
	}
	f, err := out.finish(relName(path), KindDatabase)
	m.emit()
	return f, m.done, err
}

// restoreDatabase drops database name (ending every other session) and
// recreates it from the dump with pg_restore --create.
func restoreDatabase(ctx context.Context, r pgRunner, name string, dump io.Reader, m *meter) error {
	maint := maintenanceDB(name)
	verOut, err := r.psql(ctx, maint, "SHOW server_version_num")
	if err != nil {
		return fmt.Errorf("restore database %s: %w", name, err)
	}
	ver, _ := strconv.Atoi(strings.TrimSpace(verOut))
	stmts := []string{
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = " + quoteLit(name) + " AND pid <> pg_backend_pid()",
	}
	if ver >= 130000 {
		stmts = append(stmts, "DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)")
	} else {
		stmts = append(stmts, "DROP DATABASE IF EXISTS "+quoteIdent(name))
	}
	if _, err := r.psql(ctx, maint, stmts...); err != nil {
		return fmt.Errorf("restore database %s: dropping it failed: %w", name, err)
	}
	cmd := r.args("pg_restore", "--create", "--exit-on-error", "--dbname", maint)
	code, stderr, err := r.pipe(ctx, cmd, dump, io.Discard, m.line)
	if err == nil && code != 0 {
		err = fmt.Errorf("pg_restore exited with %d: %s", code, lastLine(stderr))
	}
	if err != nil {
		return fmt.Errorf("restore database %s: %w (the database may now be missing or partial; restore again from this set)", name, err)
	}
	return nil
}

// listDump runs pg_restore --list on a dump and returns the number of TOC entries.
func listDump(ctx context.Context, r pgRunner, dump io.Reader) (int, error) {
	var out bytes.Buffer
	code, stderr, err := r.pipe(ctx, r.args("pg_restore", "--list"), dump, &out, nil)
	if err != nil {
		return 0, err
	}
	if code != 0 {
		return 0, fmt.Errorf("pg_restore --list exited with %d: %s", code, lastLine(stderr))
	}
	n := 0
	for _, l := range strings.Split(out.String(), "\n") {
		if l != "" && !strings.HasPrefix(l, ";") {
			n++
		}
	}
	return n, nil
}

// pipe is run with stdin fed from src by a goroutine that is always finished
// before pipe returns (so the caller may close src afterwards). A tool that
// stops reading early (pg_restore --list reads only the TOC) is not an error.
func (r pgRunner) pipe(ctx context.Context, cmd []string, src io.Reader, stdout io.Writer, line func(string)) (int, string, error) {
	pr, pw := io.Pipe()
	var feedErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, feedErr = io.CopyBuffer(pw, src, make([]byte, 256<<10))
		pw.CloseWithError(feedErr)
	}()
	code, stderr, err := r.run(ctx, cmd, pr, stdout, line)
	_ = pr.CloseWithError(errStopped)
	wg.Wait()
	if feedErr != nil && !errors.Is(feedErr, errStopped) && !errors.Is(feedErr, io.ErrClosedPipe) && ctx.Err() == nil {
		return code, stderr, fmt.Errorf("reading the dump: %w", feedErr)
	}
	return code, stderr, err
}

var errStopped = errors.New("reader stopped")

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
