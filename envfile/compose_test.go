package envfile

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/sirupsen/logrus"
)

func TestMain(m *testing.M) {
	// compose-go warns about unset variables through logrus; keep test output readable.
	logrus.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// checkEquivalent asserts that Parse round-trips data and reads the same
// values as compose-go (or fails where compose-go fails).
func checkEquivalent(t testing.TB, data []byte) {
	t.Helper()
	want, composeErr := dotenv.ParseWithLookup(bytes.NewReader(data), nil)
	f, err := Parse(data)
	if err != nil {
		if composeErr == nil {
			t.Fatalf("Parse(%q) failed but compose-go reads it: %v", data, err)
		}
		return
	}
	if got := f.Bytes(); !bytes.Equal(got, data) {
		t.Fatalf("round trip changed the file:\n got %q\nwant %q", got, data)
	}
	got, envErr := f.Env(nil)
	if composeErr != nil {
		if envErr == nil {
			t.Fatalf("compose-go refuses %q (%v) but Parse+Env accept it", data, composeErr)
		}
		return
	}
	if envErr != nil {
		t.Fatalf("Env(%q): %v, compose-go reads it", data, envErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("values differ for %q:\n got %q\nwant %q", data, got, want)
	}
	for k, v := range want {
		if g, ok := f.Get(k); !ok || g != v {
			t.Fatalf("Get(%q) = %q, %v; compose-go reads %q", k, g, ok, v)
		}
	}
}

// equivalenceCases are .env snippets covering compose-go's syntax corners.
var equivalenceCases = []string{
	"",
	"\n\n",
	"A=1",
	"A=1\n",
	"A=1\r\nB=2\r\n",
	"# comment\nA=1 # inline\nB=two words  \n",
	"A=a#b\nB=a #b\nC=a\t#b\n",
	"export A=1\nexport  B='x'\n",
	"exportA=1\n",
	"export\nA=1\n",
	"export \n",
	"export",
	"A: yaml style\nB:c\n",
	"A = spaced = value\n",
	"  A=indented\n\tB=tab\n",
	"A='single $NOT ${EXPANDED}'\n",
	"A=\"double \\n \\t \\\\ \\\" \\$ $$ \\0101\"\n",
	"A='Let\\'s go' # c\n",
	"A=\"multi\nline\nvalue\"\nB=after\n",
	"A='multi\n# not a comment\nline'\n",
	"A=1\nB=${A}\nC=$A\nD=${A}_${B}\nE=${NOPE}\nF=${NOPE:-def}\nG=${A:+alt}\n",
	"A=\"${A:-x}\"\n",
	"A=$$literal\nB=\\$x\n",
	"A=\"x\"trailing\n",
	"A=\"x\" B=2\n",
	"INHERITED\nA=1\n",
	"INHERITED",
	"A=1\nA=2\n",
	"VAR.WITH.DOTS=1\nVAR-WITH-DASH=2\nARR[0]=3\n",
	"456=digits\n",
	"KEY WITH SPACE=1\n",
	"A\tB=tab-in-key\n",
	"A=\"unterminated\n",
	"A='unterminated\n",
	"A=${\n",
	"A=${B:?needs B}\n",
	"B=1\nA=${B:?needs B}\n",
	"A=é\nÉ=unicode key\n",
	"\uFEFFBOM=1\n",
	"A=\n",
	"A=   \n",
	"A=''\nB=\"\"\n",
	"A=\u00a0nbsp\u00a0\n",
	"A=x\u2028\n",
	"A=\"a\\\"b\"\n",
	"A=\"ends with backslash\\\\\"\n",
	"@bad=1\n",
	"A=1 #c\n   # indented comment\n#\nB=2",
	"A=\"${B}\"\nB=late\n",
	"A=\"x\" # comment\nB=y\n",
	"A=\x85next\n",
	"A=\xff\xfe\n",
	"A==double\n",
	"=novalue\n",
	":\n",
	"A:=x\n",
	"A=\"\\u00e9\"\n",
	"A=\"\\x41\"\n",
	"A=\"$(cmd)\"\n",
	"A=${B-def}\nC=${D:?}\n",
	"A=${B}${C:-${D}}\n",
	"A=\"a\r\nb\"\r\n",
}

func TestComposeEquivalence(t *testing.T) {
	for i, c := range equivalenceCases {
		t.Run(strconvName(i, c), func(t *testing.T) {
			checkEquivalent(t, []byte(c))
		})
	}
}

func strconvName(i int, c string) string {
	if len(c) > 20 {
		c = c[:20]
	}
	b, _ := json.Marshal(c)
	return string(rune('a'+i%26)) + string(b)
}

// TestComposeFixtures runs the .env files compose-go ships with its dotenv
// package, read from the module cache (never copied here).
func TestComposeFixtures(t *testing.T) {
	dir := composeDotenvDir(t)
	if dir == "" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, "fixtures", "*"))
	if len(files) == 0 {
		t.Logf("no fixtures in %s; skipping", dir)
		return
	}
	for _, p := range files {
		t.Run(filepath.Base(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			checkEquivalent(t, data)
		})
	}
}

func composeDotenvDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-json", "github.com/compose-spec/compose-go/v2").Output()
	if err != nil {
		t.Logf("go list compose-go: %v; skipping the module's fixtures", err)
		return ""
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Logf("compose-go module not in the module cache; skipping its fixtures")
		return ""
	}
	return filepath.Join(m.Dir, "dotenv")
}

// TestComposeTestStrings feeds every string literal of compose-go's own
// dotenv tests (read from the module cache) through the equivalence check.
func TestComposeTestStrings(t *testing.T) {
	dir := composeDotenvDir(t)
	if dir == "" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	n := 0
	for _, p := range files {
		fset := token.NewFileSet()
		af, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Logf("skip %s: %v", p, err)
			continue
		}
		ast.Inspect(af, func(node ast.Node) bool {
			lit, ok := node.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !strings.ContainsAny(s, "=:") {
				return true
			}
			n++
			t.Run(filepath.Base(p)+"/"+strconv.Itoa(n), func(t *testing.T) {
				checkEquivalent(t, []byte(s))
				checkEquivalent(t, []byte(s+"\n"))
			})
			return true
		})
	}
	t.Logf("%d string literals from compose-go's dotenv tests checked", n)
}
