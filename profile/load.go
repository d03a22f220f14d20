package profile

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// SourceBuiltin is the Source of embedded profiles.
const SourceBuiltin = "builtin"

// Builtin returns fresh copies of the embedded profiles, sorted by name
// with the generic fallback last. An embedded profile that does not load
// is a build bug caught by the tests; it is left out here.
func Builtin() []*Profile {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		return nil
	}
	var out []*Profile
	for _, e := range entries {
		data, err := builtinFS.ReadFile("builtin/" + e.Name())
		if err != nil {
			continue
		}
		p, err := Parse(data, "builtin:"+e.Name())
		if err != nil {
			continue
		}
		p.Source = SourceBuiltin
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(a, b *Profile) int {
		if a.Match.Fallback != b.Match.Fallback {
			if a.Match.Fallback {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Named is the built-in profile called name, or nil.
func Named(name string) *Profile {
	for _, p := range Builtin() {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Load reads and validates one profile file.
func Load(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	return Parse(data, path)
}

// LoadAll returns the built-in profiles plus every *.yaml / *.yml file in
// userDir (a missing dir is fine). A user profile with the name of a
// built-in one replaces it. All broken files are reported together.
func LoadAll(userDir string) ([]*Profile, error) {
	all := Builtin()
	if userDir == "" {
		return all, nil
	}
	entries, err := os.ReadDir(userDir)
	if errors.Is(err, os.ErrNotExist) {
		return all, nil
	}
	if err != nil {
		return all, fmt.Errorf("read profile dir: %w", err)
	}
	var errs []error
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		p, err := Load(filepath.Join(userDir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		i := slices.IndexFunc(all, func(q *Profile) bool { return q.Name == p.Name })
		if i >= 0 {
			all[i] = p
		} else {
			all = append(all, p)
		}
	}
	if len(errs) > 0 {
		return all, fmt.Errorf("%w\nFix or remove the broken profile files in %s; the others were loaded", errors.Join(errs...), userDir)
	}
	return all, nil
}

// DefaultUserDir is ~/.config/upshift/profiles (or $XDG_CONFIG_HOME).
func DefaultUserDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config dir: %w", err)
	}
	return filepath.Join(dir, "upshift", "profiles"), nil
}

// Parse reads a profile from YAML; name is used in error messages
// (file:line: what is wrong).
func Parse(data []byte, name string) (*Profile, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ValidationError{File: name, Problems: []Problem{{Line: 1, Msg: "the file is empty; a profile needs at least name, match, db and migration"}}}
		}
		return nil, &ValidationError{File: name, Problems: []Problem{yamlProblem(err)}}
	}
	var rest yaml.Node
	if err := dec.Decode(&rest); err == nil {
		return nil, &ValidationError{File: name, Problems: []Problem{{Line: rest.Line, Msg: "more than one YAML document; put one profile per file"}}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, &ValidationError{File: name, Problems: []Problem{{Line: root.Line, Msg: "a profile must be a mapping (key: value lines)"}}}
	}
	lines := map[string]int{"": root.Line}
	var probs []Problem
	checkFields(root, reflect.TypeFor[Profile](), "", lines, &probs)
	p := &Profile{}
	if err := root.Decode(p); err != nil {
		// Type errors: the values below are unreliable, report what we have.
		probs = append(probs, yamlProblem(err))
		slices.SortStableFunc(probs, func(a, b Problem) int { return a.Line - b.Line })
		return nil, &ValidationError{File: name, Problems: probs}
	}
	p.Source = name
	p.lines = lines
	if err := p.Validate(); err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return nil, err
		}
		probs = append(probs, ve.Problems...)
	}
	if len(probs) > 0 {
		// Every problem at once, in file order, so one check finds them all.
		slices.SortStableFunc(probs, func(a, b Problem) int { return a.Line - b.Line })
		return nil, &ValidationError{File: name, Problems: probs}
	}
	return p, nil
}

var yamlLineRe = regexp.MustCompile(`line (\d+): (.*)`)

func yamlProblem(err error) Problem {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return Problem{Line: n, Msg: friendlyYAML(m[2])}
	}
	return Problem{Msg: friendlyYAML(msg)}
}

var typeNameRe = regexp.MustCompile(`into (\[\])?(map\[string\])?(profile\.)?[A-Za-z]+`)

func friendlyYAML(msg string) string {
	msg = strings.ReplaceAll(msg, "cannot unmarshal", "wrong type:")
	return typeNameRe.ReplaceAllStringFunc(msg, func(s string) string {
		switch {
		case strings.Contains(s, "[]"):
			return "where a list is expected"
		case strings.Contains(s, "int"):
			return "where a number is expected"
		case strings.Contains(s, "bool"):
			return "where true or false is expected"
		case strings.Contains(s, "string"):
			return "where a text value is expected"
		default:
			return "where a mapping is expected"
		}
	})
}

// checkFields walks the YAML tree next to the Go type, records the line of
// every field path and reports keys the type does not have.
func checkFields(n *yaml.Node, t reflect.Type, path string, lines map[string]int, probs *[]Problem) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return
			}
			msg := "expected a mapping (key: value lines)"
			if path == "release_notes" && n.Kind == yaml.ScalarNode {
				msg += fmt.Sprintf("; for a file write changelog: %s, for a directory of <version>.md files dir: %s, for GitHub releases github: owner/repo", n.Value, n.Value)
			}
			*probs = append(*probs, Problem{Line: n.Line, Path: path, Msg: msg})
			return
		}
		known := map[string]reflect.StructField{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			known[tag] = f
			names = append(names, tag)
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := join(path, k.Value)
			f, ok := known[k.Value]
			if !ok {
				*probs = append(*probs, Problem{Line: k.Line, Path: path, Msg: fmt.Sprintf("unknown field %q%s (known: %s)", k.Value, suggest(k.Value, names), strings.Join(names, ", "))})
				continue
			}
			if seen[k.Value] {
				*probs = append(*probs, Problem{Line: k.Line, Path: sub, Msg: "field given twice"})
			}
			seen[k.Value] = true
			lines[sub] = k.Line
			checkFields(v, f.Type, sub, lines, probs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return
			}
			*probs = append(*probs, Problem{Line: n.Line, Path: path, Msg: "expected a list (- item lines or [a, b])"})
			return
		}
		for i, c := range n.Content {
			sub := fmt.Sprintf("%s[%d]", path, i)
			lines[sub] = c.Line
			checkFields(c, t.Elem(), sub, lines, probs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			*probs = append(*probs, Problem{Line: n.Line, Path: path, Msg: "expected a mapping (key: value lines)"})
		}
	default:
		if n.Kind != yaml.ScalarNode {
			*probs = append(*probs, Problem{Line: n.Line, Path: path, Msg: "expected a single value, not a list or mapping"})
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest returns ` (did you mean "x"?)` for a near miss.
func suggest(got string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := distance(strings.ToLower(got), n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// Problem is one thing wrong in a profile.
type Problem struct {
	Line int
	Path string // field path, e.g. migration.mode
	Msg  string
}

// ValidationError lists everything wrong with one profile.
type ValidationError struct {
	File     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		loc := e.File
		if loc == "" {
			loc = "profile"
		}
		if p.Line > 0 {
			loc += ":" + strconv.Itoa(p.Line)
		}
		b.WriteString(loc + ": ")
		if p.Path != "" {
			b.WriteString(p.Path + ": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// BuiltinYAML is the embedded file of the built-in profile name, as
// shipped (comments and all), for `upshift profile show`.
func BuiltinYAML(name string) ([]byte, bool) {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		return nil, false
	}
	for _, e := range entries {
		data, err := builtinFS.ReadFile("builtin/" + e.Name())
		if err != nil {
			continue
		}
		if p, err := Parse(data, e.Name()); err == nil && p.Name == name {
			return data, true
		}
	}
	return nil, false
}
