package steps

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Agreement is a new MD5 the admin agreed to for a consent document (a
// changed EULA); journaled so that a resumed run still writes it.
type Agreement struct {
	Key string `json:"key"`
	Old string `json:"old"`
	New string `json:"new"`
}

// RunInfo heads a journal: what the run was asked to do.
type RunInfo struct {
	ID        string    `json:"id"`
	Project   string    `json:"project"`
	Dir       string    `json:"dir"`
	Profile   string    `json:"profile"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Hops      []string  `json:"hops"`
	Started   time.Time `json:"started"`
	PID       int       `json:"pid"`
	Upshift   string    `json:"upshift"`
	BackupDir string    `json:"backup_dir"`
	// Kind is what the run does: upgrade (default), restore or backup.
	Kind string `json:"kind,omitempty"`
	// Set is the backup set a restore run puts back.
	Set string `json:"set,omitempty"`
	// PostgresImage and PostgresMajor are the run's --postgres-image and
	// --postgres-major: a resume computes the same path, its PostgreSQL
	// hop included, without being told them again.
	PostgresImage string `json:"postgres_image,omitempty"`
	PostgresMajor int    `json:"postgres_major,omitempty"`
	// RollbackTo is the run's --rollback-to (last-good or start), which
	// its resume keeps unless told otherwise; so are the other choices of
	// the run: --backup-after-stop, --no-rehearsal, and the offline
	// --templates and --env-templates directories.
	RollbackTo      string `json:"rollback_to,omitempty"`
	BackupAfterStop bool   `json:"backup_after_stop,omitempty"`
	NoRehearsal     bool   `json:"no_rehearsal,omitempty"`
	Templates       string `json:"templates,omitempty"`
	EnvTemplates    string `json:"env_templates,omitempty"`
	// DBHop is the run's PostgreSQL major hop as planned: once it is done
	// the server runs the new major, and a path computed again has no such
	// hop; a resume puts it back from here.
	DBHop *DBHop `json:"db_hop,omitempty"`
}

// DBHop is a journaled PostgreSQL major hop, before app hop Before.
type DBHop struct {
	Before    string `json:"before"`
	Engine    string `json:"engine,omitempty"`
	From      string `json:"from,omitempty"`
	FromMajor int    `json:"from_major"`
	ToMajor   int    `json:"to_major"`
	Image     string `json:"image"`
}

// Kinds of run.
const (
	KindUpgrade = "upgrade"
	KindRestore = "restore"
	KindBackup  = "backup"
	// KindRehearse is `upshift rehearse`: scratch copies only, nothing of
	// the stack changes, so there is nothing to resume.
	KindRehearse = "rehearse"
)

// Record is one line of a journal.
type Record struct {
	Run    *RunInfo `json:"run,omitempty"`
	Event  *Event   `json:"event,omitempty"`
	Backup string   `json:"backup,omitempty"` // a restore point was created
	// XID is the next transaction ID when that restore point's dump
	// started: a resumed run counts the writes the point lacks from it.
	XID  int64  `json:"xid,omitempty"`
	Note string `json:"note,omitempty"`
	// Agreed is a consent the admin gave (a changed EULA's new MD5).
	Agreed *Agreement `json:"agreed,omitempty"`
}

// Journal appends records to a file, fsyncing each, so a killed process
// leaves an exact account of where things stand.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	Path string
	err  error
}

// RunsDir is where journals live inside a backup dir.
func RunsDir(backupDir string) string { return filepath.Join(backupDir, "runs") }

// NewJournal creates the journal of a new run.
func NewJournal(backupDir string, info RunInfo) (*Journal, error) {
	dir := RunsDir(backupDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create journal dir %s: %w", dir, err)
	}
	p := filepath.Join(dir, info.ID+".jsonl")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal %s: %w", p, err)
	}
	j := &Journal{f: f, Path: p}
	j.append(Record{Run: &info})
	return j, j.err
}

// OpenJournal reopens an existing journal for appending (resume).
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	return &Journal{f: f, Path: path}, nil
}

func (j *Journal) append(r Record) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return
	}
	b, err := json.Marshal(r)
	if err != nil {
		j.err = err
		return
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		j.err = err
		return
	}
	if err := j.f.Sync(); err != nil {
		j.err = err
	}
}

// Event journals an event. Log lines are not journaled (they are in the
// --log-file and in the containers' logs); everything else is.
func (j *Journal) Event(ev Event) {
	if j == nil || ev.Kind == EventLog || ev.Kind == EventProgress {
		return
	}
	j.append(Record{Event: &ev})
}

// BackupCreated journals a restore point.
func (j *Journal) BackupCreated(id string, xid int64) {
	if j != nil {
		j.append(Record{Backup: id, XID: xid})
	}
}

// Agreed journals a consent, so that a resumed run still writes it.
func (j *Journal) Agreed(a Agreement) {
	if j != nil {
		j.append(Record{Agreed: &a})
	}
}

// Note journals a free-text remark.
func (j *Journal) Note(s string) {
	if j != nil {
		j.append(Record{Note: s})
	}
}

// Err returns the first write error (a journal that cannot be written makes
// resume impossible, so callers surface it).
func (j *Journal) Err() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Close closes the file.
func (j *Journal) Close() error {
	if j == nil || j.f == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.f.Close()
	j.f = nil
	if err != nil {
		return fmt.Errorf("close journal: %w", err)
	}
	return nil
}

// RunState is what a journal says about a run.
type RunState struct {
	Info        RunInfo
	Path        string
	Backups     []string // restore points, oldest first
	Started     []string // step IDs started, in order
	Finished    map[string]string
	Failed      string // step that failed (or was interrupted)
	Result      *Result
	Interrupted bool // no EventDone: the process died mid-run
	LastStep    string
	Agreements  []Agreement // consents given during the run
	// RollingBack: the run had started its rollback (the stack may be
	// half-restored); only finishing the rollback is safe.
	RollingBack bool
	// XIDs are the transaction IDs at which restore points' dumps started.
	XIDs map[string]int64
}

// ReadJournal parses a journal file. A torn last line (kill -9 mid-write)
// is ignored.
func ReadJournal(path string) (*RunState, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer func() { _ = f.Close() }()
	st := &RunState{Path: path, Finished: map[string]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	sawRun := false
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue
		}
		switch {
		case r.Run != nil:
			st.Info = *r.Run
			sawRun = true
		case r.Backup != "":
			st.Backups = append(st.Backups, r.Backup)
			if r.XID > 0 {
				if st.XIDs == nil {
					st.XIDs = map[string]int64{}
				}
				st.XIDs[r.Backup] = r.XID
			}
		case r.Agreed != nil:
			st.Agreements = append(st.Agreements, *r.Agreed)
		case r.Event != nil:
			ev := r.Event
			switch ev.Kind {
			case EventStepStarted:
				st.Started = append(st.Started, ev.Step)
				st.LastStep = ev.Step
			case EventStepFinished:
				st.Finished[ev.Step] = ev.Status
				if ev.Status == StatusFailed && st.Failed == "" {
					st.Failed = ev.Step
				}
			case EventRollingBack:
				st.RollingBack = true
			case EventDone:
				st.Result = ev.Result
			default:
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	if !sawRun {
		return nil, fmt.Errorf("%s is not an upshift journal", path)
	}
	st.Interrupted = st.Result == nil
	if st.Interrupted && st.Failed == "" && st.LastStep != "" && st.Finished[st.LastStep] == "" {
		st.Failed = st.LastStep
	}
	return st, nil
}

// History lists the runs journaled in a backup dir, newest first.
func History(backupDir string) ([]*RunState, error) {
	entries, err := os.ReadDir(RunsDir(backupDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var out []*RunState
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".jsonl") {
			continue
		}
		st, err := ReadJournal(filepath.Join(RunsDir(backupDir), e.Name()))
		if err != nil {
			continue
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info.Started.After(out[j].Info.Started) })
	return out, nil
}

// Lock keeps two upshift runs off the same project. It is a kernel lock
// (flock) on a file in the backup dir: a process that dies, however it
// dies, releases it, so there is no stale lock to take over and no race in
// taking one over. The file names the holder for the message others get.
type Lock struct{ f *os.File }

// ErrLocked means another upshift holds the lock.
var ErrLocked = errors.New("another upshift is running on this project")

// LockPath is the lock file of a backup dir.
func LockPath(backupDir string) string { return filepath.Join(backupDir, "upshift.lock") }

// AcquireLock takes the project's lock in backupDir, or says who holds it.
func AcquireLock(backupDir, what string) (*Lock, error) {
	if err := os.MkdirAll(backupDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", backupDir, err)
	}
	p := LockPath(backupDir)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", p, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		holder := LockHolder(backupDir)
		return nil, fmt.Errorf("%w (%s). Nothing was changed. Wait for it to finish (upshift status), or stop that process", ErrLocked, holder)
	}
	werr := f.Truncate(0)
	if werr == nil {
		_, werr = f.WriteAt([]byte(fmt.Sprintf("%d\n%s\n%s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339), what)), 0)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if werr != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write lock %s: %w", p, werr)
	}
	return &Lock{f: f}, nil
}

// LockHolder describes who holds the lock of backupDir ("pid 42 since …:
// upshift upgrade …"), from the lock file.
func LockHolder(backupDir string) string {
	b, _ := os.ReadFile(LockPath(backupDir))
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", 3)
	if len(lines) < 3 {
		return "holder unknown"
	}
	return fmt.Sprintf("pid %s, since %s: %s", lines[0], lines[1], lines[2])
}

// Locked reports whether a process holds the lock of backupDir now.
func Locked(backupDir string) bool {
	f, err := os.Open(LockPath(backupDir))
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// Release lets the lock go. The file stays: removing it would let a
// process that opened it before the removal lock a file nobody else sees.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
