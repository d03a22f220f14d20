// Package tui owns the interactive wizard: the Bubble Tea screens that show
// what is running, what an upgrade will change, and how a run goes. It only
// renders what an Engine reports and sends back the admin's decisions; it
// never talks to Docker or PostgreSQL itself (depguard keeps it that way).
package tui

import (
	"context"
	"time"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ServiceRow is one compose service as the Overview shows it.
type ServiceRow struct {
	Name, Role, Image, State, Health string
	Restarts                         int
}

// Overview is what detection found, in the admin's words.
type Overview struct {
	Project, Dir, App, Profile, Version, VersionSource string
	DBEngine, DBVersion, DBSize                        string
	SchemaTool, SchemaHead                             string
	SchemaDirty                                        bool
	Services                                           []ServiceRow
	Warnings                                           []string // drift, dirty migrations, ... shown prominently
}

// Target is a version the admin may upgrade to.
type Target struct {
	Version      string
	RequiredStop bool
	Latest       bool
	Current      bool
	Blocked      string // reason, "" if not
}

// Kinds of WarningView, in the order the What changes screen lists them.
const (
	WarningBreaking     = "breaking"
	WarningManualAction = "manual_action"
	WarningRequirement  = "requirement"
	WarningDeprecation  = "deprecation"
	WarningRequiredStop = "required_stop"
)

// WarningView is one thing from a release note the admin must know about.
type WarningView struct {
	Kind     string // breaking | manual_action | requirement | deprecation | required_stop
	Text     string // the whole text (shown under the cursor)
	Headline string // one line that stands alone ("" shows Text)
	// Group names the note section it comes from ("2.0.0 · Breaking
	// changes"): the admin acknowledges a group at once. "" is a group of
	// its own.
	Group string
	// Low marks a low-confidence item ("may concern you"): shown apart,
	// never asked for.
	Low bool
}

// HopView is one version installed on the way to the target.
type HopView struct {
	Version       string
	RequiredStop  bool
	Reason        string
	Warnings      []WarningView
	NotesMarkdown string
}

// Precondition is one check that must pass before the run may start.
type Precondition struct {
	Name   string
	OK     bool
	Detail string
}

// PlanView is the whole upgrade, before anything changes.
type PlanView struct {
	From, To         string
	Hops             []HopView
	Blocked          bool
	Blockers         []string
	Steps            []steps.StepInfo
	Preconditions    []Precondition
	BackupDir        string
	BackupEstimate   int64
	ExpectedDowntime time.Duration
	// Notices are what the release-notes source said about the notes
	// (stale cache, pages not fetched): shown, not blocking.
	Notices []string
}

// Engine is everything the wizard needs from the upgrade engine. The lead's
// adapter implements it on top of detect, releases and steps.
type Engine interface {
	Detect(ctx context.Context) (Overview, error)
	Targets(ctx context.Context) ([]Target, error)
	Plan(ctx context.Context, to string) (PlanView, error)
	// Run executes the plan; it sends events and closes the channel when the run is over
	// (the last event is EventDone). It reads decisions for EventConfirm events.
	Run(ctx context.Context, to string, events chan<- steps.Event, decisions <-chan steps.Decision)
}

// Options tune the wizard. The zero value is what an admin gets.
type Options struct {
	NoColor       bool
	Now           func() time.Time
	Width, Height int // 0 = terminal

	// Context bounds every engine call; nil means context.Background().
	Context context.Context //nolint:containedctx // the root model owns the run's lifetime.
	// NoAnimation keeps the spinner on its first frame (golden tests).
	NoAnimation bool
	// LogLines bounds each step's log history (0 = DefaultLogLines).
	LogLines int
}

// DefaultLogLines is how many lines of each step's log the run screen keeps.
const DefaultLogLines = 5000
