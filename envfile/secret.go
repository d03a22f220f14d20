package envfile

import (
	"regexp"
	"strings"
)

// secretWords mark a key as secret when they appear anywhere in it.
var secretWords = []string{"PASSWORD", "PASSWD", "SECRET", "KEY", "TOKEN", "CREDENTIAL", "PRIVATE", "SALT"}

// secretParts mark a key as secret when they are a whole _-separated part.
var secretParts = map[string]bool{"PASS": true, "PWD": true, "DSN": true, "AUTH": true}

// IsSecretKey reports whether a variable name looks like it holds a secret
// (*PASSWORD*, *SECRET*, *KEY*, *TOKEN*, ...). False positives only mask
// more.
func IsSecretKey(key string) bool {
	k := strings.ToUpper(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	for _, part := range strings.FieldsFunc(k, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if secretParts[part] {
			return true
		}
	}
	return false
}

const mask = "***"

var (
	// scheme://user:password@host
	urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s'"]*:)([^@\s'"]+)(@)`)
	// libpq/ODBC style: password=... or pwd=...
	kvPassword = regexp.MustCompile(`(?i)(\b(?:password|passwd|pwd)\s*=\s*)('[^']*'|"[^"]*"|[^\s;&'"]+)`)
)

// MaskValue hides value when key looks secret, and hides passwords inside
// DSNs and URLs in any value. An empty value stays empty (it shows "not
// set" without leaking anything).
func MaskValue(key, value string) string {
	if value == "" {
		return ""
	}
	if IsSecretKey(key) {
		return mask
	}
	return maskDSN(value)
}

func maskDSN(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}"+mask+"${3}")
	return kvPassword.ReplaceAllString(s, "${1}"+mask)
}

// commentedAssignment is a commented-out KEY=value line.
var commentedAssignment = regexp.MustCompile(`^(\s*#+\s*(?:export\s+)?)([A-Za-z0-9_.\-\[\]]+)(\s*[=:]\s*)(.*?)(\r?)$`)

// MaskFile returns a .env with the values of secret-looking keys replaced
// by "***" and DSN passwords hidden, in statements and in commented-out
// assignments. A file that does not parse is masked line by line.
func MaskFile(data []byte) []byte {
	f, err := Parse(data)
	if err != nil {
		return []byte(maskLines(string(data)))
	}
	src := f.src
	var b strings.Builder
	if f.bom {
		b.Write(utf8BOM)
	}
	pos := 0
	for i := range f.entries {
		e := &f.entries[i]
		b.WriteString(maskLines(src[pos:e.valStart]))
		raw := src[e.valStart:e.valEnd]
		switch {
		case e.inherited || raw == "":
		case IsSecretKey(e.key) && e.literal != "":
			raw = mask
		default:
			raw = maskDSN(raw)
		}
		b.WriteString(raw)
		pos = e.valEnd
	}
	b.WriteString(maskLines(src[pos:]))
	return []byte(b.String())
}

// maskLines masks commented-out assignments and DSN passwords in free text.
func maskLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if m := commentedAssignment.FindStringSubmatch(l); m != nil && IsSecretKey(m[2]) && strings.Trim(m[4], `'"`) != "" {
			l = m[1] + m[2] + m[3] + mask + m[5]
		}
		lines[i] = maskDSN(l)
	}
	return strings.Join(lines, "\n")
}

// secretValues lists the values of secret-looking keys in files, and each
// line of multi-line ones, for Redact. Short values are left to structural
// masking: redacting "1" or "true" everywhere would make previews unreadable.
func secretValues(files ...*File) []string {
	var out []string
	for _, f := range files {
		if f == nil {
			continue
		}
		for i := range f.entries {
			e := &f.entries[i]
			if !IsSecretKey(e.key) {
				continue
			}
			out = appendSecret(out, e.literal)
		}
	}
	return out
}

// appendSecret adds a secret value and each line of a multi-line one.
func appendSecret(out []string, literal string) []string {
	for _, v := range append([]string{literal}, strings.Split(literal, "\n")...) {
		if v = strings.TrimSpace(v); len(v) >= 8 {
			out = append(out, v)
		}
	}
	return out
}
