package render

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// History prints the journaled runs, newest first (JSON rows with --json).
func History(w io.Writer, runs []*steps.RunState, asJSON bool) error {
	if asJSON {
		type row struct {
			steps.RunInfo
			Outcome     string   `json:"outcome"`
			State       string   `json:"state"` // not started, rolled back, ROLLBACK FAILED, ...
			Backups     []string `json:"backups"`
			FailedStep  string   `json:"failed_step,omitempty"`
			Interrupted bool     `json:"interrupted"`
		}
		rows := []row{}
		for _, r := range runs {
			o := "interrupted"
			if r.Result != nil {
				o = r.Result.Outcome
			}
			state, _ := runState(r)
			rows = append(rows, row{RunInfo: r.Info, Outcome: o, State: state, Backups: r.Backups, FailedStep: r.Failed, Interrupted: r.Interrupted})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return writeErr(enc.Encode(rows))
	}
	if len(runs) == 0 {
		_, _ = fmt.Fprintln(w, "no upgrade runs journaled for this project yet")
	}
	for _, r := range runs {
		o, detail := runState(r)
		if detail != "" {
			o += " (" + detail + ")"
		}
		_, _ = fmt.Fprintf(w, "%s  %s → %s  %s", r.Info.Started.Local().Format(time.DateTime), r.Info.From, r.Info.To, o)
		if r.Failed != "" {
			_, _ = fmt.Fprintf(w, "  (failed at %s)", r.Failed)
		}
		if len(r.Backups) > 0 {
			_, _ = fmt.Fprintf(w, "  backup %s", r.Backups[0])
		}
		_, _ = fmt.Fprintln(w)
	}
	return nil
}

func writeErr(err error) error {
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// Backups lists backup sets, newest first (the manifests with --json).
func Backups(w io.Writer, root string, sets []*backup.Set, asJSON bool) error {
	if asJSON {
		type row struct {
			ID       string          `json:"id"`
			Dir      string          `json:"dir"`
			Manifest backup.Manifest `json:"manifest"`
		}
		rows := []row{}
		for _, s := range sets {
			rows = append(rows, row{ID: s.ID, Dir: s.Dir, Manifest: s.Manifest})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return writeErr(enc.Encode(rows))
	}
	if len(sets) == 0 {
		_, _ = fmt.Fprintln(w, "no backup sets in "+root)
	}
	for _, s := range sets {
		_, _ = fmt.Fprintf(w, "%s  %s %s  schema %s  %s\n", s.ID, s.Manifest.App, s.Manifest.Version, s.Manifest.Schema.Head, s.Dir)
	}
	return nil
}

// profileListing is one line of `upshift profiles --json`.
type profileListing struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Source      string `json:"source"`         // builtin or file
	File        string `json:"file,omitempty"` // when Source is file
	// VersionLocation and MigrationTrigger say where the version lives and
	// what migrates the schema.
	VersionLocation  string   `json:"version_location,omitempty"`
	MigrationMode    string   `json:"migration_mode,omitempty"`
	MigrationTrigger string   `json:"migration_trigger,omitempty"`
	DBEngines        []string `json:"db_engines,omitempty"`
}

// Profiles lists profiles (built-in or the file they come from).
func Profiles(out io.Writer, all []*profile.Profile, asJSON bool) error {
	var rows []profileListing
	for _, p := range all {
		row := profileListing{
			Name: p.Name, Description: p.Description, Source: "builtin",
			VersionLocation: p.VersionLocation(), MigrationMode: p.Migration.Mode, MigrationTrigger: p.MigrationTrigger(), DBEngines: p.Engines(),
		}
		if p.Source != profile.SourceBuiltin {
			row.Source, row.File = "file", p.Source
		}
		rows = append(rows, row)
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return fmt.Errorf("write profiles: %w", err)
		}
	} else {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		_, _ = fmt.Fprintln(tw, "NAME\tSOURCE\tDESCRIPTION")
		for _, r := range rows {
			src := r.Source
			if r.File != "" {
				src = r.File
			}
			_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, src, r.Description)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write profiles: %w", err)
		}
	}
	return nil
}
