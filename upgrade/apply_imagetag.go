package upgrade

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// RewriteImageTags sets the tag of the image of each named service where
// the compose files (the -f list) write it, as compose reads them (a later
// file overrides; anchors, merge keys, extends and include followed: see
// composeDocs), keeping every other byte as it was: comments, order,
// anchors. An image set through a variable ("${TAG}") is refused, since
// the .env holds its version. It returns the new content of each file it
// changes (read gives the old), "service: old → new" for each change, and
// the services whose image some file sets (a service none sets is for the
// caller to refuse). Services that share one anchored image change
// together.
func RewriteImageTags(files []string, read func(string) ([]byte, error), services []string, tag string) (out map[string][]byte, changed []string, found map[string]bool, err error) {
	docs := newComposeDocs(read)
	type edit struct {
		node *yaml.Node
		next string
	}
	edits := map[string][]edit{}
	done := map[*yaml.Node]bool{}
	found = map[string]bool{}
	for _, name := range services {
		site, ok, err := docs.serviceKey(files, name, "image")
		if err != nil {
			return nil, nil, nil, err
		}
		if !ok {
			continue
		}
		img := site.Node
		if img.Kind != yaml.ScalarNode {
			return nil, nil, nil, fmt.Errorf("%s: service %s: its image is not a plain value", site.File, name)
		}
		if strings.Contains(img.Value, "$") {
			return nil, nil, nil, fmt.Errorf("%s: service %s takes its image from a variable (%s)%s, so the .env holds its version: use apply method env (env_key the variable; form: image when it holds the whole reference) or method auto", site.File, name, img.Value, site.via())
		}
		found[name] = true
		next := withTag(img.Value, tag)
		if next == img.Value {
			continue
		}
		changed = append(changed, fmt.Sprintf("%s: %s → %s%s", name, img.Value, next, site.via()))
		if !done[img] {
			done[img] = true
			edits[site.File] = append(edits[site.File], edit{img, next})
		}
	}
	out = map[string][]byte{}
	for f, es := range edits {
		old := docs.body[f] // the nodes were parsed from it
		lines := bytes.Split(old, []byte("\n"))
		// Right to left within a line, so an edit does not move the next.
		sort.Slice(es, func(i, j int) bool {
			a, b := es[i].node, es[j].node
			return a.Line < b.Line || a.Line == b.Line && a.Column > b.Column
		})
		for _, e := range es {
			if err := replaceAt(lines, e.node, e.node.Value, e.next); err != nil {
				return nil, nil, nil, fmt.Errorf("%s: image %w", f, err)
			}
		}
		if b := bytes.Join(lines, []byte("\n")); !bytes.Equal(b, old) {
			out[f] = b
		}
	}
	return out, changed, found, nil
}

// withTag replaces the tag (and drops a digest) of an image reference.
func withTag(ref, tag string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref + ":" + tag
}

// mapValue is the value of key in a YAML mapping node (nil when absent).
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
