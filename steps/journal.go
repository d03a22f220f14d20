package steps

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
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
}

// Record is one line of a journal.
type Record struct {
	Run    *RunInfo `json:"run,omitempty"`
	Event  *Event   `json:"event,omitempty"`
	Backup string   `json:"backup,omitempty"` // a restore point was created
	Note   string   `json:"note,omitempty"`
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
func (j *Journal) BackupCreated(id string) {
	if j != nil {
		j.append(Record{Backup: id})
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

// Lock keeps two upshift runs off the same project.
type Lock struct{ path string }

// ErrLocked means another upshift holds the lock.
var ErrLocked = errors.New("another upshift is running on this project")

// AcquireLock takes the project's lock in backupDir. A lock left by a
// process that no longer exists is taken over (its journal says what
// happened; `upshift resume` picks it up).
func AcquireLock(backupDir, what string) (*Lock, error) {
	if err := os.MkdirAll(backupDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", backupDir, err)
	}
	p := filepath.Join(backupDir, "upshift.lock")
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			_, werr := fmt.Fprintf(f, "%d\n%s\n%s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339), what)
			serr := f.Sync()
			cerr := f.Close()
			if err := errors.Join(werr, serr, cerr); err != nil {
				_ = os.Remove(p)
				return nil, fmt.Errorf("write lock %s: %w", p, err)
			}
			return &Lock{path: p}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create lock %s: %w", p, err)
		}
		b, _ := os.ReadFile(p)
		lines := strings.SplitN(string(b), "\n", 3)
		pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
		if pid > 0 && processAlive(pid) {
			desc := strings.TrimSpace(strings.Join(lines[1:], " "))
			return nil, fmt.Errorf("%w (pid %d, since %s). Nothing was changed. Wait for it to finish; if you are sure it is gone, remove %s", ErrLocked, pid, desc, p)
		}
		_ = os.Remove(p) // stale: its process is gone
	}
	return nil, fmt.Errorf("%w: could not take %s", ErrLocked, p)
}

// Release removes the lock.
func (l *Lock) Release() {
	if l != nil {
		_ = os.Remove(l.path)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// A killed process its parent has not reaped yet is a zombie: gone.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return false
		}
	}
	return true
}
