package tui

import (
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/glamour/v2"
)

// ackItem is one warning from a release note, with whether the admin has
// acknowledged it.
type ackItem struct {
	hop      string
	warning  WarningView
	needsAck bool
	acked    bool
	group    string // items of one group are acknowledged together
}

type changesState struct {
	items      []ackItem
	cursor     int
	notesFocus bool
	notes      viewport.Model
	notesFor   int // width the notes were rendered for
}

func kindRank(kind string) int {
	switch kind {
	case WarningBreaking:
		return 0
	case WarningManualAction:
		return 1
	case WarningRequirement:
		return 2
	case WarningDeprecation:
		return 3
	case WarningRequiredStop:
		return -1
	}
	return 4
}

func kindLabel(kind string) string {
	switch kind {
	case WarningBreaking:
		return "BREAKING"
	case WarningManualAction:
		return "MANUAL ACTION"
	case WarningRequirement:
		return "requirement"
	case WarningDeprecation:
		return "deprecation"
	case WarningRequiredStop:
		return "REQUIRED STOP"
	}
	return kind
}

// newChangesState lists, hop by hop, breaking changes and manual actions
// first: those two must be acknowledged one by one.
func newChangesState(p PlanView) changesState {
	var cs changesState
	for _, h := range p.Hops {
		ws := append([]WarningView(nil), h.Warnings...)
		sort.SliceStable(ws, func(i, j int) bool { return kindRank(ws[i].Kind) < kindRank(ws[j].Kind) })
		for i, w := range ws {
			need := !w.Low && (w.Kind == WarningBreaking || w.Kind == WarningManualAction || w.Kind == WarningRequiredStop)
			group := h.Version + "\x00" + w.Group
			if w.Group == "" {
				group += "\x00" + itoa(i) // a group of its own
			}
			cs.items = append(cs.items, ackItem{hop: h.Version, warning: w, needsAck: need, group: group})
		}
	}
	cs.notes = viewport.New()
	cs.notesFor = -1
	return cs
}

// pending counts the groups still to acknowledge.
func (cs *changesState) pending() int {
	groups := map[string]bool{}
	for _, it := range cs.items {
		if it.needsAck && !it.acked {
			groups[it.group] = true
		}
	}
	return len(groups)
}

// changesListHeight is how many rows the warnings get (at most half the
// body); the notes get the rest.
func (m *model) changesListHeight() int {
	limit := max(4, (m.bodyHeight()-3)/2)
	if len(m.changes.items) == 0 {
		return 1
	}
	return min(limit, strings.Count(m.ackList(1<<20), "\n")+1)
}

func (m *model) layoutChanges() {
	if m.plan == nil {
		return
	}
	cs := &m.changes
	cs.notes.SetWidth(m.width)
	cs.notes.SetHeight(max(1, m.bodyHeight()-m.changesListHeight()-5))
	if cs.notesFor == m.width {
		return
	}
	cs.notesFor = m.width
	cs.notes.SetContent(m.renderNotes(m.width - 4))
}

// renderNotes renders every hop's release notes with glamour. It is pure
// CPU work on text already in memory.
func (m *model) renderNotes(width int) string {
	var md strings.Builder
	for _, h := range m.plan.Hops {
		if strings.TrimSpace(h.NotesMarkdown) == "" {
			md.WriteString("# " + h.Version + "\n\nThis version has no release notes.\n\n")
			continue
		}
		md.WriteString(h.NotesMarkdown + "\n\n")
	}
	r, err := glamour.NewTermRenderer(glamour.WithStandardStyle(m.styles.Glamour), glamour.WithWordWrap(max(20, width)))
	if err != nil {
		return md.String()
	}
	out, err := r.Render(md.String())
	if err != nil {
		return md.String()
	}
	return strings.Trim(out, "\n")
}

func (m *model) changesKey(msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, m.keys.Back) {
		return m.emit(backMsg{})
	}
	if m.plan == nil {
		return nil
	}
	cs := &m.changes
	switch {
	case key.Matches(msg, m.keys.Tab):
		cs.notesFocus = !cs.notesFocus
		return nil
	case key.Matches(msg, m.keys.Enter):
		if n := cs.pending(); n > 0 {
			m.status = "Please acknowledge each breaking change and manual action first (y)."
			return nil
		}
		return m.emit(changesAckedMsg{})
	}
	if cs.notesFocus {
		var cmd tea.Cmd
		cs.notes, cmd = cs.notes.Update(msg)
		return cmd
	}
	switch {
	case key.Matches(msg, m.keys.Up):
		cs.cursor = max(0, cs.cursor-1)
	case key.Matches(msg, m.keys.Down):
		cs.cursor = min(len(cs.items)-1, cs.cursor+1)
	case key.Matches(msg, m.keys.Ack):
		if cs.cursor < len(cs.items) && cs.items[cs.cursor].needsAck {
			// A yes acknowledges the item's whole group (its note section).
			for i := range cs.items {
				if cs.items[i].group == cs.items[cs.cursor].group {
					cs.items[i].acked = true
				}
			}
			m.status = ""
			// Move on to the next item that still needs a yes.
			for i := range cs.items {
				if j := (cs.cursor + i) % len(cs.items); cs.items[j].needsAck && !cs.items[j].acked {
					cs.cursor = j
					break
				}
			}
		}
	}
	return nil
}

func (m *model) changesView() string {
	s := m.styles
	switch {
	case m.planErr != nil:
		return s.Fail.Render("upshift could not plan this upgrade.") + "\n\n" +
			wrap(m.planErr.Error(), m.width, "  ") + "\n\nNothing was changed. Press esc to choose another version."
	case m.plan == nil:
		return m.spinner.View() + " Working out the path to " + m.to + " and reading its release notes…"
	}
	cs := &m.changes
	var b strings.Builder
	hops := make([]string, 0, len(m.plan.Hops))
	for _, h := range m.plan.Hops {
		v := h.Version
		if h.RequiredStop {
			v += s.Badge.Render(" (required stop)")
		}
		hops = append(hops, v)
	}
	b.WriteString("Path: " + m.plan.From + " → " + strings.Join(hops, " → ") + "\n")
	n := cs.pending()
	switch {
	case len(cs.items) == 0:
		b.WriteString("These release notes list no breaking changes. Press enter to see the plan.\n")
	case n > 0:
		b.WriteString(s.Warn.Render("Read each item. Press y to acknowledge it.") + s.Subtle.Render(" "+itoa(n)+" left.") + "\n")
	default:
		b.WriteString(s.OK.Render("✓ All acknowledged.") + " Press enter to see the plan.\n")
	}
	b.WriteString(m.ackList(m.changesListHeight()) + "\n")

	paneStyle := s.Pane
	if cs.notesFocus {
		paneStyle = s.PaneFocus
	}
	label := "Release notes · tab to scroll"
	if cs.notesFocus {
		label = "Release notes · ↑/↓ scroll · tab back to the list"
	}
	b.WriteString(s.Heading.Render(label) + "\n")
	b.WriteString(paneStyle.Width(m.width).BorderLeft(false).BorderRight(false).Render(cs.notes.View()))
	return b.String()
}

// ackList renders the warnings, wrapped, windowed around the cursor.
func (m *model) ackList(height int) string {
	s := m.styles
	cs := &m.changes
	var lines []string
	start := make([]int, len(cs.items))
	hop, group := "", ""
	for i, it := range cs.items {
		if it.hop != hop {
			hop, group = it.hop, ""
			lines = append(lines, s.Heading.Render(it.hop))
		}
		if g := it.warning.Group; g != "" && g != group {
			group = g
			title := g
			if it.warning.Low {
				title += " (not asked: low confidence)"
			}
			lines = append(lines, "  "+s.Subtle.Render(title))
		}
		start[i] = len(lines)
		box := "   "
		if it.needsAck {
			box = "[ ]"
			if it.acked {
				box = s.OK.Render("[x]")
			}
		}
		cursor := "  "
		if i == cs.cursor && !cs.notesFocus {
			cursor = s.Selected.Render("> ")
		}
		label := kindLabel(it.warning.Kind)
		switch it.warning.Kind {
		case WarningBreaking:
			label = s.Fail.Render(label)
		case WarningManualAction:
			label = s.Warn.Render(label)
		default:
			label = s.Subtle.Render(label)
		}
		one := it.warning.Headline
		if one == "" || (i == cs.cursor && !cs.notesFocus) {
			one = it.warning.Text // the whole text under the cursor
		}
		text := wrap(label+" "+one, m.width-6, "")
		for j, l := range strings.Split(text, "\n") {
			if j == 0 {
				lines = append(lines, cursor+box+" "+l)
			} else {
				lines = append(lines, "      "+l)
			}
		}
	}
	if len(lines) <= height {
		return strings.Join(lines, "\n")
	}
	first := 0
	if cs.cursor < len(start) {
		end := len(lines)
		if cs.cursor+1 < len(start) {
			end = start[cs.cursor+1]
		}
		first = min(max(0, end-height), start[cs.cursor])
	}
	return strings.Join(lines[first:first+height], "\n")
}
