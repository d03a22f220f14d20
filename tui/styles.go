package tui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Styles is every look the wizard uses, defined once.
type Styles struct {
	Title     lipgloss.Style // "upshift · Overview"
	Subtle    lipgloss.Style // secondary text
	Label     lipgloss.Style // left column of key/value blocks
	Heading   lipgloss.Style // section headings
	Selected  lipgloss.Style // the row under the cursor
	OK        lipgloss.Style // checks, success
	Fail      lipgloss.Style // crosses, failures
	Warn      lipgloss.Style // warnings that need attention
	Running   lipgloss.Style // the running step
	Badge     lipgloss.Style // "latest", "required stop"
	DiffAdd   lipgloss.Style // "+" lines of a config diff
	DiffDel   lipgloss.Style // "-" lines of a config diff
	DiffHunk  lipgloss.Style // "@@" lines of a config diff
	Prompt    lipgloss.Style // the confirmation box
	Pane      lipgloss.Style // an unfocused pane
	PaneFocus lipgloss.Style // the focused pane
	Status    lipgloss.Style // one-line status messages
	Help      help.Styles
	Glamour   string // glamour standard style name
}

// DefaultStyles returns the wizard's styles; noColor drops every colour but
// keeps bold and reverse so the screens stay readable.
func DefaultStyles(noColor bool) Styles {
	var (
		accent = lipgloss.Color("#7D56F4")
		green  = lipgloss.Color("#3FB950")
		red    = lipgloss.Color("#F85149")
		yellow = lipgloss.Color("#D29922")
		blue   = lipgloss.Color("#58A6FF")
		grey   = lipgloss.Color("#8B949E")
	)
	s := Styles{
		Title:     lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(accent).Padding(0, 1),
		Subtle:    lipgloss.NewStyle().Foreground(grey),
		Label:     lipgloss.NewStyle().Foreground(grey).Width(10),
		Heading:   lipgloss.NewStyle().Bold(true).Foreground(blue),
		Selected:  lipgloss.NewStyle().Bold(true).Foreground(accent),
		OK:        lipgloss.NewStyle().Foreground(green),
		Fail:      lipgloss.NewStyle().Foreground(red).Bold(true),
		Warn:      lipgloss.NewStyle().Foreground(yellow).Bold(true),
		Running:   lipgloss.NewStyle().Foreground(blue).Bold(true),
		Badge:     lipgloss.NewStyle().Foreground(yellow),
		DiffAdd:   lipgloss.NewStyle().Foreground(green),
		DiffDel:   lipgloss.NewStyle().Foreground(red),
		DiffHunk:  lipgloss.NewStyle().Foreground(blue),
		Prompt:    lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(yellow).Padding(0, 1),
		Pane:      lipgloss.NewStyle().Border(lipgloss.NormalBorder()).BorderForeground(grey),
		PaneFocus: lipgloss.NewStyle().Border(lipgloss.NormalBorder()).BorderForeground(accent),
		Status:    lipgloss.NewStyle().Foreground(yellow),
		Help:      help.DefaultDarkStyles(),
		Glamour:   "dark",
	}
	if noColor {
		plain := lipgloss.NewStyle()
		s = Styles{
			Title:     plain.Bold(true).Reverse(true).Padding(0, 1),
			Subtle:    plain,
			Label:     plain.Width(10),
			Heading:   plain.Bold(true),
			Selected:  plain.Bold(true),
			OK:        plain,
			Fail:      plain.Bold(true),
			Warn:      plain.Bold(true),
			Running:   plain.Bold(true),
			Badge:     plain,
			DiffAdd:   plain,
			DiffDel:   plain,
			DiffHunk:  plain,
			Prompt:    plain.Border(lipgloss.RoundedBorder()).Padding(0, 1),
			Pane:      plain.Border(lipgloss.NormalBorder()),
			PaneFocus: plain.Border(lipgloss.ThickBorder()),
			Status:    plain.Bold(true),
			Help: help.Styles{
				Ellipsis: plain, ShortKey: plain.Bold(true), ShortDesc: plain, ShortSeparator: plain,
				FullKey: plain.Bold(true), FullDesc: plain, FullSeparator: plain,
			},
			Glamour: "notty",
		}
	}
	return s
}
