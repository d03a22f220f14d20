package tui

import (
	"regexp"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/seed-e7a9fb3b/upshift/internal/human"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

type resultState struct {
	vp    viewport.Model
	ready bool
}

func (m *model) layoutResult() {
	if m.result == nil || m.run == nil || m.run.done == nil {
		return
	}
	rs := m.result
	if !rs.ready {
		rs.vp = viewport.New()
		rs.ready = true
	}
	rs.vp.SetWidth(m.width)
	rs.vp.SetHeight(m.bodyHeight() - 1)
	rs.vp.SetContent(m.resultContent())
}

func (m *model) resultKey(msg tea.KeyPressMsg) tea.Cmd {
	if m.result == nil {
		return nil
	}
	if key.Matches(msg, m.keys.Enter) {
		return tea.Quit
	}
	var cmd tea.Cmd
	m.result.vp, cmd = m.result.vp.Update(msg)
	return cmd
}

func (m *model) resultTitle() string {
	if m.run == nil || m.run.done == nil {
		return "Result"
	}
	switch m.run.done.Outcome {
	case steps.OutcomeSuccess:
		return "Done"
	case steps.OutcomeRolledBack:
		return "Rolled back"
	case steps.OutcomeAborted:
		return "Cancelled"
	}
	return "Upgrade failed"
}

func (m *model) resultView() string {
	if m.result == nil || !m.result.ready {
		return ""
	}
	more := ""
	if !m.result.vp.AtBottom() {
		more = m.styles.Subtle.Render("↓ more below (↓/j to scroll)")
	}
	return m.result.vp.View() + "\n" + more
}

func (m *model) resultContent() string {
	res := m.run.done
	if res.Outcome == steps.OutcomeSuccess {
		return m.successStory(res)
	}
	return m.failureStory(res)
}

func (m *model) successStory(res *steps.Result) string {
	s := m.styles
	var b strings.Builder
	reached := res.Reached
	if reached == "" {
		reached = res.To
	}
	b.WriteString(s.OK.Render("✓ Upgrade complete: ") + s.Selected.Render(res.From+" → "+reached) + "\n")
	b.WriteString("Your app runs " + reached + " and passed its health checks.\n\n")
	if res.Backup != "" {
		b.WriteString(s.Heading.Render("If you need to go back") + "\n")
		b.WriteString(wrap("upshift kept a backup of everything from before the upgrade: "+res.Backup+".", m.width, "  ") + "\n")
		b.WriteString("  To return to " + res.From + ", run: " + s.Selected.Render("upshift restore "+res.Backup) + "\n")
	}
	b.WriteString("\n" + s.Heading.Render("Steps") + s.Subtle.Render(" · "+human.Duration(m.run.lastTime.Sub(m.run.firstTime))+" in all") + "\n")
	b.WriteString(m.rowsSummary(false))
	if res.Message != "" {
		b.WriteString("\n" + wrap(res.Message, m.width, "") + "\n")
	}
	b.WriteString("\nPress q to leave.")
	return b.String()
}

func (m *model) rowsSummary(rollback bool) string {
	s := m.styles
	var b strings.Builder
	nameW := 10
	for _, row := range m.run.rows {
		nameW = max(nameW, len([]rune(row.info.Name)))
	}
	nameW = min(nameW, m.width-16)
	for _, row := range m.run.rows {
		if row.rollback != rollback || row.status == statusPending {
			continue
		}
		dur := ""
		if row.status != statusRunning {
			dur = human.Duration(row.duration)
		}
		b.WriteString("  " + m.stepIcon(row) + " " + pad(truncate(row.info.Name, nameW), nameW) + " " + s.Subtle.Render(dur) + "\n")
	}
	return b.String()
}

var mattersRE = regexp.MustCompile(`(?i)error|fatal|fail|panic|denied|refused|timeout|cannot|could not|unknown`)

// linesThatMatter picks the failed step's log lines an admin should read
// first: errors if there are any, else the last few lines.
func (m *model) linesThatMatter(id string, n int) []string {
	lr, ok := m.run.logs[id]
	if !ok || lr.Len() == 0 {
		return nil
	}
	var hits []string
	for i := 0; i < lr.Len(); i++ {
		if l := lr.Line(i); mattersRE.MatchString(l) {
			hits = append(hits, l)
		}
	}
	if len(hits) == 0 {
		return lr.Tail(n)
	}
	return hits[max(0, len(hits)-n):]
}

func (m *model) failureStory(res *steps.Result) string {
	s := m.styles
	var b strings.Builder
	section := func(title string) { b.WriteString("\n" + s.Heading.Render(title) + "\n") }
	switch res.Outcome {
	case steps.OutcomeRolledBack:
		b.WriteString(s.Warn.Render("The upgrade to "+res.To+" did not finish. upshift put everything back.") + "\n")
	case steps.OutcomeAborted:
		b.WriteString(s.Warn.Render("You cancelled the upgrade to "+res.To+".") + "\n")
	default:
		b.WriteString(s.Fail.Render("The upgrade to "+res.To+" failed, and upshift could not put everything back.") + "\n")
		b.WriteString("Please do not start, stop or remove containers by hand yet.\n")
	}

	failedID := res.FailedStep
	if failedID == "" {
		for _, row := range m.run.rows {
			if row.status == steps.StatusFailed && !row.rollback {
				failedID = row.info.ID
				break
			}
		}
	}
	if failedID != "" || res.Error != "" {
		section("What failed")
		if i, ok := m.run.index[failedID]; ok {
			row := m.run.rows[i]
			b.WriteString("  " + s.Fail.Render("✗") + " " + row.info.Name + s.Subtle.Render(" ("+row.info.ID+")") + "\n")
			if row.err != "" && row.err != res.Error {
				b.WriteString(wrap(row.err, m.width, "    ") + "\n")
			}
		}
		if res.Error != "" {
			b.WriteString(wrap(res.Error, m.width, "    ") + "\n")
		}
		if res.Cause != "" && !strings.Contains(res.Error, res.Cause) {
			b.WriteString(s.Label.UnsetWidth().Render("    The app's first error line: ") + "\n" + wrap(res.Cause, m.width, "    ") + "\n")
		}
	}
	if lines := m.linesThatMatter(failedID, 6); len(lines) > 0 {
		section("The log lines that matter")
		for _, l := range lines {
			b.WriteString(s.Subtle.Render("  │ ") + truncate(l, m.width-4) + "\n")
		}
	}
	if rb := m.rowsSummary(true); rb != "" {
		section("What upshift did")
		b.WriteString(rb)
	} else if res.Outcome == steps.OutcomeAborted {
		section("What upshift did")
		b.WriteString("  It stopped before changing anything that needs undoing.\n")
	}
	section("The state now")
	switch {
	case res.Reached != "":
		b.WriteString("  Your app runs " + s.Selected.Render(res.Reached) + ".\n")
	case res.From != "":
		b.WriteString("  Your app should run " + res.From + ". Check with: upshift detect\n")
	}
	if res.Backup != "" {
		b.WriteString("  The backup from before the upgrade is kept: " + res.Backup + ".\n")
	}
	section("What to do next")
	switch {
	case res.Next != "":
		b.WriteString(wrap(res.Next, m.width, "  ") + "\n")
	case res.Message != "":
		b.WriteString(wrap(res.Message, m.width, "  ") + "\n")
	}
	if res.Backup != "" && res.Outcome == steps.OutcomeFailed {
		b.WriteString("  To restore the backup: " + s.Selected.Render("upshift restore "+res.Backup) + "\n")
	}
	if res.Log != "" {
		b.WriteString("  Full log: " + s.Selected.Render(res.Log) + "\n")
	} else {
		b.WriteString("  To see the whole log of this run: " + s.Selected.Render("upshift history") + "\n")
	}
	b.WriteString("\nPress q to leave.")
	return b.String()
}
