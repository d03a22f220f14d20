package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/releases"
	semver "github.com/seed-e7a9fb3b/upshift/releases/version"
)

// NoNotesWarning marks each hop planned from the profile's rules alone.
const NoNotesWarning = "no release notes: breaking changes unknown. Read this version's release notes yourself before upgrading (or pass --notes FILE|DIR and plan again)"

// PlanMode says how `plan` may reach the stack.
type PlanMode struct {
	// Offline plans from the files alone: no Docker engine, no database.
	Offline bool
	// From is the version to plan from instead of the detected one; with a
	// profile it needs no compose project at all.
	From string
}

// OpenForPlan opens a session for planning: connected when a Docker engine
// answers, else (or with Offline) from the files alone, said in a notice.
// With From and a profile, a directory without a compose file is planned
// too.
func OpenForPlan(ctx context.Context, o Options, m PlanMode) (*Session, error) {
	if !m.Offline {
		eng, err := dockerx.Connect(ctx)
		if err == nil {
			profiles, err := Profiles()
			if err != nil {
				_ = eng.Close()
				return nil, err
			}
			det, err := detect.Detect(ctx, eng, detect.Options{StackOptions: o.Stack, Profile: o.Profile, Profiles: profiles})
			if errors.Is(err, detect.ErrNoCompose) && m.From != "" {
				_ = eng.Close()
				return openOffline(ctx, o, m.From)
			}
			if err != nil {
				_ = eng.Close()
				return nil, err
			}
			s := NewSession(eng, det, o)
			s.from = m.From
			return s, nil
		}
		s, oerr := openOffline(ctx, o, m.From)
		if oerr != nil {
			return nil, oerr
		}
		s.openNotices = append([]string{"no Docker engine reachable (" + firstLine(err.Error()) + "): planned from the files alone, offline"}, s.openNotices...)
		return s, nil
	}
	s, err := openOffline(ctx, o, m.From)
	if err != nil {
		return nil, err
	}
	s.openNotices = append([]string{"offline: planned from the files alone (no Docker engine, no database asked)"}, s.openNotices...)
	return s, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i > 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.TrimSuffix(s, ".")
}

// openOffline detects the stack from its files; with from and a profile,
// a directory without compose files is a stack of no services.
func openOffline(ctx context.Context, o Options, from string) (*Session, error) {
	profiles, err := Profiles()
	if err != nil {
		return nil, err
	}
	det, err := detect.Detect(ctx, nil, detect.Options{StackOptions: o.Stack, Profile: o.Profile, Profiles: profiles, Offline: true})
	noCompose := false
	if errors.Is(err, detect.ErrNoCompose) && from != "" && o.Profile != "" {
		det, err = noStack(o, profiles, from)
		noCompose = true
	} else if errors.Is(err, detect.ErrNoCompose) && from != "" {
		return nil, fmt.Errorf("%w. Fix: with --from and no compose project, name the app with --profile NAME (see `upshift profiles`)", err)
	}
	if err != nil {
		return nil, err
	}
	s := NewSession(nil, det, o)
	s.offline, s.from = true, from
	if noCompose {
		s.openNotices = append(s.openNotices, "no compose project in "+det.Report.Dir+": planned from --from "+from+" and the profile "+det.Profile.Name+" alone")
	}
	return s, nil
}

// noStack is a detect result for `plan --from V --profile NAME` in a
// directory without a compose project.
func noStack(o Options, profiles []*profile.Profile, from string) (*detect.Result, error) {
	var prof *profile.Profile
	for _, p := range profiles {
		if p.Name == o.Profile {
			prof = p
		}
	}
	if prof == nil {
		p, err := profile.Load(o.Profile)
		if err != nil {
			return nil, fmt.Errorf("--profile %s: not a known profile name, and as a file: %w", o.Profile, err)
		}
		prof = p
	}
	dir := o.Stack.Dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("current directory: %w", err)
		}
		dir = wd
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	name := filepath.Base(dir)
	stack := &detect.Stack{
		Invocation: dockerx.Project{Name: name, WorkingDir: dir},
		Model:      &types.Project{Name: name, WorkingDir: dir, Services: types.Services{}},
	}
	rep := detect.Report{
		Project: name, Dir: dir, App: prof.Name, Profile: prof.Name, ProfileReason: "chosen with --profile",
		Version: strings.TrimPrefix(from, "v"), VersionSource: "--from", Warnings: []string{"no compose project here: planned from --from and the profile alone"},
		DB:     detect.DBReport{Engine: prof.DB.Engine, Service: prof.DB.Service, Supported: true},
		Schema: detect.SchemaReport{Tool: prof.Schema.Tool},
	}
	return &detect.Result{Report: rep, Stack: stack, Profile: prof}, nil
}

// Offline reports whether the session plans from the files alone.
func (s *Session) Offline() bool { return s.offline }

// PlanTarget plans to `to` from --from when given, else from the detected
// version.
func (s *Session) PlanTarget(ctx context.Context, to string, o PlanOptions) (*Planned, error) {
	if s.from != "" {
		return s.planFrom(ctx, s.from, to, o)
	}
	return s.Plan(ctx, to, o)
}

// PlanEstimate is the plan's estimate; offline nothing can be sized, and
// the plan says so instead of reporting a problem.
func (s *Session) PlanEstimate(ctx context.Context, pl *Planned) Estimate {
	if s.offline {
		return Estimate{NotEstimated: true}
	}
	return pl.Estimate(ctx)
}

// plannable refuses a stack whose database upshift cannot upgrade: the
// files name the engine, and nothing is guessed in its place.
func (s *Session) plannable() error {
	db := s.Det.Report.DB
	if e := db.Engine; e != "" && e != profile.EnginePostgres && e != profile.EngineSQLite {
		src := db.EngineSource
		if src == "" {
			src = "the files"
		}
		return fmt.Errorf("the database of this stack is %s (from %s): upshift does not support it yet, so it cannot plan or run this upgrade. Nothing was guessed and nothing was changed", detect.EngineTitle(e), src)
	}
	return nil
}

// planNotes are the release notes to plan with. When no source can be read
// (GitHub unreachable, no cache, no --notes), the plan is made from the
// profile's rules: empty notes for the target and the profile's required
// stops, each hop marked by NoNotesWarning.
func (s *Session) planNotes(ctx context.Context, from, to string) (notes []releases.Note, notices []string, synthetic bool, err error) {
	notes, notices, err = s.Notes(ctx)
	if err == nil {
		return notes, append(s.startNotices(), notices...), false, nil
	}
	if tags := s.gitTagNotes(ctx); len(tags) > 0 { // offline_git.go
		notes = tags
		if !strings.EqualFold(strings.TrimSpace(to), releases.Latest) && !hasVersion(tags, to) {
			notes = append(notes, releases.Note{Version: to})
		}
		notices = append(s.startNotices(), notices...)
		notices = append(notices, "release notes unavailable ("+firstLine(err.Error())+"): the versions come from the git tags of the app's clone in "+s.Det.Stack.Invocation.WorkingDir+"; breaking changes are unknown")
		return notes, notices, true, nil
	}
	if strings.EqualFold(strings.TrimSpace(to), releases.Latest) {
		return nil, notices, false, fmt.Errorf("%w. Without release notes the newest version is unknown: give --to VERSION, or pass --notes FILE|DIR", err)
	}
	fromV, ferr := semver.Parse(from)
	toV, terr := semver.Parse(to)
	if ferr != nil || terr != nil {
		return nil, notices, false, err
	}
	seen := map[string]bool{}
	add := func(v string) {
		pv, perr := semver.Parse(v)
		if perr != nil || seen[pv.String()] || !fromV.Less(pv) || toV.Less(pv) {
			return
		}
		seen[pv.String()] = true
		// Bare: the form of the plan is then the profile's, never the
		// one typed after --to.
		notes = append(notes, releases.Note{Version: strings.TrimPrefix(v, "v"), Body: ""})
	}
	for _, st := range s.Det.Profile.Upgrade.Stops {
		if st.Version != "" {
			add(st.Version)
		}
	}
	add(to)
	notices = append(s.startNotices(), notices...)
	notices = append(notices, "release notes unavailable ("+firstLine(err.Error())+"): planned from the profile's rules alone (its required stops and minimum database versions); breaking changes are unknown")
	return notes, notices, true, nil
}

func hasVersion(notes []releases.Note, v string) bool {
	want, err := semver.Parse(v)
	if err != nil {
		return false
	}
	for _, n := range notes {
		if got, err := semver.Parse(n.Version); err == nil && got.Equal(want) {
			return true
		}
	}
	return false
}

// startNotices are what the session said when it opened, and the facts
// the plan takes from the files rather than the running stack.
func (s *Session) startNotices() []string {
	out := append([]string(nil), s.openNotices...)
	db := s.Det.Report.DB
	if strings.HasPrefix(db.ServerVersionSource, "image tag") {
		out = append(out, fmt.Sprintf("the database server version %s is read from the %s (the server was not asked)", db.ServerVersion, db.ServerVersionSource))
	}
	return out
}

// markNoNotes flags every hop of a path planned without release notes.
func markNoNotes(p *releases.Path) {
	for i := range p.Hops {
		h := &p.Hops[i]
		h.Warnings = append(h.Warnings, releases.Warning{Version: h.Version, Kind: releases.KindBreaking, Text: NoNotesWarning})
	}
}

// appForm writes a version the way the app's tags do, so a plan never
// mixes 8.2.2 and v8.5.1: with a "v" when the profile's tag template has
// one ("v{{version}}") or the app's release notes are tagged so (v8.5.1),
// bare otherwise.
func appForm(v string, withV bool) string {
	if _, err := semver.Parse(v); err != nil {
		return v
	}
	bare := strings.TrimPrefix(v, "v")
	if withV {
		return "v" + bare
	}
	return bare
}

// usesV says whether the app's versions are written with a "v".
func usesV(p *profile.Profile, notes []releases.Note) bool {
	if strings.HasPrefix(p.Apply.TagTemplate, "v{{") {
		return true
	}
	with, bare := 0, 0
	for _, n := range notes {
		if strings.HasPrefix(n.Version, "v") {
			with++
		} else {
			bare++
		}
	}
	return with > bare
}

// inAppForm rewrites the versions of a path in the app's form.
func inAppForm(p *profile.Profile, notes []releases.Note, path *releases.Path) {
	v := usesV(p, notes)
	path.From, path.To = appForm(path.From, v), appForm(path.To, v)
	for i := range path.Hops {
		h := &path.Hops[i]
		h.Version = appForm(h.Version, v)
		for j := range h.Warnings {
			h.Warnings[j].Version = appForm(h.Warnings[j].Version, v)
		}
	}
}
