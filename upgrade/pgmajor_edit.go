package upgrade

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/seed-e7a9fb3b/upshift/envfile"
)

// pgSwitch is the edit that points the database service at the new major:
// its image (a literal in a compose file, or the .env variable the compose
// file takes it from) and its data volume (a new named volume, declared in
// the top-level volumes). Every other byte of the files stays as it was.
type pgSwitch struct {
	files    map[string][]byte // compose files before the edit (those that change)
	next     map[string][]byte // and after
	env      []byte            // the .env before (nil: unchanged)
	envNext  []byte
	imageVar string // the .env key holding the image, "" for a literal
	imageVal string // what the edit sets imageVar to (the image, or its tag)
	// bind: the data directory is a directory of the host (a bind mount),
	// not a named volume; oldVolume and newVolume are then its paths as
	// the compose file (or dirVar, the .env key holding it) writes them.
	bind   bool
	dirVar string

	oldImage, newImage   string
	oldVolume, newVolume string // compose volume keys
	// done: the files point at the new image and volume already (a
	// resumed run): nothing to write.
	done bool
}

// Diff is what the admin reads before saying yes.
func (w *pgSwitch) Diff(envPath string) string {
	var b strings.Builder
	if w.envNext != nil {
		b.WriteString((&envfile.MergeResult{Merged: w.envNext}).Diff(w.env, filepath.Base(envPath)))
	}
	for _, f := range sortedKeys(w.next) {
		b.WriteString((&envfile.MergeResult{Merged: w.next[f]}).Diff(w.files[f], filepath.Base(f)))
	}
	return b.String()
}

// varRef matches a whole-value variable: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}.
var varRef = regexp.MustCompile(`^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))$`)

// planPGSwitch computes the edit of the compose files (in compose's order,
// later files override earlier ones) and the .env for service: image
// newImage, data directory dataDir on the volume oldVolume+"-pg"+major.
func planPGSwitch(files []string, read func(string) ([]byte, error), envPath string, service, dataDir, newImage string, major int) (*pgSwitch, error) {
	w := &pgSwitch{files: map[string][]byte{}, next: map[string][]byte{}, newImage: newImage}
	type found struct {
		file string
		node *yaml.Node
	}
	var image, volEntry, volDecl found
	docs := map[string]*yaml.Node{}
	cdocs := newComposeDocs(read)
	for _, f := range files {
		root, err := cdocs.root(f)
		if err != nil {
			return nil, err
		}
		if root == nil {
			continue
		}
		w.files[f] = cdocs.body[f]
		docs[f] = root
		svc, _ := lookupKey(lookupKeyNode(root, "services"), service)
		if vols, _ := lookupKey(svc, "volumes"); vols != nil && vols.Kind == yaml.SequenceNode {
			for _, v := range vols.Content {
				if volumeTarget(v) == dataDir {
					volEntry = found{f, v}
				}
			}
		}
	}
	// The image as compose reads it: anchors, merge keys, extends and
	// include followed to where it is written.
	site, ok, err := cdocs.serviceKey(files, service, "image")
	if err != nil {
		return nil, err
	}
	if ok {
		image = found{site.File, site.Node}
		w.files[site.File] = cdocs.body[site.File] // maybe a file it includes or extends
		if others := cdocs.sharers(files, site.Node, "image"); len(others) > 1 {
			return nil, fmt.Errorf("the %s service's image is written once for %s (%s:%d%s): pointing it at %s would change them all. Nothing was changed. Fix: give %s its own image: line", service, strings.Join(others, ", "), filepath.Base(site.File), site.Node.Line, site.via(), newImage, service)
		}
	}
	if image.node == nil || image.node.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("no compose file (%s) sets a plain image: for the %s service, so upshift cannot point it at %s. Nothing was changed. Fix: give the service an image: line", strings.Join(files, ", "), service, newImage)
	}
	if volEntry.node == nil {
		return nil, fmt.Errorf("no compose file mounts a volume at %s (the data directory) in the %s service, so its data cannot be moved to a new volume. Nothing was changed. Fix: mount a named volume there (volumes: - pgdata:%s)", dataDir, service, dataDir)
	}
	src, srcNode := volumeSource(volEntry.node)
	if src == "" {
		return nil, fmt.Errorf("the %s service keeps its data directory %s in an anonymous volume: its data would be lost with the container. Nothing was changed. Fix: mount a named volume or a directory there first", service, dataDir)
	}
	suffix := fmt.Sprintf("-pg%d", major)
	// The .env, read once: the image and a bind mount's path may both be
	// variables of it.
	var envF *envfile.File
	env := func() (*envfile.File, error) {
		if envF != nil {
			return envF, nil
		}
		cur, err := readOptional(read, envPath)
		if err != nil {
			return nil, err
		}
		if envF, err = envfile.Parse(cur); err != nil {
			return nil, fmt.Errorf("parse %s: %w", envPath, err)
		}
		w.env = cur
		return envF, nil
	}
	if w.bind = strings.ContainsAny(src[:1], "/.~$"); w.bind {
		// A directory of the host: the new major's goes next to it
		// (./volumes/db/data → ./volumes/db/data-pg17), by the compose
		// file's path or the .env variable it is taken from.
		old := src
		if strings.Contains(src, "$") {
			m := varRef.FindStringSubmatch(src)
			if m == nil {
				return nil, fmt.Errorf("the %s service's data directory %q mixes text and variables; upshift can only change a whole-path variable or a literal path. Nothing was changed. Fix: put the whole path in one .env variable, or write it literally", service, src)
			}
			f, err := env()
			if err != nil {
				return nil, err
			}
			w.dirVar = m[1] + m[4]
			v, ok := f.Get(w.dirVar)
			if !ok || (v == "" && m[2] == ":-") {
				v = m[3]
			}
			if v == "" {
				return nil, fmt.Errorf("the %s service's data directory is %s, which %s does not set. Nothing was changed", service, src, envPath)
			}
			old = v
		}
		old = cleanHostPath(old)
		w.oldVolume, w.newVolume = old, old+suffix
		if strings.HasSuffix(old, suffix) {
			w.newVolume = old // pointed at the new directory already
		}
		if w.newVolume != w.oldVolume {
			if w.dirVar != "" {
				envF.Set(w.dirVar, w.newVolume)
				w.envNext = envF.Bytes()
			} else if err := w.replaceInNode(volEntry.file, srcNode, src, w.newVolume); err != nil {
				return nil, err
			}
		}
	} else {
		w.oldVolume = src
		w.newVolume = src + suffix
		if strings.HasSuffix(src, suffix) {
			w.newVolume = src // pointed at the new volume already
		}
		for _, f := range files {
			if decl := mapValue(docs[f], "volumes"); decl != nil && mapHas(decl, src) {
				volDecl = found{f, decl}
			}
		}
		if volDecl.node == nil {
			return nil, fmt.Errorf("the volume %s of the %s service is not declared under the top-level volumes: of %s. Nothing was changed", src, service, strings.Join(files, ", "))
		}
		if d := mapValue(volDecl.node, src); d != nil && d.Kind == yaml.MappingNode && (mapHas(d, "external") || mapHas(d, "name") || mapHas(d, "driver_opts")) {
			return nil, fmt.Errorf("the volume %s is declared with external:, name: or driver_opts: in %s: upshift only makes the new major's volume next to a plain project volume. Nothing was changed. Do this upgrade by hand", src, volDecl.file)
		}
		if w.newVolume != w.oldVolume {
			// The entry's source, then the declaration after the old one's.
			if err := w.replaceInNode(volEntry.file, srcNode, src, w.newVolume); err != nil {
				return nil, err
			}
			if !mapHas(volDecl.node, w.newVolume) {
				if err := w.declareAfter(volDecl.file, volDecl.node, src, w.newVolume); err != nil {
					return nil, err
				}
			}
		}
	}

	// The image: a literal, or a variable of the .env.
	w.oldImage = image.node.Value
	newImageVal := image.node.Value
	if repo, tagVar, ok := strings.Cut(image.node.Value, ":"); ok && !strings.Contains(repo, "$") && varRef.MatchString(tagVar) {
		// repo:${TAG} (Mattermost's postgres:${POSTGRES_IMAGE_TAG}): the
		// tag variable, when the new image is of that repository;
		// otherwise the line becomes the new image.
		m := varRef.FindStringSubmatch(tagVar)
		key := m[1] + m[4]
		f, err := env()
		if err != nil {
			return nil, err
		}
		old, ok := f.Get(key)
		if !ok || (old == "" && m[2] == ":-") {
			old = m[3]
		}
		w.oldImage = repo + ":" + old
		newRepo, newTag, _ := strings.Cut(newImage, ":")
		switch {
		case w.oldImage == newImage:
		case newRepo == repo && newTag != "" && !strings.Contains(newTag, "/"):
			w.imageVar, w.imageVal = key, newTag
			f.Set(key, newTag)
			w.envNext = f.Bytes()
		default:
			newImageVal = newImage
		}
	} else if strings.Contains(image.node.Value, "$") {
		m := varRef.FindStringSubmatch(image.node.Value)
		if m == nil {
			return nil, fmt.Errorf("the %s service's image %q mixes text and variables; upshift can only set a whole-image variable, a tag variable (repository:${TAG}) or a literal. Nothing was changed. Fix: use image: ${POSTGRES_IMAGE} with the whole reference in .env, or a literal", service, image.node.Value)
		}
		key := m[1] + m[4]
		w.imageVar, w.imageVal = key, newImage
		f, err := env()
		if err != nil {
			return nil, err
		}
		old, ok := f.Get(key)
		if !ok || (old == "" && m[2] == ":-") {
			old = m[3]
		}
		w.oldImage = old
		if old != newImage {
			f.Set(key, newImage)
			w.envNext = f.Bytes()
		}
	} else {
		newImageVal = newImage
	}
	if newImageVal != image.node.Value {
		if err := w.replaceScalar(image.file, image.node, newImageVal); err != nil {
			return nil, err
		}
	}
	w.done = len(w.next) == 0 && w.envNext == nil
	return w, nil
}

func readOptional(read func(string) ([]byte, error), path string) ([]byte, error) {
	b, err := read(path)
	if err != nil && !isNotExist(err) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// volumeTarget is the container path of a service volume entry (short or
// long syntax).
func volumeTarget(v *yaml.Node) string {
	switch v.Kind {
	case yaml.ScalarNode:
		src, target, ok := splitVolume(v.Value)
		if !ok {
			return strings.TrimRight(src, "/")
		}
		return strings.TrimRight(target, "/")
	case yaml.MappingNode:
		if t := mapValue(v, "target"); t != nil {
			return strings.TrimRight(t.Value, "/")
		}
	case yaml.DocumentNode, yaml.SequenceNode, yaml.AliasNode:
	}
	return ""
}

// volumeSource is the source of a service volume entry and the node that
// holds it ("" for an anonymous volume).
func volumeSource(v *yaml.Node) (string, *yaml.Node) {
	switch v.Kind {
	case yaml.ScalarNode:
		if src, _, ok := splitVolume(v.Value); ok {
			return src, v
		}
	case yaml.MappingNode:
		if s := mapValue(v, "source"); s != nil {
			return s.Value, s
		}
	case yaml.DocumentNode, yaml.SequenceNode, yaml.AliasNode:
	}
	return "", nil
}

// cleanHostPath cleans a bind mount's path as compose reads it, keeping
// the "./" that makes a relative path a path (not a volume name).
func cleanHostPath(p string) string {
	c := path.Clean(p)
	if strings.HasPrefix(p, "./") && !strings.HasPrefix(c, "../") && c != "." {
		return "./" + c
	}
	return c
}

// splitVolume splits a short-syntax volume entry "source:target[:mode]"
// (a source may be ${VAR:-default}, colons and all); ok is false for a
// target alone (an anonymous volume).
func splitVolume(v string) (source, target string, ok bool) {
	skip := 0
	if strings.HasPrefix(v, "${") {
		if end := strings.Index(v, "}"); end > 0 {
			skip = end
		}
	}
	i := strings.Index(v[skip:], ":")
	if i < 0 {
		return v, "", false
	}
	source, rest := v[:skip+i], v[skip+i+1:]
	target, _, _ = strings.Cut(rest, ":")
	return source, target, true
}

func mapHas(m *yaml.Node, key string) bool {
	if m == nil || m.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

func (w *pgSwitch) current(file string) [][]byte {
	b, ok := w.next[file]
	if !ok {
		b = w.files[file]
	}
	return bytes.Split(b, []byte("\n"))
}

// replaceScalar replaces a whole scalar's text on its line.
func (w *pgSwitch) replaceScalar(file string, n *yaml.Node, value string) error {
	return w.replaceInNode(file, n, n.Value, value)
}

// replaceInNode replaces old, at or after the node's column on the node's
// line, with value.
func (w *pgSwitch) replaceInNode(file string, n *yaml.Node, old, value string) error {
	lines := w.current(file)
	if err := replaceAt(lines, n, old, value); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	w.next[file] = bytes.Join(lines, []byte("\n"))
	return nil
}

// declareAfter adds "key:" to the top-level volumes mapping right after
// the whole entry of after (same indentation).
func (w *pgSwitch) declareAfter(file string, decl *yaml.Node, after, key string) error {
	var keyNode, valNode *yaml.Node
	for i := 0; i+1 < len(decl.Content); i += 2 {
		if decl.Content[i].Value == after {
			keyNode, valNode = decl.Content[i], decl.Content[i+1]
		}
	}
	if keyNode == nil {
		return fmt.Errorf("%s: no volume %s under the top-level volumes", file, after)
	}
	if decl.Style&yaml.FlowStyle != 0 {
		return fmt.Errorf("%s: the top-level volumes: is written in flow style ({...}); declare %s there by hand", file, key)
	}
	last := lastLine(valNode)
	if last < keyNode.Line {
		last = keyNode.Line
	}
	lines := w.current(file)
	if last > len(lines) {
		return errors.New(file + ": the volumes: section ends past the file")
	}
	entry := []byte(strings.Repeat(" ", keyNode.Column-1) + key + ":")
	out := make([][]byte, 0, len(lines)+1)
	out = append(out, lines[:last]...)
	out = append(out, entry)
	out = append(out, lines[last:]...)
	w.next[file] = bytes.Join(out, []byte("\n"))
	return nil
}

// lastLine is the last line a node's content is on.
func lastLine(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	l := n.Line
	for _, c := range n.Content {
		if cl := lastLine(c); cl > l {
			l = cl
		}
	}
	return l
}

func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
