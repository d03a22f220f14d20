package envfile

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Which merge a config file gets, by its name.

// IsComposeFile reports whether a file name is one docker compose reads
// as a compose file (compose.yaml, docker-compose.yml, compose.override.yaml, ...).
func IsComposeFile(path string) bool {
	name := strings.ToLower(filepath.Base(path))
	ext := filepath.Ext(name)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	stem := strings.TrimSuffix(name, ext)
	return stem == "compose" || stem == "docker-compose" || strings.HasPrefix(stem, "compose.") || strings.HasPrefix(stem, "docker-compose.") || strings.HasPrefix(stem, "docker-compose-")
}

// MergeConfigFile merges a config file by its name: .env-style files with
// Merge, other .toml/.yaml/.yml files with MergeConfig. Compose files are
// refused: they go through MergeCompose.
func MergeConfigFile(path string, base, theirs, ours []byte, renames []Rename) (MergeResult, error) {
	if IsComposeFile(path) {
		return MergeResult{}, fmt.Errorf("%s is a compose file: merge it with MergeCompose", path)
	}
	if IsEnvFile(path) {
		return Merge(base, theirs, ours, renames)
	}
	format, err := FormatOf(path)
	if err != nil {
		return MergeResult{}, fmt.Errorf("%w; upshift merges .env, .toml, .yaml and .yml files only", err)
	}
	return MergeConfig(format, base, theirs, ours, renames)
}

// IsEnvFile reports whether a file name is a .env-style file (.env,
// .env.example, app.env, env.example).
func IsEnvFile(path string) bool {
	name := strings.ToLower(filepath.Base(path))
	return name == ".env" || strings.HasPrefix(name, ".env.") || strings.HasSuffix(name, ".env") || name == "env.example"
}

// IsConfigFile reports whether MergeConfigFile merges this file.
func IsConfigFile(path string) bool {
	_, err := FormatOf(path)
	return !IsComposeFile(path) && (IsEnvFile(path) || err == nil)
}
