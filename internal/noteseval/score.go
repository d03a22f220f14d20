package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/releases"
)

type counts struct {
	sections, errors           int
	tp, fp, fn, tn             int // sections: must-know vs any warning
	items, caught, visible     int
	itemSections, itemWarnings int // sections with items, their warnings
	decoys, decoysHit          int
	kindsRight                 int
}

type report struct {
	total counts
	apps  map[string]*counts
	notes []string
}

func (c *counts) add(o counts) {
	c.sections += o.sections
	c.errors += o.errors
	c.tp += o.tp
	c.fp += o.fp
	c.fn += o.fn
	c.tn += o.tn
	c.items += o.items
	c.caught += o.caught
	c.visible += o.visible
	c.itemSections += o.itemSections
	c.itemWarnings += o.itemWarnings
	c.decoys += o.decoys
	c.decoysHit += o.decoysHit
	c.kindsRight += o.kindsRight
}

func score(set *Labels, dir, only string) report {
	rep := report{apps: map[string]*counts{}}
	for _, s := range set.Sections {
		if only != "" && s.App != only {
			continue
		}
		var c counts
		c.sections = 1
		id := fmt.Sprintf("%s %s@%s", s.App, s.File, s.Version)
		notes, err := releases.ReadNotes(filepath.Join(dir, s.File), s.Version)
		if err != nil {
			c.errors = 1
			rep.notes = append(rep.notes, fmt.Sprintf("ERROR %s: %v", id, err))
		}
		var ws []releases.Warning
		for _, n := range notes {
			ws = append(ws, releases.Extract(n)...)
		}
		switch {
		case s.MustKnow && len(ws) > 0:
			c.tp = 1
		case s.MustKnow:
			c.fn = 1
			rep.notes = append(rep.notes, "SECTION MISSED "+id)
		case len(ws) > 0:
			c.fp = 1
			rep.notes = append(rep.notes, fmt.Sprintf("SECTION FALSE %s: %d warnings, first %q", id, len(ws), ws[0].Headline))
		default:
			c.tn = 1
		}
		if len(s.Items) > 0 {
			c.itemSections = 1
			c.itemWarnings = len(ws)
		}
		for _, it := range s.Items {
			c.items++
			found, vis, kind := false, false, false
			for _, w := range ws {
				text, head := norm(w.Text), norm(w.Headline)
				for _, a := range it.Anchors {
					if strings.Contains(text, norm(a)) || strings.Contains(head, norm(a)) {
						found = true
						if slices.Contains(it.Kinds, string(w.Kind)) {
							kind = true
						}
					}
					if strings.Contains(head, norm(a)) {
						vis = true
					}
				}
			}
			if found {
				c.caught++
			} else {
				rep.notes = append(rep.notes, fmt.Sprintf("ITEM MISSED %s: %v %q", id, it.Kinds, it.Anchors))
			}
			if vis {
				c.visible++
			} else if found {
				rep.notes = append(rep.notes, fmt.Sprintf("ITEM HIDDEN %s: %q not in a headline", id, it.Anchors))
			}
			if kind {
				c.kindsRight++
			}
		}
		// Warnings that match no item: the noise an admin has to read.
		if len(s.Items) > 0 {
			for _, w := range ws {
				hit := false
				for _, it := range s.Items {
					for _, a := range it.Anchors {
						if strings.Contains(norm(w.Text), norm(a)) || strings.Contains(norm(w.Headline), norm(a)) {
							hit = true
						}
					}
				}
				if !hit {
					rep.notes = append(rep.notes, fmt.Sprintf("EXTRA %s: %s %q", id, w.Kind, w.Headline))
				}
			}
		}
		for _, d := range s.Decoys {
			c.decoys++
			for _, w := range ws {
				if strings.Contains(norm(w.Text), norm(d)) {
					c.decoysHit++
					rep.notes = append(rep.notes, fmt.Sprintf("DECOY %s: %q reported (%s %q)", id, d, w.Kind, w.Headline))
					break
				}
			}
		}
		if rep.apps[s.App] == nil {
			rep.apps[s.App] = &counts{}
		}
		rep.apps[s.App].add(c)
		rep.total.add(c)
	}
	return rep
}

func ratio(a, b int) string {
	if b == 0 {
		return "  -  "
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func (c counts) line(name string) string {
	return fmt.Sprintf("%-14s %4d %5d  %s  %s  %s  %s  %s  %s  %3d/%-3d",
		name, c.sections, c.items, ratio(c.caught, c.items), ratio(c.visible, c.caught),
		ratio(c.tp, c.tp+c.fp), ratio(c.tp, c.tp+c.fn), ratio(c.itemWarnings, c.items), ratio(c.kindsRight, c.items), c.decoysHit, c.decoys)
}

func (r report) print(w io.Writer, verbose bool) {
	if verbose {
		for _, n := range r.notes {
			_, _ = fmt.Fprintln(w, n)
		}
		_, _ = fmt.Fprintln(w)
	}
	_, _ = fmt.Fprintln(w, "app            sect items  recall visible s.prec s.rec  w/item kinds decoys")
	var names []string
	for a := range r.apps {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		_, _ = fmt.Fprintln(w, r.apps[a].line(a))
	}
	_, _ = fmt.Fprintln(w, r.total.line("TOTAL"))
	if r.total.errors > 0 {
		_, _ = fmt.Fprintf(w, "%d sections could not be read\n", r.total.errors)
	}
}
