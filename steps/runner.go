package steps

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Sink receives a running step's output.
type Sink interface {
	Log(line string)
	Progress(done, total int64)
}

// Step is one confirmable unit of an upgrade.
type Step interface {
	Info() StepInfo
	Run(ctx context.Context, sink Sink) error
}

// Prompter is implemented by steps whose confirmation shows more than their
// explanation (a diff, the exact containers); it is asked right before the
// confirmation, after the previous steps ran.
type Prompter interface {
	Prompt(ctx context.Context) (string, error)
}

// Skipper is implemented by steps that can tell, right before running, that
// there is nothing to do (the reason is logged).
type Skipper interface {
	Skip(ctx context.Context) (bool, string)
}

// Plan is what a run executes: the steps, and how to get back to the restore
// point when a step fails after the backup.
type Plan struct {
	From, To string
	Steps    []Step
	// Rollback returns the steps that restore the restore point; nil until a
	// backup exists (a failure before it changes nothing).
	Rollback func() []Step
	// Backup names the restore point a rollback would restore (set ID)
	// once it exists.
	Backup func() string
	// Origin names the run's first restore point (the stack before the
	// run), for "to go back" after a success; nil means Backup.
	Origin func() string
	// Reached reports the version running now (for the result).
	Reached func() string
	// RollbackNote, when set, adds what the restore point lacks to the
	// message of a rollback.
	RollbackNote func() string
	// Restoring marks a plan that puts a backup back (restore, rollback):
	// a failure there cannot be rolled back, and the message says so.
	Restoring bool
	// RollsBack marks the rollback of an interrupted upgrade (resume): its
	// success is the upgrade's "rolled_back", not a success.
	RollsBack bool
	// Success, when set, is the message of a success (a rehearsal, which
	// installs nothing).
	Success func() string
	// Hint, when set, finds what the release notes say about a failure of
	// step (the acknowledged manual action it matches), or "".
	Hint func(step StepInfo, failure string) string
}

// Runner executes a plan and emits events. It is UI-agnostic.
type Runner struct {
	Emit    func(Event)                                           // every event, already redacted
	Decide  func(ctx context.Context, ev Event) (Decision, error) // answers EventConfirm
	Redact  func(string) string
	Journal *Journal
	Now     func() time.Time
	// LogPath is where every event of the run is written in full (a
	// failed result points at it).
	LogPath string

	touched bool // a step that is not ReadOnly has started
}

// Doubt is a step's outcome that is not plainly a failure: the app logged
// an error in its migration and then started serving. The admin decides:
// keep what runs (the step counts as done) or roll back. An unattended
// run keeps it only when a rule says so (--accept-migration-errors).
type Doubt struct {
	Line     string // the app's own error line
	Evidence string // what is known: which version answers, its health
	// Rehearsal: the line came from the migration's rehearsal on a scratch
	// copy, before the downtime, so no means stop with nothing changed.
	Rehearsal bool
}

func (d *Doubt) Error() string {
	if d.Rehearsal {
		return "the migration logged an error in its rehearsal on a scratch copy, and then the app started: " + d.Line
	}
	return "the migration logged an error: " + d.Line
}

// ErrDeclined means the admin answered no to a confirmation.
var ErrDeclined = errors.New("declined")

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) redact(s string) string {
	if r.Redact == nil {
		return s
	}
	return r.Redact(s)
}

func (r *Runner) emit(ev Event) {
	ev.Time = r.now()
	ev.Line = r.redact(ev.Line)
	ev.Err = r.redact(ev.Err)
	ev.Prompt = r.redact(ev.Prompt)
	if len(ev.Plan) > 0 {
		infos := make([]StepInfo, len(ev.Plan))
		for i, in := range ev.Plan {
			in.Name, in.Explain = r.redact(in.Name), r.redact(in.Explain)
			in.Touches = append([]string(nil), in.Touches...)
			for j := range in.Touches {
				in.Touches[j] = r.redact(in.Touches[j])
			}
			infos[i] = in
		}
		ev.Plan = infos
	}
	if ev.Result != nil {
		res := *ev.Result
		res.Error = r.redact(res.Error)
		res.Message = r.redact(res.Message)
		ev.Result = &res
	}
	if r.Journal != nil {
		r.Journal.Event(ev)
	}
	if r.Emit != nil {
		r.Emit(ev)
	}
}

type sink struct {
	r    *Runner
	step string
	mu   sync.Mutex
	// firstErr is the step's first log line that reads like an error: the
	// app's own account of what went wrong, where later lines are effects.
	firstErr string
}

func (s *sink) Log(line string) {
	line = strings.TrimRight(line, "\r\n")
	s.mu.Lock()
	if s.firstErr == "" && errorLine.MatchString(line) {
		s.firstErr = line
	}
	s.mu.Unlock()
	s.r.emit(Event{Kind: EventLog, Step: s.step, Line: line})
}

func (s *sink) Progress(done, total int64) {
	s.r.emit(Event{Kind: EventProgress, Step: s.step, Done: done, Total: total})
}

// errorLine tells a log line that reports an error.
var errorLine = regexp.MustCompile(`(?i)\b(error|fatal|panic|exception|traceback|failed)\b`)

func (s *sink) cause() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstErr
}

// Run executes the plan from step index start. On a failure after the
// backup it rolls back by itself. It always ends with EventDone and returns
// the Result.
func (r *Runner) Run(ctx context.Context, p *Plan, start int) Result {
	infos := make([]StepInfo, len(p.Steps))
	for i, s := range p.Steps {
		infos[i] = s.Info()
	}
	r.emit(Event{Kind: EventPlan, Plan: infos})
	res := Result{From: p.From, To: p.To}
	for i := start; i < len(p.Steps); i++ {
		st := p.Steps[i]
		info := st.Info()
		if err := ctx.Err(); err != nil {
			return r.fail(ctx, p, res, info, fmt.Errorf("cancelled before %q: %w", info.Name, err))
		}
		if err := r.Journal.Err(); err != nil {
			// Without a journal a kill could not be resumed: stop before
			// the next change rather than go on blind.
			return r.fail(ctx, p, res, info, fmt.Errorf("the run's journal cannot be written (%w), so a resume could not tell where things stand; stopping before %q. Free space where the backups live, then resume", err, info.Name))
		}
		if sk, ok := st.(Skipper); ok {
			if skip, why := sk.Skip(ctx); skip {
				r.emit(Event{Kind: EventStepStarted, Step: info.ID})
				r.emit(Event{Kind: EventLog, Step: info.ID, Line: "nothing to do: " + why})
				r.emit(Event{Kind: EventStepFinished, Step: info.ID, Status: StatusSkipped})
				continue
			}
		}
		if info.Confirm {
			// The step's Explain is in the plan; the prompt adds what is only
			// known now (a diff, the exact containers).
			prompt := ""
			if pr, ok := st.(Prompter); ok {
				extra, err := pr.Prompt(ctx)
				if err != nil {
					return r.fail(ctx, p, res, info, err)
				}
				prompt = extra
			}
			ev := Event{Kind: EventConfirm, Step: info.ID, Prompt: prompt, Consent: info.Consent, Optional: info.Optional}
			r.emit(ev)
			ev.Prompt = r.redact(prompt)
			d, err := r.decide(ctx, ev)
			if err != nil {
				return r.fail(ctx, p, res, info, err)
			}
			if !d.Approve && info.Optional {
				r.emit(Event{Kind: EventStepStarted, Step: info.ID})
				r.emit(Event{Kind: EventLog, Step: info.ID, Line: "skipped: the admin answered no"})
				r.emit(Event{Kind: EventStepFinished, Step: info.ID, Status: StatusSkipped})
				continue
			}
			if !d.Approve {
				return r.fail(ctx, p, res, info, fmt.Errorf("%w: the admin answered no to %q", ErrDeclined, info.Name))
			}
		}
		r.emit(Event{Kind: EventStepStarted, Step: info.ID})
		if !info.ReadOnly {
			r.touched = true
		}
		t0 := r.now()
		sk := &sink{r: r, step: info.ID}
		err := st.Run(ctx, sk)
		d := r.now().Sub(t0)
		var doubt *Doubt
		if errors.As(err, &doubt) {
			err = r.settleDoubt(ctx, info, doubt)
		}
		if err != nil {
			r.emit(Event{Kind: EventStepFinished, Step: info.ID, Status: StatusFailed, Duration: d, Err: err.Error()})
			res.Cause = sk.cause()
			return r.fail(ctx, p, res, info, err)
		}
		r.emit(Event{Kind: EventStepFinished, Step: info.ID, Status: StatusOK, Duration: d})
	}
	res.Outcome = OutcomeSuccess
	res.Reached = p.To
	if p.Backup != nil {
		res.Backup = p.Backup()
	}
	if p.Origin != nil {
		res.Backup = p.Origin()
	}
	switch {
	case p.Success != nil:
		res.Message = p.Success()
		if p.Reached != nil {
			res.Reached = p.Reached() // a rehearsal moves nothing
		}
	case p.RollsBack:
		res.Outcome = OutcomeRolledBack
		res.Message = fmt.Sprintf("The interrupted upgrade was rolled back: backup %s is back in place (database, config, volumes and images together) and the stack runs %s, healthy.", res.Backup, p.To)
		if p.RollbackNote != nil {
			if n := p.RollbackNote(); n != "" {
				res.Message += " " + n
			}
		}
	case p.Restoring:
		res.Message = fmt.Sprintf("Backup %s is back in place: the stack runs %s, healthy.", res.Backup, p.To)
	case res.Backup == "":
		res.Message = fmt.Sprintf("%s → %s done.", p.From, p.To)
	case p.From == p.To:
		res.Message = fmt.Sprintf("Backup %s made and verified. To put it back: upshift restore %s", res.Backup, res.Backup)
	default:
		res.Message = fmt.Sprintf("%s → %s done. To go back: upshift restore %s", p.From, p.To, res.Backup)
	}
	return r.done(res)
}

func (r *Runner) decide(ctx context.Context, ev Event) (Decision, error) {
	if r.Decide == nil {
		return Decision{Step: ev.Step, Approve: false}, errors.New("this step needs a confirmation and nobody can answer (no TTY): re-run with --yes to approve every step")
	}
	return r.Decide(ctx, ev)
}

// fail handles a failed (or declined, or cancelled) step: roll back when a
// restore point exists, otherwise report that nothing was changed.
func (r *Runner) fail(ctx context.Context, p *Plan, res Result, info StepInfo, cause error) Result {
	res.FailedStep = info.ID
	res.Error = cause.Error()
	var rollback []Step
	if p.Rollback != nil {
		rollback = p.Rollback()
	}
	if p.Backup != nil {
		res.Backup = p.Backup()
	}
	if uv := (*UnverifiedError)(nil); rollback == nil && p.Restoring && errors.As(cause, &uv) {
		res.Outcome, res.Reached = OutcomeSuccess, p.To
		res.Message = fmt.Sprintf("upshift restored backup %s (database, config, volumes and images together) and the stack runs %s, healthy. One thing could not be checked: %s.", res.Backup, p.To, uv.What)
		res.Next = "Nothing to undo; correct the profile so the next verify can check it."
		return r.done(res)
	}
	if rollback == nil && p.Restoring && r.touched {
		res.Outcome, res.RollbackFailed = OutcomeFailed, true
		res.Message = fmt.Sprintf("%q failed: %s. The stack may be half-restored; backup %s itself is unchanged. Fix the cause, then run `upshift restore %s` again.", info.Name, cause, res.Backup, res.Backup)
		return r.done(res)
	}
	if rollback == nil {
		res.Outcome = OutcomeFailed
		if errors.Is(cause, ErrDeclined) || errors.Is(cause, context.Canceled) {
			res.Outcome = OutcomeAborted
		}
		res.Reached = p.From
		if p.Reached != nil && p.Reached() != "" {
			res.Reached = p.Reached()
		}
		if res.Reached != p.From {
			// Earlier hops went through and were verified; this one had
			// not changed anything yet.
			res.Partial = true
			res.Message = fmt.Sprintf("%q failed before it changed anything of its hop: %s. The stack runs %s, verified: the last good version on the way to %s.", info.Name, cause, res.Reached, p.To)
			res.Next = fmt.Sprintf("Fix the cause, then run the upgrade to %s again: it goes on from %s.", p.To, res.Reached)
			if h := r.hint(p, info, cause, res.Cause); h != "" {
				res.Next = "The release notes say, for this hop: " + h + ". " + res.Next
			}
			return r.done(res)
		}
		res.Unchanged = true
		res.Message = fmt.Sprintf("%q failed before anything was changed: %s. The stack still runs %s.", info.Name, cause, p.From)
		if res.Outcome == OutcomeFailed {
			res.Next = "Fix the cause, then run it again; nothing needs undoing."
			if h := r.hint(p, info, cause, res.Cause); h != "" {
				res.Next = "The release notes say, for this hop: " + h + ". " + res.Next
			}
		}
		return r.done(res)
	}
	r.emit(Event{Kind: EventRollingBack, Step: info.ID, Err: cause.Error()})
	// The rollback must finish even when the run was cancelled: a half-done
	// rollback is the worst state. It gets its own context.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Minute)
	defer cancel()
	var unverified []string // restored, but something the verify could not check
	for _, st := range rollback {
		rinfo := st.Info()
		r.emit(Event{Kind: EventStepStarted, Step: rinfo.ID})
		t0 := r.now()
		sk := &sink{r: r, step: rinfo.ID}
		err := st.Run(rctx, sk)
		var uv *UnverifiedError
		if errors.As(err, &uv) {
			unverified = append(unverified, uv.What)
			sk.Log("! " + err.Error())
		} else if err != nil {
			r.emit(Event{Kind: EventStepFinished, Step: rinfo.ID, Status: StatusFailed, Duration: r.now().Sub(t0), Err: err.Error()})
			res.Outcome, res.RollbackFailed = OutcomeFailed, true
			res.Error = fmt.Sprintf("%s; then the rollback failed at %q: %v", cause, rinfo.Name, err)
			res.Message = fmt.Sprintf("The stack may be half-restored. The restore point is backup %s.", res.Backup)
			res.Next = fmt.Sprintf("Do not start, stop or remove containers by hand. Fix the cause of the rollback's failure, then run `upshift resume` (it finishes the rollback) or `upshift restore %s`.", res.Backup)
			return r.done(res)
		}
		r.emit(Event{Kind: EventStepFinished, Step: rinfo.ID, Status: StatusOK, Duration: r.now().Sub(t0)})
	}
	res.Outcome = OutcomeRolledBack
	res.Reached = p.From
	if p.Reached != nil {
		res.Reached = p.Reached()
	}
	msg := fmt.Sprintf("%q failed: %s. upshift restored backup %s (database, config, volumes and images together) and the stack runs %s again, healthy.", info.Name, cause, res.Backup, res.Reached)
	if p.RollbackNote != nil {
		if n := p.RollbackNote(); n != "" {
			msg += " " + n
		}
	}
	if len(unverified) > 0 {
		msg += " One thing could not be checked (" + strings.Join(unverified, "; ") + "): the database, files and images are the backup's, so that is the profile's gap, not the stack's."
	}
	if res.Cause != "" && !strings.Contains(cause.Error(), res.Cause) {
		msg += " The app's first error line: " + res.Cause
	}
	res.Message = msg
	res.Next = "Read the cause above"
	if h := r.hint(p, info, cause, res.Cause); h != "" {
		res.Next += "; the release notes say, for this hop: " + h
	}
	res.Next += fmt.Sprintf(". Once it is fixed, run the upgrade to %s again: the stack is back as it was, nothing to clean up.", p.To)
	return r.done(res)
}

func LastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// IndexOf is the position of a step ID in the plan, or -1.
func (p *Plan) IndexOf(stepID string) int {
	for i, s := range p.Steps {
		if s.Info().ID == stepID {
			return i
		}
	}
	return -1
}

// hint is the plan's pointer for a failure (a release-note action).
func (r *Runner) hint(p *Plan, info StepInfo, cause error, line string) string {
	if p.Hint == nil {
		return ""
	}
	return p.Hint(info, cause.Error()+" "+line)
}

// done ends the run: the result, redacted like every event, is emitted and
// returned (the caller prints it too).
func (r *Runner) done(res Result) Result {
	res.Error = r.redact(res.Error)
	res.Message = r.redact(res.Message)
	res.Cause = r.redact(res.Cause)
	res.Next = r.redact(res.Next)
	if res.Outcome != OutcomeSuccess {
		res.Log = r.LogPath
	}
	r.emit(Event{Kind: EventDone, Result: &res})
	return res
}

// settleDoubt asks whether to keep what runs despite the error line: nil
// keeps it (journaled), an error fails the step (and rolls back).
func (r *Runner) settleDoubt(ctx context.Context, info StepInfo, d *Doubt) error {
	prompt := "The migration logged an error, and then the app started:\n  " + d.Line + "\n" + d.Evidence +
		"\nKeep it running (yes), or roll back to the restore point (no)? Keeping it means the schema change behind that line did not happen."
	kept := "kept despite the error (journaled): "
	if d.Rehearsal {
		prompt = "In its rehearsal on a scratch copy the migration logged an error, and then the app started:\n  " + d.Line + "\n" + d.Evidence +
			"\nGo on to the real upgrade (yes: the same migration runs for real and you are asked again), or stop here with nothing changed (no)?"
		kept = "going on despite the rehearsal's error (journaled): "
	}
	ev := Event{Kind: EventConfirm, Step: info.ID, Prompt: prompt, Doubt: true, Line: d.Line}
	r.emit(ev)
	ev.Prompt, ev.Line = r.redact(prompt), r.redact(d.Line)
	dec, err := r.decide(ctx, ev)
	if err != nil {
		return fmt.Errorf("%w (and %v)", d, err)
	}
	if !dec.Approve && d.Rehearsal {
		return fmt.Errorf("%w; so the upgrade stops before the downtime and nothing was changed (unattended, --accept-migration-errors REGEXP goes on when the error line matches)", d)
	}
	if !dec.Approve {
		return fmt.Errorf("%w; not kept, so it is rolled back (unattended, --accept-migration-errors REGEXP keeps a version whose error line matches)", d)
	}
	r.Journal.Note("kept " + info.ID + " despite: " + r.redact(d.Line))
	r.emit(Event{Kind: EventLog, Step: info.ID, Line: kept + d.Line})
	return nil
}
