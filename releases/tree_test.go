package releases

import (
	"slices"
	"strings"
	"testing"
)

func TestParseNoteRSTGridTable(t *testing.T) {
	body := "Upgrade notes\n=============\n\n" +
		"+---------+------------------------------------------+\n" +
		"| Version | Then...                                  |\n" +
		"+=========+==========================================+\n" +
		"| v3.0    | Upgrading from 1.x directly is not       |\n" +
		"|         | supported: upgrade to 2.4.1 first.       |\n" +
		"|         +------------------------------------------+\n" +
		"|         | The ``CACHE_DIR`` setting was removed.   |\n" +
		"+---------+------------------------------------------+\n" +
		"| v2.0    | Nothing to do.                           |\n" +
		"+---------+------------------------------------------+\n"
	doc := ParseNote(body, "")
	if doc.Format != FormatRST {
		t.Fatalf("format %s, want rst", doc.Format)
	}
	var got []string
	for _, b := range doc.Blocks {
		got = append(got, strings.Join(b.Section, "/")+": "+b.Plain)
	}
	want := []string{
		"Upgrade notes/v3.0: Upgrading from 1.x directly is not supported: upgrade to 2.4.1 first.",
		"Upgrade notes/v3.0: The `CACHE_DIR` setting was removed.",
		"Upgrade notes/v2.0: Nothing to do.",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("blocks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ws := Extract(Note{Version: "3.0.0", Body: body})
	if len(ws) != 2 || ws[0].Kind != KindRequiredStop || len(ws[0].Stops) != 1 || ws[0].Stops[0].Version != "2.4.1" {
		t.Fatalf("warnings %+v", ws)
	}
	if !strings.HasPrefix(ws[1].Headline, "v3.0: ") {
		t.Errorf("headline %q does not name its subject", ws[1].Headline)
	}
}

func TestParseNoteBacktickUnderline(t *testing.T) {
	// RST allows backticks as a heading underline; Markdown would open a
	// code fence there and swallow the rest.
	body := "Changes\n```````\n\n* ``OLD_KEY`` has been renamed to ``NEW_KEY``.\n"
	ws := Extract(Note{Version: "1.0.0", Body: body})
	if len(ws) != 1 || len(ws[0].Renames) != 1 || ws[0].Renames[0].To != "NEW_KEY" {
		t.Fatalf("warnings %+v", ws)
	}
}

func TestGroup(t *testing.T) {
	ws := []Warning{
		{Version: "2.0.0", Kind: KindBreaking, Headline: "a", Section: []string{"Breaking"}, Confidence: ConfidenceHigh},
		{Version: "2.0.0", Kind: KindManualAction, Headline: "b", Section: []string{"Upgrade"}, Confidence: ConfidenceHigh},
		{Version: "2.0.0", Kind: KindBreaking, Headline: "c", Section: []string{"Breaking"}, Confidence: ConfidenceHigh},
		{Version: "2.0.0", Kind: KindManualAction, Headline: "d", Confidence: ConfidenceLow},
		{Version: "2.1.0", Kind: KindDeprecation, Headline: "e", Confidence: ConfidenceHigh},
	}
	gs := Group(ws)
	var got []string
	for _, g := range gs {
		var hs []string
		for _, w := range g.Warnings {
			hs = append(hs, w.Headline)
		}
		got = append(got, g.Title()+"="+strings.Join(hs, ","))
	}
	want := []string{"2.0.0 · Breaking=a,c", "2.0.0 · Upgrade=b", "2.0.0 · may concern you=d", "2.1.0=e"}
	if !slices.Equal(got, want) {
		t.Fatalf("groups %q, want %q", got, want)
	}
}

func TestPlanNoteStops(t *testing.T) {
	p, notes := demoProfile(t), demoNotes(t)
	path, err := PlanPath(p, notes, "1.0.0", "2.0.0", DBFacts{Engine: "postgresql", ServerVersion: "16.4"})
	if err != nil {
		t.Fatal(err)
	}
	if len(path.NoteStops) != 1 || path.NoteStops[0].Version != "1.1.0" || !path.NoteStops[0].Confirmed {
		t.Fatalf("note stops %+v, want 1.1.0 confirmed by the profile", path.NoteStops)
	}
	if path.NoteStops[0].Reason == "" {
		t.Error("a note stop needs the note's sentence as its reason")
	}
}
