// Package envfile owns the admin's configuration files: format-preserving
// parsing and editing of docker compose `.env` files, the three-way merge of
// `.env`, YAML and TOML configs across an upgrade, the preview (unified diff
// and summary) and the atomic write. It reads and writes bytes only: it never
// talks to Docker, PostgreSQL or the terminal. It also owns the one
// redactor of upshift (Redactor: secrets out of logs, errors and diffs).
//
// Values are read exactly as compose-go's dotenv parser reads them (the
// parser below is a position-keeping port of compose-go v2's dotenv parser,
// and the tests compare both on many inputs).
package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/template"
)

var utf8BOM = []byte("\uFEFF")

// entry is one statement of a .env file: KEY=VALUE, KEY: VALUE, or a bare
// KEY (inherited from the environment). Offsets are into File.src.
type entry struct {
	key       string
	start     int  // first byte of the statement ("export" or the key)
	end       int  // one past the statement (past the closing quote, or the end of the line for unquoted values)
	keyStart  int  // key text, untrimmed on the right as written
	keyEnd    int  // one past the trimmed key
	valStart  int  // raw value (quotes included)
	valEnd    int  // one past the raw value
	quote     byte // 0, '\'' or '"'
	inherited bool // bare KEY: value comes from the environment
	literal   string
}

// interpolates reports whether compose-go expands ${VAR} in this value.
func (e *entry) interpolates() bool { return e.quote != '\'' }

// File is a parsed .env that writes back byte-for-byte.
type File struct {
	bom     bool
	src     string
	entries []entry
	last    map[string]int // key -> index of its last (effective) entry
	values  map[string]string
	valErr  error
}

// ParseError says which line of a .env compose would refuse, and why.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// Parse reads a .env file the way compose-go does, keeping every byte.
// It fails only where compose-go fails on the structure of the file (bad key
// character, space in a key, unterminated quote); interpolation problems
// (such as ${VAR:?required} with VAR unset) are left to Env.
func Parse(data []byte) (*File, error) {
	f := &File{}
	if bytes.HasPrefix(data, utf8BOM) {
		f.bom = true
		data = data[len(utf8BOM):]
	}
	f.src = string(data)
	if err := f.parse(); err != nil {
		return nil, err
	}
	f.index()
	return f, nil
}

func (f *File) lineAt(off int) int {
	return strings.Count(f.src[:off], "\n") + 1
}

func (f *File) errAt(off int, format string, args ...any) error {
	return &ParseError{Line: f.lineAt(off), Msg: fmt.Sprintf(format, args...)}
}

// isSpace is compose-go's "space but not line break".
func isSpace(r rune) bool {
	switch r {
	case '\t', '\v', '\f', '\r', ' ', 0x85, 0xA0:
		return true
	}
	return false
}

// isRE2Space is the \s class of Go regexps (used by compose-go's export match).
func isRE2Space(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\f' || b == '\r'
}

func skipFunc(s string, pos int, fn func(rune) bool) int {
	i := strings.IndexFunc(s[pos:], func(r rune) bool { return !fn(r) })
	if i < 0 {
		return len(s)
	}
	return pos + i
}

// statementStart mirrors compose-go's getStatementStart: skip white space and
// whole comment lines; -1 at the end of the file.
func (f *File) statementStart(pos int) int {
	for {
		pos = skipFunc(f.src, pos, unicode.IsSpace)
		if pos >= len(f.src) {
			return -1
		}
		if f.src[pos] != '#' {
			return pos
		}
		nl := strings.IndexByte(f.src[pos:], '\n')
		if nl < 0 {
			return -1
		}
		pos += nl
	}
}

func (f *File) parse() error {
	src := f.src
	pos := 0
	for {
		start := f.statementStart(pos)
		if start < 0 {
			return nil
		}
		e := entry{start: start}
		p := start
		if strings.HasPrefix(src[p:], "export") && len(src) > p+6 && isRE2Space(src[p+6]) {
			p = skipFunc(src, p+6, isSpace)
		}
		e.keyStart = p
		term := -1
	loop:
		for i, r := range src[p:] {
			if isSpace(r) {
				continue
			}
			switch r {
			case '=', ':', '\n':
				term = p + i
				break loop
			case '_', '.', '-', '[', ']':
			default:
				if unicode.IsLetter(r) || unicode.IsNumber(r) {
					continue
				}
				line, _, _ := strings.Cut(src[p:], "\n")
				return f.errAt(p+i, "unexpected character %q in variable name %q", string(r), line)
			}
		}
		if p >= len(src) {
			return f.errAt(start, "%q has no variable name after it", strings.TrimSpace(src[start:]))
		}
		valueFrom := p
		if term >= 0 {
			e.key = src[p:term]
			valueFrom = term + 1
			e.inherited = src[term] == '\n'
		}
		e.key = strings.TrimRightFunc(e.key, unicode.IsSpace)
		e.keyEnd = e.keyStart + len(e.key)
		if strings.Contains(e.key, " ") {
			return f.errAt(start, "variable name %q contains a space", e.key)
		}
		cut := skipFunc(src, valueFrom, isSpace)
		if e.inherited {
			e.end = term
			e.valStart, e.valEnd = term, term
			f.entries = append(f.entries, e)
			pos = cut
			continue
		}
		e.valStart = cut
		if cut < len(src) && (src[cut] == '"' || src[cut] == '\'') {
			e.quote = src[cut]
			end, chars, ok := scanQuoted(src, cut)
			if !ok {
				line, _, _ := strings.Cut(src[cut:], "\n")
				return f.errAt(cut, "unterminated quoted value %s", line)
			}
			e.valEnd, e.end = end, end
			e.literal = chars
			if e.quote == '"' {
				e.literal = expandEscapes(chars)
			}
			pos = end
		} else {
			lineEnd := len(src)
			if nl := strings.IndexByte(src[cut:], '\n'); nl >= 0 {
				lineEnd = cut + nl
			}
			v := src[cut:lineEnd]
			if i := strings.Index(v, " #"); i >= 0 {
				v = v[:i]
			}
			v = strings.TrimRightFunc(v, unicode.IsSpace)
			e.valEnd = cut + len(v)
			e.end = lineEnd
			e.literal = v
			pos = lineEnd
		}
		f.entries = append(f.entries, e)
	}
}

// scanQuoted mirrors compose-go's quoted-value loop. It returns the offset
// just past the closing quote and the characters between the quotes with
// only the escaped quote resolved.
func scanQuoted(src string, at int) (int, string, bool) {
	quote := src[at]
	escaped := false
	var chars []byte
	for i := at + 1; i < len(src); i++ {
		c := src[i]
		if c != quote {
			if !escaped && c == '\\' {
				escaped = true
				continue
			}
			if escaped {
				escaped = false
				chars = append(chars, '\\')
			}
			chars = append(chars, c)
			continue
		}
		if escaped {
			escaped = false
			chars = append(chars, c)
			continue
		}
		return i + 1, string(chars), true
	}
	return 0, "", false
}

var escapeSeqRegex = regexp.MustCompile(`(\\(?:[abcfnrtv$"\\]|0\d{0,3}))`)

// expandEscapes is compose-go's escape handling for double-quoted values.
func expandEscapes(str string) string {
	return escapeSeqRegex.ReplaceAllStringFunc(str, func(match string) string {
		if match == `\$` {
			return "$$"
		}
		if strings.HasPrefix(match, `\0`) {
			match = strings.Replace(match, `\0`, `\`, 1)
		}
		v, _, _, err := strconv.UnquoteChar(match, '"')
		if err != nil {
			return match
		}
		return string(v)
	})
}

func (f *File) index() {
	f.last = make(map[string]int, len(f.entries))
	for i := range f.entries {
		f.last[f.entries[i].key] = i
	}
	f.values, f.valErr = f.env(nil)
}

// LookupFunc resolves a variable from outside the file (the shell
// environment, for compose).
type LookupFunc func(key string) (string, bool)

// Env returns every variable as compose-go would read the file with lookup
// (nil: no outside environment), including compose-go's interpolation
// errors.
func (f *File) Env(lookup LookupFunc) (map[string]string, error) {
	return f.env(lookup)
}

func (f *File) env(lookup LookupFunc) (map[string]string, error) {
	out := make(map[string]string, len(f.entries))
	var firstErr error
	for i := range f.entries {
		e := &f.entries[i]
		if e.inherited {
			if lookup != nil {
				if v, ok := lookup(e.key); ok {
					out[e.key] = v
				}
			}
			continue
		}
		if !e.interpolates() {
			out[e.key] = e.literal
			continue
		}
		v, err := template.SubstituteWithOptions(e.literal, func(k string) (string, bool) {
			if lookup != nil {
				if v, ok := lookup(k); ok {
					return v, true
				}
			}
			v, ok := out[k]
			return v, ok
		}, template.WithPattern(template.DefaultPattern), template.WithoutLogging)
		if err != nil {
			if firstErr == nil {
				firstErr = f.errAt(e.start, "%s: %v", e.key, err)
			}
			v = e.literal
		}
		out[e.key] = v
	}
	return out, firstErr
}

// Bytes returns the file, byte for byte as parsed plus any edits.
func (f *File) Bytes() []byte {
	if f.bom {
		return append(append([]byte{}, utf8BOM...), f.src...)
	}
	return []byte(f.src)
}

// Get returns the value as compose-go would read it with no outside
// environment. When interpolation fails (compose-go would refuse the file,
// see Env), Get returns the value as written.
func (f *File) Get(key string) (string, bool) {
	v, ok := f.values[key]
	return v, ok
}

// Literal returns the value as written, quotes and escapes resolved but
// ${VAR} left alone; inherited is true for a bare KEY line.
func (f *File) Literal(key string) (value string, inherited, ok bool) {
	i, ok := f.last[key]
	if !ok {
		return "", false, false
	}
	return f.entries[i].literal, f.entries[i].inherited, true
}

// Has reports whether key is declared (with a value or bare).
func (f *File) Has(key string) bool {
	_, ok := f.last[key]
	return ok
}

// Keys returns the declared keys in file order (first declaration), bare
// keys included.
func (f *File) Keys() []string {
	seen := make(map[string]bool, len(f.entries))
	keys := make([]string, 0, len(f.entries))
	for i := range f.entries {
		k := f.entries[i].key
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// Set changes key's value in place, keeping the line's quoting style when it
// can represent the value, its export prefix and its inline comment; an
// absent key is appended at the end. The value is literal: "$" is escaped so
// compose reads exactly value back.
func (f *File) Set(key, value string) {
	i, ok := f.last[key]
	if !ok {
		f.appendLine(key + "=" + encodeValue(value, 0))
		return
	}
	e := f.entries[i]
	for _, quote := range []byte{e.quote, '"'} {
		raw := encodeValue(value, quote)
		var next string
		if e.inherited {
			next = f.src[:e.end] + "=" + raw + f.src[e.end:]
		} else {
			next = f.src[:e.valStart] + raw + f.src[e.valEnd:]
		}
		if f.replaceIf(next, key, value) {
			return
		}
	}
}

// replaceIf swaps in src when it parses and reads key as value.
func (f *File) replaceIf(src, key, value string) bool {
	g := &File{bom: f.bom, src: src}
	if g.parse() != nil {
		return false
	}
	g.index()
	if v, ok := g.Get(key); !ok || v != value {
		return false
	}
	*f = *g
	return true
}

func (f *File) appendLine(line string) {
	src := f.src
	nl := lineEnding(src)
	if src != "" && !strings.HasSuffix(src, "\n") {
		src += nl
	}
	g := &File{bom: f.bom, src: src + line + nl}
	if g.parse() == nil {
		g.index()
		*f = *g
	}
}

// lineEnding is "\r\n" for files written on Windows, else "\n".
func lineEnding(src string) string {
	crlf := strings.Count(src, "\r\n")
	if crlf > 0 && crlf*2 >= strings.Count(src, "\n") {
		return "\r\n"
	}
	return "\n"
}

// encodeValue writes value so compose-go reads it back unchanged, in the
// preferred quoting style when that style can hold it.
func encodeValue(value string, prefer byte) string {
	switch {
	case prefer == 0 && plainSafe(value):
		return value
	case prefer != '"' && !strings.Contains(value, "'") && !strings.HasSuffix(value, `\`):
		return "'" + value + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(value) {
		switch c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// plainSafe reports whether value can be written without quotes.
func plainSafe(value string) bool {
	for _, r := range value {
		switch {
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
		case strings.ContainsRune("_-./:,@+=%~", r):
		default:
			return false
		}
	}
	return true
}

var errNoKey = errors.New("no such key")

// entryFor returns the effective entry of key.
func (f *File) entryFor(key string) (*entry, error) {
	i, ok := f.last[key]
	if !ok {
		return nil, errNoKey
	}
	return &f.entries[i], nil
}
