package upgrade

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

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
	settle, _ := time.ParseDuration(m.Settle) // validated with the profile
	since := time.Now().Add(-time.Second)
	svc := e.migrationService()
	if svc == "" {
		return errors.New("the profile names no migration service and the stack has no app service to start")
	}
	if err := e.Compose.Run(ctx, sink.Log, "up", "--detach", "--no-deps", svc); err != nil {
		return err
	}
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	c, ok := det.Containers[svc]
	if !ok {
		return fmt.Errorf("the %s container did not appear", svc)
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	result := make(chan error, 1)
	ended := make(chan struct{})
	var mu sync.Mutex
	var firstErr, lastLine string
	var started bool // the success line was seen (settling)
	go func() {
		defer close(ended)
		logErr := e.Docker.Logs(lctx, c.ID, true, since, func(line string) {
			sink.Log(line)
			mu.Lock()
			defer mu.Unlock()
			if firstErr != "" && errorish.MatchString(line) {
				lastLine = line // e.g. the last line of a traceback
			}
			switch {
			case firstErr != "":
			case okRe.MatchString(line) && settle <= 0:
				select {
				case result <- nil:
				default:
				}
			case okRe.MatchString(line) && !started:
				started = true
				sink.Log(fmt.Sprintf("… %s started; its log is watched %s more for errors of migrations it runs in the background", svc, settle))
				go func() {
					select {
					case <-time.After(settle):
					case <-ended: // reported below
						return
					case <-lctx.Done():
						return
					}
					mu.Lock()
					failed := firstErr != ""
					mu.Unlock()
					if !failed {
						select {
						case result <- nil:
						default:
						}
					}
				}()
			case errRe != nil && errRe.MatchString(line):
				firstErr = line
				// A traceback ends with the line that says what went wrong:
				// keep reading a moment so that it is shown and reported.
				go func() {
					select {
					case <-time.After(entrypointErrorGrace):
					case <-ended:
					case <-lctx.Done():
					}
					mu.Lock()
					msg := firstErr
					if lastLine != "" && lastLine != firstErr {
						msg += " … " + lastLine
					}
					mu.Unlock()
					select {
					case result <- fmt.Errorf("the migration logged an error: %s", msg):
					default:
					}
				}()
			}
		})
		mu.Lock()
		failed, ok := firstErr != "", started
		mu.Unlock()
		msg := "the container's log ended before the migration reported success"
		if logErr != nil && lctx.Err() == nil {
			msg = "the container's log could not be read (" + logErr.Error() + ") before the migration reported success"
		}
		if ok {
			msg = "the container stopped within " + settle.String() + " of its success line"
		}
		if !failed {
			select {
			case result <- errors.New(msg):
			default:
			}
		}
	}()
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no success line (%s) before the timeout: %w", m.SuccessLog, ctx.Err())
	}
}

// errorish picks, among the lines after an error line, the ones worth
// repeating in the error (a traceback's last line names the exception).
var errorish = regexp.MustCompile(`(?i)error|exception|failed|fatal`)

// entrypointErrorGrace is how long the log is still read after an error
// line, for the rest of a traceback.
var entrypointErrorGrace = 2 * time.Second

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
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	c, ok := det.Containers[svc]
	if !ok {
		return fmt.Errorf("the %s container did not appear", svc)
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
