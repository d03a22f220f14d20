package render

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// Plan prints a plan: notices, blockers, hops with their warnings, the
// steps, the backup and downtime estimate.
func Plan(w io.Writer, pl *engine.Planned, est engine.Estimate, full bool) {
	p := pl.Path
	if len(p.Hops) == 0 && !p.Blocked {
		_, _ = fmt.Fprintf(w, "the stack already runs %s: nothing to do\n", p.From)
		return
	}
	_, _ = fmt.Fprintf(w, "upgrade %s → %s\n", p.From, p.To)
	for _, n := range pl.Notices {
		_, _ = fmt.Fprintln(w, "note: "+n)
	}
	if p.Blocked {
		_, _ = fmt.Fprintln(w, "BLOCKED:")
		for _, b := range p.Blockers {
			_, _ = fmt.Fprintln(w, "  ✗ "+b)
		}
	}
	for _, ns := range p.NoteStops {
		if !ns.Confirmed {
			_, _ = fmt.Fprintf(w, "! the release notes ask for a stop at %s, which the profile's rules do not have: check before going on (%s)\n", ns.Version, firstLineOf(ns.Reason))
		}
	}
	n := 0
	for _, h := range p.Hops {
		if d := p.DBHop; d != nil && d.Before == h.Version {
			n++
			_, _ = fmt.Fprintf(w, "\nhop %d: %s  (the database server, before %s)\n", n, d.Title(), h.Version)
			_, _ = fmt.Fprintf(w, "  %s\n", d.Explain())
		}
		n++
		stop := ""
		if h.RequiredStop {
			stop = "  (required stop"
			if h.Reason != "" {
				stop += ": " + h.Reason
			}
			stop += ")"
		}
		_, _ = fmt.Fprintf(w, "\nhop %d: %s%s\n", n, h.Version, stop)
		// Headlines first, grouped per note section; the low-confidence
		// ones of a version apart ("may concern you"); --full adds the text.
		for _, g := range releases.Group(h.Warnings) {
			_, _ = fmt.Fprintf(w, "  %s\n", g.Title())
			for _, wr := range byKind(g.Warnings) {
				_, _ = fmt.Fprintf(w, "    ! %-13s %s\n", wr.Kind, headlineOf(wr))
				if full {
					_, _ = fmt.Fprintln(w, indentBy(strings.TrimSpace(wr.Text), "        "))
				}
			}
		}
		for _, a := range h.ManualActions {
			_, _ = fmt.Fprintf(w, "  ! %-13s %s\n", "manual_action", a)
		}
	}
	_, _ = fmt.Fprintln(w, "\nsteps:")
	for i, s := range engine.Infos(pl.Plan) {
		mark := " "
		if s.Confirm {
			mark = "?"
		}
		_, _ = fmt.Fprintf(w, "  %2d.%s %s\n", i+1, mark, s.Name)
	}
	if est.NotEstimated {
		_, _ = fmt.Fprintf(w, "\nbackups go to %s; backup size and downtime not estimated (offline)\n", pl.Env.BackupDir)
	} else {
		down := fmt.Sprintf("about %s", est.Downtime)
		switch {
		case est.Measured > 0:
			down = fmt.Sprintf("about %s (measured in rehearsal)", est.Measured)
		case est.Rehearsal:
			down += " (a guess; each migration's time is measured in its rehearsal, before the stop)"
		}
		_, _ = fmt.Fprintf(w, "\neach backup: about %s in %s; downtime: %s\n", human.Bytes(est.BackupBytes), pl.Env.BackupDir, down)
	}
	switch {
	case est.NotEstimated:
	case est.Rehearsal:
		if apps := appHopCount(pl); apps > 1 {
			_, _ = fmt.Fprintf(w, "rehearsal: all %d migrations run first, one after the other on a scratch copy of the database, before the first hop stops anything; a failure there changes nothing (--no-rehearsal to skip)\n", apps)
		} else {
			_, _ = fmt.Fprintln(w, "rehearsal: the migration runs first on a scratch copy of the database, before anything is stopped; a failure there changes nothing (--no-rehearsal to skip)")
		}
	case len(p.Hops) > 0 && pl.Env.RehearsalSkipReason() != "":
		_, _ = fmt.Fprintln(w, "rehearsal: none: "+pl.Env.RehearsalSkipReason())
	}
	for _, pr := range est.Problems() {
		_, _ = fmt.Fprintln(w, "  ✗ "+pr)
	}
	if len(p.Hops) > 0 && pl.RestorePoint != "" {
		// Said before, not after: what a rollback of this plan may lose.
		_, _ = fmt.Fprintln(w, pl.RestorePoint)
	}
	_, _ = fmt.Fprintf(w, "Nothing was changed; run `upshift upgrade --to %s` to do it.\n", p.To)
}

func firstLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// DryRun prints every step with what it touches.
func DryRun(w io.Writer, pl *engine.Planned) error {
	_, _ = fmt.Fprintf(w, "dry run: %s → %s (nothing will be changed)\n", pl.Path.From, pl.Path.To)
	_, _ = fmt.Fprintf(w, "project %s, compose files %s\n", pl.Env.Project.Name, strings.Join(pl.Env.Project.Files, ", "))
	for i, s := range engine.Infos(pl.Plan) {
		confirm := ""
		if s.Confirm {
			confirm = " [asks for confirmation]"
		}
		_, _ = fmt.Fprintf(w, "%2d. %s%s\n", i+1, s.Name, confirm)
		for _, t := range s.Touches {
			_, _ = fmt.Fprintf(w, "      touches: %s\n", t)
		}
	}
	_, _ = fmt.Fprintln(w, "on failure after the first backup: stop the app, restore the backup (database, config, volumes, images), start, verify")
	return nil
}

// PlanJSON is `plan --json`: the path, the steps, the notices and the
// estimate.
func PlanJSON(w io.Writer, pl *engine.Planned, est engine.Estimate) error {
	out := struct {
		releases.Path
		Steps        []steps.StepInfo `json:"steps"`
		Notices      []string         `json:"notices,omitempty"`
		BackupBytes  int64            `json:"backup_bytes"`
		DowntimeNS   int64            `json:"downtime_ns"`
		Rehearsal    bool             `json:"rehearsal"`
		Problems     []string         `json:"problems,omitempty"`
		RestorePoint string           `json:"restore_point,omitempty"`
	}{Path: pl.Path, Steps: engine.Infos(pl.Plan), Notices: pl.Notices, BackupBytes: est.BackupBytes, DowntimeNS: int64(est.Downtime), Rehearsal: est.Rehearsal, Problems: est.Problems(), RestorePoint: pl.RestorePoint}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return writeErr(enc.Encode(out))
}

func indentBy(s, pre string) string {
	return pre + strings.ReplaceAll(s, "\n", "\n"+pre)
}

// byKind orders warnings by what they ask of the admin: required stops and
// breaking changes first, deprecations last.
func byKind(ws []releases.Warning) []releases.Warning {
	rank := map[releases.Kind]int{releases.KindRequiredStop: 0, releases.KindBreaking: 1, releases.KindManualAction: 2, releases.KindRequirement: 3, releases.KindDeprecation: 4}
	out := append([]releases.Warning(nil), ws...)
	slices.SortStableFunc(out, func(a, b releases.Warning) int { return rank[a.Kind] - rank[b.Kind] })
	return out
}

// headlineOf is the warning's one line: its headline, else its text's
// first line.
func headlineOf(w releases.Warning) string {
	if w.Headline != "" {
		return w.Headline
	}
	return firstLineOf(w.Text)
}

// appHopCount is the number of hops that install an app version.
func appHopCount(pl *engine.Planned) int {
	n := 0
	for _, h := range pl.Hops {
		if h.Postgres == nil {
			n++
		}
	}
	return n
}
