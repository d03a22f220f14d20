package upgrade

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/seed-e7a9fb3b/upshift/dockerx"

	semver "github.com/seed-e7a9fb3b/upshift/releases/version"

	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

func (s *migrateStep) watchEntrypoint(ctx context.Context, sink steps.Sink) error {
	e := s.env
	m := e.Profile.Migration
	var errRe *regexp.Regexp
	if m.ErrorLog != "" {
		var err error
		if errRe, err = regexp.Compile(m.ErrorLog); err != nil {
			return fmt.Errorf("the profile's error_log: %w", err)
		}
	}
	if m.SuccessLog == "" {
		return s.waitStarted(ctx, sink, errRe)
	}
	okRe, err := regexp.Compile(m.SuccessLog)
	if err != nil {
		return fmt.Errorf("the profile's success_log %q is not a usable regexp", m.SuccessLog)
	}
	known, err := e.knownErrors(s.hop)
	if err != nil {
		return err
	}
	settle, _ := time.ParseDuration(m.Settle) // validated with the profile
	since := time.Now().Add(-time.Second)
	svc := e.migrationService()
	if svc == "" {
		return errors.New("the profile names no migration service and the stack has no app service to start")
	}
	if err := e.Compose.Run(ctx, sink.Log, "up", "--detach", "--no-deps", svc); err != nil {
		return err
	}
	c, err := e.containerOf(ctx, svc)
	if err != nil {
		return err
	}
	w := &logWatch{ok: okRe, bad: errRe, known: known, last: time.Now(), sink: sink, note: e.note, svc: svc, settle: settle}
	err = e.followLog(ctx, c.ID, since, w)
	var d *steps.Doubt
	if errors.As(err, &d) {
		d.Evidence = e.evidence(ctx, svc, s.hop)
	}
	return err
}

// followLog follows a migrating container's log with w until the
// migration is over: nil (success), a *steps.Doubt (an error line, then the
// success line) or an error. The migration and its rehearsal share it.
func (e *Env) followLog(ctx context.Context, containerID string, since time.Time, w *logWatch) error {
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	ended := make(chan error, 1)
	go func() {
		ended <- e.Docker.Logs(lctx, containerID, true, since, w.line)
	}()
	tick := time.NewTicker(watchTick)
	defer tick.Stop()
	watchdog := e.watchdog()
	for {
		select {
		case logErr := <-ended:
			return w.ended(logErr, w.settle, w.svc)
		case <-ctx.Done():
			return fmt.Errorf("no success line (%s) before the timeout: %w", w.ok, ctx.Err())
		case now := <-tick.C:
			if done, err := w.decide(now, w.settle, watchdog, w.svc); done {
				return err
			}
		}
	}
}

// logWatch follows an entrypoint migration's log: the first error line
// (and the rest of its traceback), the success line, and when the last
// line came.
type logWatch struct {
	ok, bad *regexp.Regexp
	known   []profile.KnownError
	sink    steps.Sink
	note    func(string)
	svc     string
	settle  time.Duration

	mu                sync.Mutex
	last              time.Time // the newest line
	lastLine          string
	firstErr, errTail string
	errAt, okAt       time.Time
	knownSeen         map[string]bool
}

func (w *logWatch) line(l string) {
	w.sink.Log(l)
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	w.last, w.lastLine = now, l
	switch {
	case w.bad != nil && w.bad.MatchString(l):
		for _, k := range w.known {
			if regexp.MustCompile(k.Log).MatchString(l) { // validated with the profile
				if w.knownSeen == nil {
					w.knownSeen = map[string]bool{}
				}
				if !w.knownSeen[k.Reason] {
					w.knownSeen[k.Reason] = true
					w.sink.Log("• known upstream issue, not a failure: " + k.Reason)
					w.note("known upstream issue in the migration log: " + k.Reason)
				}
				return
			}
		}
		if w.firstErr == "" {
			w.firstErr, w.errAt = l, now
		} else if errorish.MatchString(l) {
			w.errTail = l // e.g. the last line of a traceback
		}
	case w.firstErr != "" && errorish.MatchString(l):
		w.errTail = l
	case w.ok.MatchString(l) && w.okAt.IsZero():
		w.okAt = now
		if w.settle > 0 {
			w.sink.Log(fmt.Sprintf("… %s started; its log is watched %s more for errors of migrations it runs in the background", w.svc, w.settle))
		}
	}
}

func (w *logWatch) errLine() string {
	if w.errTail != "" && w.errTail != w.firstErr {
		return w.firstErr + " … " + w.errTail
	}
	return w.firstErr
}

// decide says whether the migration is over, and how, at now.
func (w *logWatch) decide(now time.Time, settle, watchdog time.Duration, svc string) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	started := !w.okAt.IsZero()
	switch {
	case w.firstErr != "" && started && now.Sub(later(w.okAt, w.errAt)) >= entrypointErrorGrace:
		// An error, and yet the app started: the admin decides.
		return true, &steps.Doubt{Line: w.errLine()}
	case w.firstErr != "" && !started && now.Sub(w.errAt) >= max(entrypointErrorGrace, survivalWait):
		return true, fmt.Errorf("the migration logged an error: %s", w.errLine())
	case w.firstErr == "" && started && now.Sub(w.okAt) >= settle:
		return true, nil
	case !started && watchdog > 0 && now.Sub(w.last) >= watchdog:
		what := "nothing yet"
		if w.lastLine != "" {
			what = strconv.Quote(w.lastLine)
		}
		return true, fmt.Errorf("no progress for %s: %s logged no new line and no success line (%s); its last line was %s — it is probably waiting for something (a dependency that is down?)", watchdog, svc, w.ok, what)
	}
	return false, nil
}

// ended is the outcome when the container's log ends (it stopped).
func (w *logWatch) ended(logErr error, settle time.Duration, svc string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.firstErr != "" && !w.okAt.IsZero():
		return &steps.Doubt{Line: w.errLine()}
	case w.firstErr != "":
		return fmt.Errorf("the migration logged an error: %s (and %s stopped)", w.errLine(), svc)
	case !w.okAt.IsZero() && settle <= 0:
		return nil // its log ended right after the success line
	case !w.okAt.IsZero():
		return fmt.Errorf("the %s container stopped within %s of its success line", svc, settle)
	case logErr != nil:
		return fmt.Errorf("the log of %s could not be read (%w) before the migration reported success", svc, logErr)
	default:
		return fmt.Errorf("%s stopped before the migration reported success; its last line: %q", svc, w.lastLine)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// knownErrors are the profile's known error lines that apply to version.
func (e *Env) knownErrors(version string) ([]profile.KnownError, error) {
	var out []profile.KnownError
	v, verr := semver.Parse(version)
	for _, k := range e.Profile.Migration.KnownErrors {
		if k.Versions != "" {
			c, err := semver.ParseConstraint(k.Versions)
			if err != nil {
				return nil, fmt.Errorf("the profile's known_errors: %w", err)
			}
			if verr != nil || !c.Check(v) {
				continue
			}
		}
		out = append(out, k)
	}
	return out, nil
}

// watchdog is how long a migration may log nothing before its success.
func (e *Env) watchdog() time.Duration {
	w := e.Profile.Migration.Watchdog
	if w == "off" {
		return 0
	}
	if d, err := time.ParseDuration(w); err == nil && d > 0 {
		return d
	}
	return defaultWatchdog
}

// evidence says what runs after a migration error the app survived.
func (e *Env) evidence(ctx context.Context, svc, version string) string {
	det, err := e.detectNow(ctx)
	if err != nil {
		return "What runs now could not be read: " + err.Error()
	}
	rep := det.Report
	state := "not found"
	for _, sv := range rep.Services {
		if sv.Name == svc {
			state = sv.State
			if sv.Health != "" {
				state += ", " + sv.Health
			}
		}
	}
	says := fmt.Sprintf("The app says it runs %s (%s)", rep.Version, rep.VersionSource)
	if semver.Same(rep.Version, version) {
		says += ", the new version"
	}
	return fmt.Sprintf("%s is %s. %s.", svc, state, says)
}

// note journals a remark (nil journal in tests and dry runs).
func (e *Env) note(s string) {
	if e.Journal != nil {
		e.Journal.Note(s)
	}
}

// errorish picks, among the lines after an error line, the ones worth
// repeating in the error (a traceback's last line names the exception).
var errorish = regexp.MustCompile(`(?i)error|exception|failed|fatal`)

var (
	// entrypointErrorGrace is how long the log is still read after an
	// error line, for the rest of a traceback.
	entrypointErrorGrace = 2 * time.Second
	// survivalWait is how long, after an error line, the success line may
	// still come (the app survives the error: the admin decides).
	survivalWait = 10 * time.Second
	// defaultWatchdog fails a migration whose log is silent that long.
	defaultWatchdog = 2 * time.Minute
	watchTick       = 100 * time.Millisecond
)

// waitStarted is an entrypoint migration with no success line to watch for
// (the generic profile): the service is started and waited for until it
// runs (healthy, when it has a health check); a line of its log matching
// error_log fails it.
func (s *migrateStep) waitStarted(ctx context.Context, sink steps.Sink, errRe *regexp.Regexp) error {
	e := s.env
	svc := e.migrationService()
	if svc == "" {
		return errors.New("the profile names no migration service and the stack has no app service to start")
	}
	since := time.Now().Add(-time.Second)
	sink.Log("• no success line is known for " + svc + ": waiting until it runs (healthy, if it has a health check)")
	if err := e.Compose.Run(ctx, sink.Log, "up", "--detach", "--wait", "--wait-timeout", "300", "--no-deps", svc); err != nil {
		return fmt.Errorf("%s did not start after its migration: %w", svc, err)
	}
	if errRe == nil {
		return nil
	}
	c, err := e.containerOf(ctx, svc)
	if err != nil {
		return err
	}
	var bad string
	if err := e.Docker.Logs(ctx, c.ID, false, since, func(l string) {
		if bad == "" && errRe.MatchString(l) {
			bad = l
		}
	}); err != nil {
		return fmt.Errorf("read the log of %s: %w", svc, err)
	}
	if bad != "" {
		return fmt.Errorf("the migration logged an error: %s", bad)
	}
	return nil
}

// containerOf is the container of service now (after an up).
func (e *Env) containerOf(ctx context.Context, service string) (dockerx.Container, error) {
	det, err := e.detectNow(ctx)
	if err != nil {
		return dockerx.Container{}, err
	}
	c, ok := det.Containers[service]
	if !ok {
		return dockerx.Container{}, fmt.Errorf("the %s container did not appear", service)
	}
	return c, nil
}
