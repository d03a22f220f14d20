package upgrade

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// RewriteImageTags sets the tag of the image of each named service in a
// compose file (apply method image-tag: Dify's api, worker, worker_beat and
// web), keeping every other byte as it was: comments, order, anchors. An
// image set through a variable ("${TAG}") is left alone and reported, since
// the .env holds its version. changed lists "service: old → new"; found
// lists the services whose image this file sets (an override file may set
// none of them: it is left alone).
func RewriteImageTags(compose []byte, services []string, tag string) (out []byte, changed, found []string, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(compose, &doc); err != nil {
		return nil, nil, nil, fmt.Errorf("read the compose file: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, nil, nil, fmt.Errorf("the compose file is empty")
	}
	svcs := mapValue(doc.Content[0], "services")
	if svcs == nil {
		return compose, nil, nil, nil // an override without services
	}
	lines := bytes.Split(compose, []byte("\n"))
	for _, name := range services {
		svc := mapValue(svcs, name)
		if svc == nil {
			continue // not in this file
		}
		img := mapValue(svc, "image")
		if img == nil {
			continue // this file does not set its image (an override)
		}
		if img.Kind != yaml.ScalarNode {
			return nil, nil, nil, fmt.Errorf("service %s: its image is not a plain value", name)
		}
		if strings.Contains(img.Value, "${") || strings.Contains(img.Value, "$") {
			return nil, nil, nil, fmt.Errorf("service %s takes its image from a variable (%s), so the .env holds its version: use apply method env (env_key the variable; form: image when it holds the whole reference) or method auto", name, img.Value)
		}
		found = append(found, name)
		next := withTag(img.Value, tag)
		if next == img.Value {
			continue
		}
		i, col := img.Line-1, img.Column-1
		if i < 0 || i >= len(lines) || col < 0 || col > len(lines[i]) {
			return nil, nil, nil, fmt.Errorf("service %s: image at line %d is not where YAML says", name, img.Line)
		}
		line := lines[i]
		at := bytes.Index(line[col:], []byte(img.Value))
		if at < 0 {
			return nil, nil, nil, fmt.Errorf("service %s: image %s at line %d spans lines; edit it by hand", name, img.Value, img.Line)
		}
		at += col
		lines[i] = append(append(append([]byte{}, line[:at]...), next...), line[at+len(img.Value):]...)
		changed = append(changed, fmt.Sprintf("%s: %s → %s", name, img.Value, next))
	}
	return bytes.Join(lines, []byte("\n")), changed, found, nil
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
