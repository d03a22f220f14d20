package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// preselect puts the cursor on the latest version one can choose.
func preselect(ts []Target) int {
	last := -1
	for i, t := range ts {
		if selectable(t) {
			if t.Latest {
				return i
			}
			last = i
		}
	}
	return max(last, 0)
}

func selectable(t Target) bool { return !t.Current && t.Blocked == "" }

func (m *model) moveTarget(dir int) {
	for i := m.targetCursor + dir; i >= 0 && i < len(m.targets); i += dir {
		if selectable(m.targets[i]) {
			m.targetCursor = i
			return
		}
	}
}

func (m *model) targetKey(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Up):
		m.moveTarget(-1)
	case key.Matches(msg, m.keys.Down):
		m.moveTarget(1)
	case key.Matches(msg, m.keys.Back):
		return m.emit(backMsg{})
	case key.Matches(msg, m.keys.Enter):
		if m.targetCursor >= len(m.targets) || !selectable(m.targets[m.targetCursor]) {
			m.status = "There is no version to upgrade to."
			return nil
		}
		return m.emit(targetChosenMsg{version: m.targets[m.targetCursor].Version})
	}
	return nil
}

func (m *model) targetView() string {
	s := m.styles
	if m.targetsErr != nil {
		return s.Fail.Render("upshift could not read the release notes.") + "\n\n" +
			wrap(m.targetsErr.Error(), m.width, "  ") + "\n\nNothing was changed. Press esc to go back."
	}
	if m.targets == nil {
		return m.spinner.View() + " Reading the release notes…"
	}
	var b strings.Builder
	if m.overview != nil {
		b.WriteString("You run " + s.Selected.Render(m.overview.Version) + ". Pick the version to upgrade to.\n\n")
	}
	hasStop := false
	for _, t := range m.targets {
		hasStop = hasStop || t.RequiredStop
	}
	// Long version lists scroll around the cursor.
	first, last := 0, len(m.targets)
	if room := m.bodyHeight() - 9; len(m.targets) > room {
		room = max(3, room)
		first = max(0, min(m.targetCursor-room/2, len(m.targets)-room))
		last = first + room
	}
	if first > 0 {
		b.WriteString(s.Subtle.Render("  ↑ "+itoa(first)+" more") + "\n")
	}
	for i := first; i < last; i++ {
		t := m.targets[i]
		cursor := "  "
		name := pad(t.Version, 10)
		if i == m.targetCursor && selectable(t) {
			cursor = s.Selected.Render("> ")
			name = s.Selected.Render(name)
		} else if !selectable(t) {
			name = s.Subtle.Render(name)
		}
		var badges []string
		if t.Current {
			badges = append(badges, s.Subtle.Render("installed now"))
		}
		if t.Latest {
			badges = append(badges, s.Badge.Render("latest"))
		}
		if t.RequiredStop {
			badges = append(badges, s.Badge.Render("required stop"))
		}
		if t.Blocked != "" {
			badges = append(badges, s.Fail.Render("blocked: ")+t.Blocked)
		}
		b.WriteString(cursor + name + " " + strings.Join(badges, " · ") + "\n")
	}
	if last < len(m.targets) {
		b.WriteString(s.Subtle.Render("  ↓ "+itoa(len(m.targets)-last)+" more") + "\n")
	}
	if hasStop {
		b.WriteString("\n" + s.Subtle.Render(wrap("A required stop is a version that must be installed on the way. "+
			"upshift installs it for you before it goes further.", m.width, "")) + "\n")
	}
	b.WriteString("\nPress enter to see what changes. Nothing is changed yet.")
	return b.String()
}
