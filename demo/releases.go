// Package demo is the built-in demo app (a small notes service with real
// PostgreSQL migrations) and the demo stack `upshift demo` runs. It behaves
// like the self-hosted apps upshift upgrades: schema checks at start,
// required stops, a renamed env key, a migration that fails on real data.
package demo

import (
	"bytes"
	"embed"
	"fmt"
	"slices"
)

//go:embed releases
var releaseFS embed.FS

// Versions are the released versions of the demo app, oldest first.
var Versions = []string{"1.0.0", "1.1.0", "2.0.0", "2.1.0", "3.0.0"}

// Latest is the newest demo version.
const Latest = "3.0.0"

// IsVersion reports whether v is a released demo version.
func IsVersion(v string) bool { return slices.Contains(Versions, v) }

// ReleaseNotes returns the Markdown release notes of version v.
func ReleaseNotes(v string) ([]byte, error) {
	if !IsVersion(v) {
		return nil, fmt.Errorf("demo app has no version %q (known: %v)", v, Versions)
	}
	b, err := releaseFS.ReadFile("releases/" + v + ".md")
	if err != nil {
		return nil, fmt.Errorf("release notes of %s: %w", v, err)
	}
	return b, nil
}

// EnvTemplate returns the .env.example shipped with version v.
func EnvTemplate(v string) ([]byte, error) {
	if !IsVersion(v) {
		return nil, fmt.Errorf("demo app has no version %q (known: %v)", v, Versions)
	}
	b, err := releaseFS.ReadFile("releases/" + v + ".env.example")
	if err != nil {
		return nil, fmt.Errorf(".env.example of %s: %w", v, err)
	}
	return b, nil
}

// ComposeYAML is the demo stack's compose.yaml of the 1.x versions.
//
//go:embed releases/compose.yaml
var ComposeYAML []byte

//go:embed releases/compose-2.0.0.yaml
var compose2 []byte

// ComposeFor is the compose.yaml the demo ships with version v: 2.0.0 adds
// the scheduler service and changes a default, so an upgrade across it
// merges the admin's compose file with the new one (profile templates).
func ComposeFor(v string) ([]byte, error) {
	if !IsVersion(v) {
		return nil, fmt.Errorf("demo app has no version %q (known: %v)", v, Versions)
	}
	if v >= "2.0.0" {
		return withRepo(compose2), nil
	}
	return withRepo(ComposeYAML), nil
}

// Template is a file of a demo release by its name in the stack directory
// (profile templates, source builtin:upshift-demo).
func Template(file, v string) ([]byte, error) {
	switch file {
	case "compose.yaml":
		return ComposeFor(v)
	case ".env.example", ".env":
		return EnvTemplate(v)
	}
	return nil, fmt.Errorf("the demo app ships no template for %s", file)
}

// isDemoCompose reports whether b is a compose file the demo wrote.
func isDemoCompose(b []byte) bool {
	return bytes.Equal(b, withRepo(ComposeYAML)) || bytes.Equal(b, withRepo(compose2))
}
