package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"charm.land/lipgloss/v2"
	"charm.land/lipgloss/v2/table"
	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/engine"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
)

func newDetectCmd() *cobra.Command {
	var f stackFlags
	var offline bool
	cmd := &cobra.Command{
		Use:   "detect",
		Short: "Show what is running: app, version, database, schema head, containers",
		Long: `Reads the compose project (--dir, or -p NAME for a running project), recognises
the app, and reports its version (and where that came from), the database
server, the schema head, the containers and anything that looks wrong
(dirty migrations, image and schema out of step). Changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			profiles, err := engine.Profiles()
			if err != nil {
				return err
			}
			var eng *dockerx.Engine
			if !offline {
				eng, err = dockerx.Connect(ctx)
				if err != nil {
					return err
				}
				defer func() { _ = eng.Close() }()
			}
			det, err := detect.Detect(ctx, eng, detect.Options{StackOptions: f.stackOptions(), Profile: f.profile, Profiles: profiles, Offline: offline})
			if err != nil {
				return err
			}
			if f.jsonOut {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(det.Report); err != nil {
					return wrapWrite(err)
				}
			} else if err := printReport(cmd.OutOrStdout(), &det.Report, f.noColor || os.Getenv("NO_COLOR") != ""); err != nil {
				return err
			}
			if offline {
				return nil
			}
			return detectProblem(&det.Report)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&offline, "offline", false, "read only the compose files: no Docker, no database")
	return cmd
}

func wrapWrite(err error) error {
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func printReport(w io.Writer, r *detect.Report, noColor bool) error {
	bold := lipgloss.NewStyle().Bold(true)
	warn := lipgloss.NewStyle().Foreground(lipgloss.Color("#ff5f5f")).Bold(true)
	if noColor {
		bold, warn = lipgloss.NewStyle(), lipgloss.NewStyle()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s  (%s, profile %s)\n", bold.Render("project"), r.Project, r.Dir, r.Profile)
	fmt.Fprintf(&b, "%s %s  (source: %s)\n", bold.Render("version"), r.Version, r.VersionSource)
	db := r.DB.Engine
	if r.DB.ServerVersion != "" {
		db += " " + r.DB.ServerVersion
	}
	switch {
	case r.DB.Reachable && r.DB.Engine == "sqlite":
		db += fmt.Sprintf(", file %s, service %s, %s", r.DB.Address, r.DB.Service, human.Bytes(r.DB.SizeBytes))
	case r.DB.Reachable:
		db += fmt.Sprintf(", service %s, %s, %d connections", r.DB.Service, human.Bytes(r.DB.SizeBytes), r.DB.Connections)
	case r.DB.Error != "":
		db += " (not reachable: " + r.DB.Error + ")"
	}
	fmt.Fprintf(&b, "%s %s\n", bold.Render("database"), db)
	head := r.Schema.Head
	if head == "" {
		head = "-"
	}
	dirty := ""
	if r.Schema.Dirty {
		dirty = warn.Render("  DIRTY")
	}
	fmt.Fprintf(&b, "%s %s head %s%s\n", bold.Render("schema"), r.Schema.Tool, head, dirty)
	t := table.New().Headers("SERVICE", "ROLE", "IMAGE", "STATE", "HEALTH", "RESTARTS")
	if noColor {
		t = t.Border(lipgloss.ASCIIBorder())
	} else {
		t = t.Border(lipgloss.NormalBorder())
	}
	for _, s := range r.Services {
		t.Row(s.Name, s.Role, s.Image, s.State, s.Health, fmt.Sprint(s.RestartCount))
	}
	b.WriteString(t.Render() + "\n")
	for _, wline := range r.Warnings {
		b.WriteString(warn.Render("! ") + wline + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return wrapWrite(err)
}

// detectProblem turns what detect could not tell into a non-zero exit: the
// report is printed, but a script must not take a half-known stack for a
// healthy one.
func detectProblem(r *detect.Report) error {
	switch {
	case (r.DB.Engine == "postgresql" || r.DB.Engine == "sqlite") && !r.DB.Reachable:
		return &exitError{code: exitFailure, err: fmt.Errorf("the database could not be read: %s", r.DB.Error)}
	case r.DB.Reachable && r.Schema.Head == "" && r.Schema.Tool != "none" && r.Schema.Detail != "":
		return &exitError{code: exitFailure, err: fmt.Errorf("the schema head could not be read: %s", r.Schema.Detail)}
	default:
		return nil
	}
}
