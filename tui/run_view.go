package tui

import (
	"strings"

	"charm.land/bubbles/v2/progress"
	"charm.land/lipgloss/v2"

	"github.com/seed-e7a9fb3b/upshift/internal/human"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

func (m *model) runTitle() string {
	from := ""
	if m.overview != nil {
		from = m.overview.Version + " → "
	}
	if m.run != nil && m.run.rollingBack != "" {
		return "Rolling back · " + from + m.to
	}
	return "Upgrading · " + from + m.to
}

// stepsWidth is the width of the step list pane's content.
func (m *model) stepsWidth() int { return max(26, min(44, m.width*2/5)) }

// runPaneHeights returns the panes' outer height and the log lines shown.
func (m *model) runPaneHeights() (outer, logLines int) {
	outer = m.bodyHeight() - 1
	logLines = outer - 3 // borders and the pane's own header
	if row := m.runningRow(); row != nil && row.progressTotal > 0 {
		logLines--
	}
	return outer, max(1, logLines)
}

func (m *model) runningRow() *stepRow {
	if m.run == nil {
		return nil
	}
	if i, ok := m.run.index[m.run.viewing]; ok {
		return m.run.rows[i]
	}
	return nil
}

func (m *model) runView() string {
	r := m.run
	if r == nil {
		return ""
	}
	s := m.styles
	outer, logLines := m.runPaneHeights()
	var banner string
	switch {
	case r.cancelling:
		banner = s.Warn.Render("cancelling… ") + "upshift is stopping safely. It leaves once the engine is done."
	case r.rollingBack != "":
		banner = s.Fail.Render("Something failed: ") + r.rollingBack + s.Warn.Render(" · rolling back")
	case r.declined:
		banner = s.Warn.Render("You said no.") + " upshift is stopping the upgrade safely…"
	default:
		banner = m.runSummary()
	}
	banner = fit(banner, m.width, 1)

	leftW := m.stepsWidth()
	rightW := max(20, m.width-leftW-4)
	left := m.stepList(leftW, outer-2)
	var right string
	switch {
	case r.askingCancel:
		right = m.cancelPrompt(rightW, outer-2)
	case r.confirm != nil:
		right = m.confirmPrompt(rightW, outer-2)
	default:
		right = m.logView(rightW, logLines)
	}
	lp, rp := s.Pane, s.PaneFocus
	if !r.logFocus {
		lp, rp = s.PaneFocus, s.Pane
	}
	if r.confirm != nil || r.askingCancel {
		lp, rp = s.Pane, s.Prompt.Padding(0)
	}
	panes := lipgloss.JoinHorizontal(lipgloss.Top,
		lp.Width(leftW+2).Height(outer).Render(left),
		rp.Width(rightW+2).Height(outer).Render(right))
	return banner + "\n" + panes
}

func (m *model) runSummary() string {
	r := m.run
	done := 0
	for _, row := range r.rows {
		if row.status == steps.StatusOK || row.status == steps.StatusSkipped {
			done++
		}
	}
	return itoa(done) + " of " + itoa(len(r.rows)) + " steps done · " + human.Duration(m.now().Sub(r.firstTime)) + " so far"
}

func (m *model) stepIcon(row *stepRow) string {
	s := m.styles
	switch row.status {
	case statusRunning:
		if m.run.confirm != nil && m.run.confirm.Step == row.info.ID {
			return s.Warn.Render("?")
		}
		return m.spinner.View()
	case steps.StatusOK:
		return s.OK.Render("✓")
	case steps.StatusFailed:
		return s.Fail.Render("✗")
	case steps.StatusSkipped:
		return s.Subtle.Render("–")
	}
	return s.Subtle.Render("·")
}

func (m *model) stepList(width, height int) string {
	r := m.run
	s := m.styles
	var lines []string
	rowLine := make([]int, len(r.rows))
	hop, rb := "\x00", false
	for i, row := range r.rows {
		if row.rollback && !rb {
			rb = true
			lines = append(lines, s.Fail.Render("rollback"))
		} else if g := groupOf(row.info); !row.rollback && g != hop {
			hop = g
			switch {
			case row.info.Group != "":
				lines = append(lines, s.Subtle.Render(row.info.Group))
			case hop != "":
				lines = append(lines, s.Subtle.Render("to "+hop))
			}
		}
		rowLine[i] = len(lines)
		dur := ""
		switch row.status {
		case statusRunning:
			dur = human.Duration(m.now().Sub(row.started))
		case steps.StatusOK, steps.StatusFailed, steps.StatusSkipped:
			dur = human.Duration(row.duration)
		}
		name := row.info.Name
		nameW := width - 3 - lipgloss.Width(dur) - 1
		name = pad(truncate(name, nameW), nameW)
		if i == r.cursor {
			name = s.Selected.Render(name)
		} else if row.status == statusRunning {
			name = s.Running.Render(name)
		}
		lines = append(lines, " "+m.stepIcon(row)+" "+name+" "+s.Subtle.Render(dur))
	}
	if len(lines) > height && len(r.rows) > 0 {
		first := max(0, min(len(lines)-height, rowLine[r.cursor]-height/2))
		lines = lines[first : first+height]
	}
	return strings.Join(lines, "\n")
}

func truncate(s string, w int) string {
	if lipgloss.Width(s) <= w {
		return s
	}
	return ansiTruncate(s, w)
}

func (m *model) logView(width, lines int) string {
	r := m.run
	s := m.styles
	head := "Log"
	if i, ok := r.index[r.viewing]; ok {
		head += " · " + r.rows[i].info.Name
	}
	switch {
	case r.pane.ring == nil:
		head += s.Subtle.Render(" · no output yet")
	case !r.pane.follow:
		head += s.Warn.Render(" · paused")
	case r.pane.ring.Dropped() > 0:
		head += s.Subtle.Render(" · last " + itoa(r.pane.ring.Len()) + " lines")
	}
	out := truncate(s.Heading.Render(head), width) + "\n" + r.pane.Render(width, lines)
	if row := m.runningRow(); row != nil && row.progressTotal > 0 {
		out += "\n" + m.progressLine(row, width)
	}
	return out
}

func (m *model) progressLine(row *stepRow, width int) string {
	pct := float64(row.progressDone) / float64(row.progressTotal)
	label := " " + human.Bytes(row.progressDone) + " / " + human.Bytes(row.progressTotal)
	bar := progress.New(progress.WithWidth(max(10, width-lipgloss.Width(label))), progress.WithoutPercentage(),
		progress.WithColors(lipgloss.Color("#3FB950")))
	if m.noColor {
		bar = progress.New(progress.WithWidth(max(10, width-lipgloss.Width(label))), progress.WithoutPercentage(),
			progress.WithColors(lipgloss.NoColor{}), progress.WithFillCharacters('#', '.'))
	}
	return bar.ViewAs(min(1, pct)) + label
}

// confirmPrompt shows exactly what the step will do before it asks.
func (m *model) confirmPrompt(width, height int) string {
	r := m.run
	s := m.styles
	ev := r.confirm
	row := r.row(ev.Step)
	var lines []string
	add := func(block string) { lines = append(lines, strings.Split(block, "\n")...) }
	add(s.Warn.Render("Confirm · " + row.info.Name))
	if row.info.Explain != "" {
		add(wrap(row.info.Explain, width, ""))
	}
	if len(row.info.Touches) > 0 {
		add(s.Label.UnsetWidth().Render("It touches: ") + strings.Join(row.info.Touches, ", "))
	}
	if ev.Prompt != "" {
		add("")
		add(m.renderPrompt(ev.Prompt, width))
	}
	question := s.Warn.Render("Go ahead? (y/n)") + s.Subtle.Render(" · n stops the upgrade safely")
	switch {
	case ev.Consent:
		// Agreeing to a document is the admin's own act, asked as such.
		question = s.Warn.Render("Do you agree to these documents? (y/n)") + s.Subtle.Render(" · n stops the upgrade, nothing changed")
	case ev.Doubt && row.info.ReadOnly:
		// A rehearsal's doubt: nothing to roll back yet.
		question = s.Warn.Render("Go on to the real upgrade? (y/n)") + s.Subtle.Render(" · n stops the upgrade, nothing changed")
	case ev.Doubt:
		question = s.Warn.Render("Keep it running? (y/n)") + s.Subtle.Render(" · n rolls back to the restore point")
	}
	body := height - 1
	if len(lines) > body {
		r.promptOffset = min(r.promptOffset, len(lines)-body)
		lines = lines[r.promptOffset : r.promptOffset+body]
		question += s.Subtle.Render(" · ↑/↓ scroll")
	}
	for len(lines) < body {
		lines = append(lines, "")
	}
	return strings.Join(append(lines, question), "\n")
}

// renderPrompt colours a unified diff inside a prompt: + green, - red.
func (m *model) renderPrompt(p string, width int) string {
	s := m.styles
	var out []string
	for _, l := range strings.Split(strings.TrimRight(p, "\n"), "\n") {
		l = cleanLine(l)
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			out = append(out, s.Subtle.Render(truncate(l, width)))
		case strings.HasPrefix(l, "@@"):
			out = append(out, s.DiffHunk.Render(truncate(l, width)))
		case strings.HasPrefix(l, "+"):
			out = append(out, s.DiffAdd.Render(truncate(l, width)))
		case strings.HasPrefix(l, "-"):
			out = append(out, s.DiffDel.Render(truncate(l, width)))
		case strings.HasPrefix(l, " "):
			out = append(out, truncate(l, width))
		default:
			out = append(out, wrap(l, width, ""))
		}
	}
	return strings.Join(out, "\n")
}

func (m *model) cancelPrompt(width, height int) string {
	s := m.styles
	text := s.Warn.Render("Cancel the upgrade?") + "\n\n" +
		wrap("upshift stops the running step, puts back what it changed, and then tells you where things stand. "+
			"This can take a moment.", width, "") + "\n\n" +
		s.Warn.Render("Cancel? (y/n)") + s.Subtle.Render(" · n keeps going")
	return fit(text, width, height)
}
