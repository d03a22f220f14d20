package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seed-e7a9fb3b/upshift/releases"
)

// notesJSON is the stable output of `upshift notes --json`.
type notesJSON struct {
	Notes []notesJSONNote `json:"notes"`
}

type notesJSONNote struct {
	Version  string             `json:"version"`
	Title    string             `json:"title,omitempty"`
	Warnings []releases.Warning `json:"warnings"`
}

func newNotesCmd() *cobra.Command {
	var ver string
	var jsonOut, full bool
	cmd := &cobra.Command{
		Use:   "notes FILE|DIR",
		Short: "Show what a release asks of the admin, straight from its notes",
		Long: `Reads a release note, a changelog (Markdown or reStructuredText) or a
directory of notes (<version>.md files, or Towncrier newsfragments) and
prints the warnings plan would show: breaking changes, manual actions,
requirements, deprecations and required stops, one headline each, grouped
per version and section. Needs no stack, no Docker and no network.

--version names the version of a file without a version heading (or picks
one version out of a changelog).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("notes takes one FILE or DIR, got %d arguments: upshift notes CHANGELOG.md [--version 1.2.0]", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if ver != "" {
				if _, err := releases.Parse(ver); err != nil {
					return usageError{fmt.Errorf("--version %q: %w", ver, err)}
				}
			}
			notes, err := releases.ReadNotes(args[0], ver)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return fmt.Errorf("%w. Nothing was read; check the path", err)
			}
			if err != nil {
				return err
			}
			out := notesJSON{Notes: []notesJSONNote{}}
			for _, n := range notes {
				ws := releases.Extract(n)
				if ws == nil {
					ws = []releases.Warning{}
				}
				out.Notes = append(out.Notes, notesJSONNote{Version: n.Version, Title: n.Title, Warnings: ws})
			}
			if jsonOut {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return wrapWrite(enc.Encode(out))
			}
			return wrapWrite(notesPrint(cmd.OutOrStdout(), out, full))
		},
	}
	cmd.Flags().StringVar(&ver, "version", "", "the version of a note without a version heading, or the one version to show")
	cmd.Flags().BoolVar(&jsonOut, "json", false, `print {"notes": [{"version", "warnings": [...]}]}`)
	cmd.Flags().BoolVar(&full, "full", false, "print each warning's full text under its headline")
	return cmd
}

// notesPrint writes headlines grouped per version and section.
func notesPrint(w io.Writer, out notesJSON, full bool) error {
	var sb strings.Builder
	total := 0
	for _, n := range out.Notes {
		name := n.Version
		if name == "" {
			name = "(no version)"
		}
		if len(n.Warnings) == 0 {
			fmt.Fprintf(&sb, "%s: nothing to act on\n", name)
			continue
		}
		fmt.Fprintf(&sb, "%s:\n", name)
		for _, g := range releases.Group(n.Warnings) {
			title := strings.Join(g.Section, " › ")
			if g.Low {
				title = "may concern you"
			}
			if title != "" {
				fmt.Fprintf(&sb, "  %s\n", title)
			}
			for _, wr := range g.Warnings {
				total++
				fmt.Fprintf(&sb, "    ! %-13s %s\n", wr.Kind, wr.Headline)
				if full {
					for _, l := range strings.Split(wr.Text, "\n") {
						fmt.Fprintf(&sb, "        %s\n", l)
					}
				}
			}
		}
	}
	if total > 0 && !full {
		sb.WriteString("\n(--full prints the text of each warning)\n")
	}
	_, err := io.WriteString(w, sb.String())
	return err //nolint:wrapcheck // the caller wraps it with wrapWrite
}
