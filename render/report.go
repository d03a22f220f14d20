package render

import (
	"fmt"
	"io"
	"strings"

	"charm.land/lipgloss/v2"
	"charm.land/lipgloss/v2/table"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/internal/human"
)

// Report prints what detect found: summary lines, the services table,
// the warnings.
func Report(w io.Writer, r *detect.Report, noColor bool) error {
	bold := lipgloss.NewStyle().Bold(true)
	warn := lipgloss.NewStyle().Foreground(lipgloss.Color("#ff5f5f")).Bold(true)
	if noColor {
		bold, warn = lipgloss.NewStyle(), lipgloss.NewStyle()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s  (%s, profile %s)\n", bold.Render("project"), r.Project, r.Dir, r.Profile)
	fmt.Fprintf(&b, "%s %s  (source: %s)\n", bold.Render("version"), r.Version, r.VersionSource)
	if r.VersionLocation != "" {
		fmt.Fprintf(&b, "%s %s\n", bold.Render("version set in"), r.VersionLocation)
	}
	if r.Migration != nil {
		fmt.Fprintf(&b, "%s %s\n", bold.Render("migrations"), r.Migration.Trigger)
	}
	db := r.DB.Engine
	if r.DB.ServerVersion != "" {
		db += " " + r.DB.ServerVersion
		if r.DB.ServerVersionSource != "" && r.DB.ServerVersionSource != "the server" {
			db += " (from the " + r.DB.ServerVersionSource + ")"
		}
	}
	switch {
	case !r.DB.Reachable && r.DB.Service != "" && r.DB.Error == "":
		db += ", service " + r.DB.Service
	case r.DB.Engine != "postgresql" && r.DB.Engine != "sqlite" && r.DB.Error != "":
		db += ", service " + r.DB.Service + " (" + r.DB.Error + ")"
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
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
