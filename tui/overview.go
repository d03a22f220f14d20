package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

func (m *model) overviewKey(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Enter):
		if m.overview == nil {
			return nil
		}
		return m.emit(overviewDoneMsg{})
	case key.Matches(msg, m.keys.Refresh):
		m.overview, m.detectErr = nil, nil
		return tea.Batch(m.detectCmd(), m.targetsCmd())
	}
	return nil
}

func (m *model) overviewView() string {
	s := m.styles
	if m.detectErr != nil {
		return s.Fail.Render("upshift could not read your stack.") + "\n\n" +
			wrap(m.detectErr.Error(), m.width, "  ") + "\n\n" +
			"Nothing was changed. Fix the problem above, then press r to look again."
	}
	if m.overview == nil {
		return m.spinner.View() + " Looking at your stack: containers, database, schema…\n\n" +
			s.Subtle.Render("This only reads. Nothing is changed.")
	}
	ov := m.overview
	var b strings.Builder
	row := func(label, value string) {
		b.WriteString(s.Label.Render(label) + " " + value + "\n")
	}
	app := ov.App + " " + s.Selected.Render(ov.Version)
	if ov.VersionSource != "" {
		app += s.Subtle.Render(" (from " + ov.VersionSource + ")")
	}
	row("App", app)
	if ov.Profile != "" {
		row("Profile", ov.Profile)
	}
	row("Project", ov.Project+s.Subtle.Render("  "+ov.Dir))
	db := strings.TrimSpace(ov.DBEngine + " " + ov.DBVersion)
	if ov.DBSize != "" {
		db += s.Subtle.Render(" · " + ov.DBSize)
	}
	row("Database", db)
	schema := strings.TrimSpace(ov.SchemaTool + " head " + ov.SchemaHead)
	if ov.SchemaHead == "" {
		schema = s.Subtle.Render("no schema head found")
	}
	if ov.SchemaDirty {
		schema += " " + s.Fail.Render("(dirty: a migration did not finish)")
	}
	row("Schema", schema)

	if len(ov.Warnings) > 0 {
		b.WriteString("\n")
		for _, w := range ov.Warnings {
			b.WriteString(s.Warn.Render("⚠ ") + s.Warn.Render(ansi.Wordwrap(w, m.width-4, "")) + "\n")
		}
	}

	b.WriteString("\n" + s.Heading.Render("Containers") + "\n")
	b.WriteString(m.servicesTable(ov.Services))

	b.WriteString("\n")
	if len(ov.Warnings) > 0 {
		b.WriteString("Read the warnings above first. ")
	}
	b.WriteString("Press enter to choose a version.")
	return b.String()
}

func (m *model) servicesTable(rows []ServiceRow) string {
	if len(rows) == 0 {
		return m.styles.Subtle.Render("  no containers found") + "\n"
	}
	s := m.styles
	nameW, roleW := 4, 4
	for _, r := range rows {
		nameW = max(nameW, lipgloss.Width(r.Name))
		roleW = max(roleW, lipgloss.Width(r.Role))
	}
	const stateW, healthW, restartsW = 8, 9, 8
	imageW := max(10, m.width-2-nameW-roleW-stateW-healthW-restartsW-5)
	line := func(name, role, image, state, health, restarts string) string {
		return "  " + pad(name, nameW) + " " + pad(role, roleW) + " " + pad(ansi.Truncate(image, imageW, "…"), imageW) +
			" " + state + " " + health + " " + restarts
	}
	var b strings.Builder
	b.WriteString(s.Subtle.Render(line("NAME", "ROLE", "IMAGE", pad("STATE", stateW), pad("HEALTH", healthW), "RESTARTS")) + "\n")
	for _, r := range rows {
		state := pad(r.State, stateW)
		if r.State == "running" {
			state = s.OK.Render(state)
		} else {
			state = s.Fail.Render(state)
		}
		health := pad(orDash(r.Health), healthW)
		switch r.Health {
		case "healthy":
			health = s.OK.Render(health)
		case "unhealthy":
			health = s.Fail.Render(health)
		}
		restarts := fmt.Sprint(r.Restarts)
		if r.Restarts > 0 {
			restarts = s.Warn.Render(restarts)
		}
		b.WriteString(line(r.Name, r.Role, r.Image, state, health, restarts) + "\n")
	}
	return b.String()
}

func pad(s string, w int) string {
	if d := w - lipgloss.Width(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
