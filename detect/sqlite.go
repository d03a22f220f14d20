package detect

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/sqlitedb"
)

// SQLiteTarget is an app's SQLite database: the file as upshift reads it on
// this host, and the same file inside the container that mounts it (where
// backups copy it from, with the container stopped).
type SQLiteTarget struct {
	HostPath      string
	Service       string
	Container     string // container ID, "" when no container mounts it
	ContainerPath string
}

// Files are the database and its WAL-mode companions, inside the container.
func (t *SQLiteTarget) Files() []string {
	return []string{t.ContainerPath, t.ContainerPath + "-wal", t.ContainerPath + "-shm"}
}

// sqliteTarget finds where the profile's database file is: db.path is
// relative to the project directory, and the container that bind-mounts a
// directory holding it is preferred in the order db.service, the migration
// service, then any app service.
func sqliteTarget(p *profile.Profile, res *Result) *SQLiteTarget {
	host := p.DB.Path
	if !filepath.IsAbs(host) && res.Stack != nil && res.Stack.Model != nil {
		host = filepath.Join(res.Stack.Model.WorkingDir, host)
	}
	t := &SQLiteTarget{HostPath: filepath.Clean(host)}
	var order []string
	for _, s := range []string{p.DB.Service, p.Migration.Service} {
		if s != "" {
			order = append(order, s)
		}
	}
	var rest []string
	for name := range res.Containers {
		rest = append(rest, name)
	}
	sort.Strings(rest)
	order = append(order, rest...)
	for _, svc := range order {
		c, ok := res.Containers[svc]
		if !ok {
			continue
		}
		for _, m := range c.Mounts {
			if m.Type != "bind" || m.Source == "" {
				continue
			}
			rel, err := filepath.Rel(m.Source, t.HostPath)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				continue
			}
			t.Service, t.Container = svc, c.ID
			t.ContainerPath = path.Join(m.Destination, filepath.ToSlash(rel))
			return t
		}
	}
	return t
}

// probeSQLite reads the database file on this host: reachable means it
// could be opened and its schema version read.
func probeSQLite(ctx context.Context, p *profile.Profile, res *Result) {
	rep := &res.Report
	t := sqliteTarget(p, res)
	res.DB.SQLite = t
	res.DB.Service, res.DB.Container = t.Service, t.Container
	rep.DB.Service = t.Service
	rep.DB.Address = t.HostPath
	rep.DB.Database = filepath.Base(t.HostPath)
	in, err := sqlitedb.Read(ctx, t.HostPath)
	if err != nil {
		rep.DB.Error = err.Error()
		if errors.Is(err, sqlitedb.ErrNoFile) {
			rep.DB.Error = "the database file " + t.HostPath + " does not exist (db.path in the profile is relative to the project directory)"
		} else if errors.Is(err, os.ErrPermission) {
			rep.DB.Error = "cannot read " + t.HostPath + ": permission denied (run upshift as the user that owns the app's data, or with sudo)"
		}
		return
	}
	rep.DB.Reachable = true
	rep.DB.ServerVersion = "(journal " + in.JournalMode + ")"
	rep.DB.SizeBytes = in.SizeBytes
	switch p.Schema.Tool {
	case "sqlite-user-version", "", "auto":
		rep.Schema = SchemaReport{Tool: "sqlite-user-version", Head: strconv.FormatInt(in.UserVersion, 10)}
		if in.Tables == 0 {
			rep.Schema.Detail = "the database has no tables yet"
		}
	default:
		rep.Schema.Detail = "schema tool " + p.Schema.Tool + " is not read from SQLite"
	}
}
