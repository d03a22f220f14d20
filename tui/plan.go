package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/seed-e7a9fb3b/upshift/internal/human"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

type planState struct {
	explain bool
	vp      viewport.Model
	ready   bool
}

func (m *model) layoutPlan() {
	if m.plan == nil {
		return
	}
	ps := &m.planPage
	if !ps.ready {
		ps.vp = viewport.New()
		ps.ready = true
	}
	ps.vp.SetWidth(m.width)
	ps.vp.SetHeight(m.bodyHeight() - 2)
	ps.vp.SetContent(m.planContent())
}

// canStart says why the run may not start, "" when it may.
func (m *model) cannotStart() string {
	p := m.plan
	if p.Blocked {
		return "This upgrade cannot start: " + strings.Join(p.Blockers, "; ") + "."
	}
	for _, c := range p.Preconditions {
		if !c.OK {
			return "A check failed (" + c.Name + "). Fix it, then run upshift again."
		}
	}
	return ""
}

func (m *model) planKey(msg tea.KeyPressMsg) tea.Cmd {
	ps := &m.planPage
	switch {
	case key.Matches(msg, m.keys.Back):
		return m.emit(backMsg{})
	case key.Matches(msg, m.keys.Explain):
		ps.explain = !ps.explain
		ps.vp.SetContent(m.planContent())
		return nil
	case key.Matches(msg, m.keys.Enter):
		if why := m.cannotStart(); why != "" {
			m.status = why
			return nil
		}
		return m.emit(planApprovedMsg{})
	}
	var cmd tea.Cmd
	ps.vp, cmd = ps.vp.Update(msg)
	return cmd
}

func (m *model) planContent() string {
	s := m.styles
	p := m.plan
	var b strings.Builder
	if p.Blocked {
		b.WriteString(s.Fail.Render("✗ This upgrade cannot start.") + "\n")
		for _, r := range p.Blockers {
			b.WriteString(wrap(r, m.width, "  ") + "\n")
		}
		b.WriteString("\n")
	}
	for _, n := range p.Notices {
		b.WriteString(wrap("! "+n, m.width, "  ") + "\n")
	}
	if len(p.Notices) > 0 {
		b.WriteString("\n")
	}
	if len(p.Preconditions) > 0 {
		b.WriteString(s.Heading.Render("Checks before anything changes") + "\n")
		for _, c := range p.Preconditions {
			mark := s.OK.Render("✓")
			if !c.OK {
				mark = s.Fail.Render("✗")
			}
			line := mark + " " + c.Name
			if c.Detail != "" {
				line += s.Subtle.Render(" · " + c.Detail)
			}
			b.WriteString("  " + line + "\n")
		}
		b.WriteString("\n")
	}
	backup := p.BackupDir
	if p.BackupEstimate > 0 {
		backup += s.Subtle.Render(" (about " + human.Bytes(p.BackupEstimate) + ")")
	}
	b.WriteString(s.Label.Render("Backup") + " " + backup + "\n")
	down := "none expected"
	if p.ExpectedDowntime > 0 {
		down = "about " + human.Duration(p.ExpectedDowntime) + s.Subtle.Render(" (your app is stopped meanwhile)")
	}
	b.WriteString(s.Label.Render("Downtime") + " " + down + "\n\n")

	b.WriteString(s.Heading.Render("Steps") + s.Subtle.Render(" · e shows what each step does") + "\n")
	hop := "\x00"
	for i, st := range p.Steps {
		if g := groupOf(st); g != hop {
			hop = g
			switch {
			case st.Group != "":
				b.WriteString(s.Subtle.Render(" "+st.Group) + "\n")
			case hop == "":
				b.WriteString(s.Subtle.Render(" for the whole upgrade") + "\n")
			default:
				b.WriteString(s.Subtle.Render(" to "+hop) + "\n")
			}
		}
		line := "  " + pad(itoa(i+1)+".", 4) + st.Name
		if st.Confirm {
			line += s.Badge.Render("  · asks you first")
		}
		b.WriteString(line + "\n")
		if m.planPage.explain && st.Explain != "" {
			b.WriteString(s.Subtle.Render(wrap(st.Explain, m.width, "      ")) + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func (m *model) planView() string {
	if m.plan == nil {
		return m.spinner.View() + " Working out the plan…"
	}
	foot := "Press enter to start the upgrade. Steps that stop your app ask you first."
	if why := m.cannotStart(); why != "" {
		foot = m.styles.Fail.Render(why)
	}
	more := ""
	if !m.planPage.vp.AtBottom() {
		more = m.styles.Subtle.Render("↓ more below (↓/j to scroll)")
	}
	return m.planPage.vp.View() + "\n" + more + "\n" + foot
}

// groupOf is what a step is listed under: its Group, else its hop.
func groupOf(st steps.StepInfo) string {
	if st.Group != "" {
		return "\x01" + st.Group
	}
	return st.Hop
}
