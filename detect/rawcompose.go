package detect

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"gopkg.in/yaml.v3"
)

// rawImages are the image expressions of each service as written in the
// compose files, before interpolation ("simplelogin/app:$SL_VERSION"), with
// the file that set them last. compose-go hands back only the interpolated
// model, which cannot say where a tag came from.
type rawImage struct {
	Expr string
	File string
}

// readRawImages reads files in order (later files override), following
// top-level include entries.
func readRawImages(files []string) map[string]rawImage {
	out := map[string]rawImage{}
	seen := map[string]bool{}
	var read func(string)
	read = func(f string) {
		if seen[f] {
			return
		}
		seen[f] = true
		b, err := os.ReadFile(f)
		if err != nil {
			return
		}
		var doc struct {
			Include  []any `yaml:"include"`
			Services map[string]struct {
				Image string `yaml:"image"`
			} `yaml:"services"`
		}
		if yaml.Unmarshal(b, &doc) != nil {
			return
		}
		for _, inc := range doc.Include {
			for _, p := range includePaths(inc) {
				if !filepath.IsAbs(p) {
					p = filepath.Join(filepath.Dir(f), p)
				}
				read(p)
			}
		}
		for name, s := range doc.Services {
			if s.Image != "" {
				out[name] = rawImage{Expr: s.Image, File: f}
			}
		}
	}
	for _, f := range files {
		read(f)
	}
	return out
}

func includePaths(inc any) []string {
	switch v := inc.(type) {
	case string:
		return []string{v}
	case map[string]any:
		switch p := v["path"].(type) {
		case string:
			return []string{p}
		case []any:
			var out []string
			for _, x := range p {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
			return out
		}
	}
	return nil
}

// varRef matches one variable reference: $KEY, ${KEY}, ${KEY:-default}.
var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}?`)

// tagExpr splits an image expression into its tag part ("" when none).
func tagExpr(expr string) string {
	if i := strings.Index(expr, "@"); i >= 0 {
		expr = expr[:i]
	}
	// The last ':' outside ${...} that comes after the last '/'.
	depth, last := 0, -1
	for i, r := range expr {
		switch r {
		case '{':
			depth++
		case '}':
			depth--
		case ':':
			if depth == 0 {
				last = i
			}
		case '/':
			if depth == 0 {
				last = -1
			}
		}
	}
	if last < 0 {
		return ""
	}
	return expr[last+1:]
}

// tagVariable is the variable the tag of expr comes from, when the tag is
// one reference (`${MATTERMOST_IMAGE_TAG}`), with its default if any.
func tagVariable(expr string) (key, def string, ok bool) {
	tag := tagExpr(expr)
	if tag == "" {
		// ${POSTGRES_IMAGE:-postgres:16-alpine}: the whole image is a variable.
		m := varRef.FindStringSubmatch(expr)
		if m != nil && m[0] == expr {
			return m[1], m[3], true
		}
		return "", "", false
	}
	m := varRef.FindStringSubmatch(tag)
	if m == nil || m[0] != tag {
		return "", "", false
	}
	return m[1], m[3], true
}

// dotEnvKeys reads the keys of the project's .env (nil when none).
func dotEnvKeys(path string) map[string]string {
	if path == "" {
		return nil
	}
	m, err := dotenv.Read(path)
	if err != nil {
		return nil
	}
	return m
}
