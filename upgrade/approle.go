package upgrade

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/pg"
)

// appRole is how the app itself logs in to its database: the profile's
// app_dsn (read from the app's own config file) on the address upshift
// reaches the server at; without app_dsn, the database service's user.
func (e *Env) appRole(server pg.Params) (pg.Params, error) {
	a := e.Profile.DB.AppDSN
	if a == nil {
		return server, nil
	}
	path := a.File
	if !filepath.IsAbs(path) {
		path = filepath.Join(e.Dir(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return server, fmt.Errorf("read the app's database settings: %w. Nothing was changed", err)
	}
	dsn, err := configValue(path, b, a.Key)
	if err != nil {
		return server, fmt.Errorf("%s: %w. Nothing was changed", path, err)
	}
	own, err := pg.ParseDSN(dsn)
	if err != nil {
		return server, fmt.Errorf("%s %s: %w. Nothing was changed", path, a.Key, err)
	}
	p := server
	p.User, p.Password = own.User, own.Password
	if own.Database != "" {
		p.Database = own.Database
	}
	return p, nil
}

// configValue reads a dotted key of a TOML file ("DB.DSN"), or a key of an
// env file.
func configValue(path string, b []byte, key string) (string, error) {
	if strings.HasSuffix(path, ".toml") {
		var doc map[string]any
		if err := toml.Unmarshal(b, &doc); err != nil {
			return "", fmt.Errorf("parse: %w", err)
		}
		var cur any = doc
		for _, part := range strings.Split(key, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				return "", fmt.Errorf("no %s", key)
			}
			if cur, ok = m[part]; !ok {
				return "", fmt.Errorf("no %s", key)
			}
		}
		s, ok := cur.(string)
		if !ok {
			return "", fmt.Errorf("%s is not a string", key)
		}
		return s, nil
	}
	f, err := envfile.Parse(b)
	if err != nil {
		return "", fmt.Errorf("parse: %w", err)
	}
	v, ok := f.Get(key)
	if !ok {
		return "", fmt.Errorf("no %s", key)
	}
	return v, nil
}
