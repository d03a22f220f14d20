package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/envfile"
)

// MergeEnvResult is what merge-env did (secrets masked).
type MergeEnvResult struct {
	Merged    string             `json:"merged"`
	Diff      string             `json:"diff"`
	Summary   envfile.Summary    `json:"summary"`
	Conflicts []envfile.Conflict `json:"conflicts"`
	TwoWay    bool               `json:"two_way"`
	Written   bool               `json:"written"`
	Backup    string             `json:"backup,omitempty"`
	Renames   []envfile.Rename   `json:"renames,omitempty"`
	Files     map[string]string  `json:"files"`
}

// MergeEnvRequest is `upshift merge-env`: a three-way merge of Current with
// the new template New (Old: the installed version's template, "" for a
// two-way merge), conflicts decided by Theirs/Ours keys, written only with
// Write (a backup copy first; Yes keeps the admin's values for undecided
// conflicts).
type MergeEnvRequest struct {
	Old, New, Current string
	Renames           []envfile.Rename
	Theirs, Ours      []string
	Write, Yes        bool
}

// InputError is bad input from the command line: a missing file, an
// unknown key. The CLI exits 2.
type InputError struct{ Err error }

func (e InputError) Error() string { return e.Err.Error() }
func (e InputError) Unwrap() error { return e.Err }

// MergeEnv runs a merge-env request. The result is filled even when an
// error says why nothing was written.
func MergeEnv(o MergeEnvRequest, now time.Time) (MergeEnvResult, error) {
	var out MergeEnvResult
	if o.New == "" {
		return out, InputError{errors.New("--new is required: the .env.example of the version you upgrade to")}
	}
	if o.Current == "" {
		return out, InputError{errors.New("--current must name your .env")}
	}
	renames := o.Renames
	var base []byte
	var err error
	if o.Old != "" {
		if base, err = readEnvInput(o.Old, "old template"); err != nil {
			return out, err
		}
	}
	theirs, err := readEnvInput(o.New, "new template")
	if err != nil {
		return out, err
	}
	current, err := readEnvInput(o.Current, "current .env")
	if err != nil {
		return out, err
	}
	res, err := envfile.Merge(base, theirs, current, renames)
	if err != nil {
		return out, fmt.Errorf("merge: %w", err)
	}
	for _, d := range []struct {
		keys       []string
		takeTheirs bool
	}{{o.Theirs, true}, {o.Ours, false}} {
		for _, k := range d.keys {
			if err := res.Resolve(k, d.takeTheirs); err != nil {
				return out, InputError{err}
			}
		}
	}
	unresolved := res.Unresolved()
	if o.Write && len(unresolved) > 0 && o.Yes {
		if err := res.ResolveAll(false); err != nil {
			return out, fmt.Errorf("resolve: %w", err)
		}
	}
	out = MergeEnvResult{
		Merged: string(res.Masked()), Diff: res.Diff(current, o.Current),
		Summary: res.Summary, Conflicts: res.Conflicts, TwoWay: res.TwoWay, Renames: renames,
		Files: map[string]string{"old": o.Old, "new": o.New, "current": o.Current},
	}
	if out.Conflicts == nil {
		out.Conflicts = []envfile.Conflict{}
	}
	var writeErr error
	switch {
	case !o.Write:
	case len(res.Unresolved()) > 0:
		writeErr = fmt.Errorf("%d conflict(s) need a decision (%s); nothing was written. Decide each with --theirs KEY or --ours KEY, or add --yes to keep your values",
			len(res.Unresolved()), strings.Join(conflictKeys(res.Unresolved()), ", "))
	case string(res.Merged) == string(current):
		// Nothing to change: leave the file and its timestamp alone.
	default:
		out.Backup, out.Written, writeErr = writeMerged(o.Current, res.Merged, now)
	}
	return out, writeErr
}

func readEnvInput(path, what string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, InputError{fmt.Errorf("%s %s does not exist; check the path", what, path)}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	return data, nil
}

func conflictKeys(cs []envfile.Conflict) []string {
	keys := make([]string, len(cs))
	for i, c := range cs {
		keys[i] = c.Key
	}
	return keys
}

// writeMerged backs up path and replaces it atomically, keeping its mode.
func writeMerged(path string, merged []byte, now time.Time) (string, bool, error) {
	perm := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		perm = st.Mode().Perm()
	}
	bak, err := envfile.Backup(path, now)
	if err != nil {
		return "", false, err
	}
	if err := envfile.WriteAtomic(path, merged, perm); err != nil {
		return bak, false, fmt.Errorf("%w (backup copy: %s)", err, bak)
	}
	return bak, true, nil
}
