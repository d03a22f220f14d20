// Command noteseval scores upshift's release-note extraction against
// labels of real release notes. The labels (labels.yaml, next to this
// file) name each section's source, whether it holds something the admin
// must know, the kinds, short anchors of each must-know item and decoy
// phrases; they never hold the notes' text. The texts stay outside the
// repository: pass the directory they were saved in.
//
//	go run ./internal/noteseval DIR             # score every labelled section
//	go run ./internal/noteseval -v DIR          # and list misses and decoys
//	go run ./internal/noteseval -show FILE [-version V]   # what extraction sees
//
// It fetches nothing.
package main

import (
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/seed-e7a9fb3b/upshift/releases"
)

// embeddedLabels is labels.yaml, so the command runs from any directory.
//
//go:embed labels.yaml
var embeddedLabels []byte

func main() {
	labels := flag.String("labels", "", "labels file (default: the labels.yaml built into the command)")
	verbose := flag.Bool("v", false, "list misses, invisible items and decoys")
	show := flag.String("show", "", "print the warnings of one FILE|DIR as `upshift notes --json` would")
	ver := flag.String("version", "", "with -show: the version")
	app := flag.String("app", "", "score only this app")
	flag.Parse()
	if *show != "" {
		if err := showNotes(*show, *ver); err != nil {
			fmt.Fprintln(os.Stderr, "noteseval:", err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: noteseval [-v] [-labels FILE] DIR (the directory of saved note texts)")
		os.Exit(2)
	}
	set, err := loadLabels(*labels)
	if err != nil {
		fmt.Fprintln(os.Stderr, "noteseval:", err)
		os.Exit(1)
	}
	rep := score(set, flag.Arg(0), *app)
	rep.print(os.Stdout, *verbose)
}

func showNotes(path, ver string) error {
	notes, err := releases.ReadNotes(path, ver)
	if err != nil {
		return err
	}
	type note struct {
		Version  string             `json:"version"`
		Warnings []releases.Warning `json:"warnings"`
	}
	var out struct {
		Notes []note `json:"notes"`
	}
	for _, n := range notes {
		out.Notes = append(out.Notes, note{n.Version, releases.Extract(n)})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// Labels is the labels file.
type Labels struct {
	Sections []Section `yaml:"sections"`
}

// Section is one labelled release-note section: a version of a changelog
// or one release page.
type Section struct {
	App     string `yaml:"app"`
	Source  string `yaml:"source"`  // repo@commit:path[:lines] or URL
	File    string `yaml:"file"`    // path of the saved text, under DIR
	Version string `yaml:"version"` // the version to read out of File
	// MustKnow: something here must reach the admin before upgrading.
	MustKnow bool     `yaml:"must_know"`
	Items    []Item   `yaml:"items,omitempty"`
	Decoys   []string `yaml:"decoys,omitempty"`
}

// Item is one must-know thing: its kinds and 2–6-word anchors, any of
// which found in a warning means the item was caught.
type Item struct {
	Kinds   []string `yaml:"kinds"`
	Anchors []string `yaml:"anchors"`
}

func loadLabels(path string) (*Labels, error) {
	data := embeddedLabels
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("read labels: %w", err)
		}
	}
	var l Labels
	if err := yaml.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("labels %s: %w", path, err)
	}
	return &l, nil
}

func norm(s string) string {
	s = strings.NewReplacer("`", "", "*", "", "_", " ", "\\", "", "\u00a0", " ").Replace(strings.ToLower(s))
	return strings.Join(strings.Fields(s), " ")
}
