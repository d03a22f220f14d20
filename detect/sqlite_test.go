package detect

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	_ "modernc.org/sqlite"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

// The database file is found through the bind mount that holds it (MaiBot:
// ./data/MaiMBot → /MaiMBot/data), and its schema version read on the host.
func TestProbeSQLite(t *testing.T) {
	dir := t.TempDir()
	p := &profile.Profile{
		DB:        profile.DB{Engine: profile.EngineSQLite, Path: "data/MaiMBot/MaiBot.db"},
		Schema:    profile.Schema{Tool: "sqlite-user-version"},
		Migration: profile.Migration{Service: "core"},
	}
	res := &Result{
		Stack: &Stack{Model: &types.Project{WorkingDir: dir}},
		Containers: map[string]dockerx.Container{
			"napcat": {ID: "n1", Mounts: []dockerx.Mount{{Type: "bind", Source: filepath.Join(dir, "data"), Destination: "/app/data"}}},
			"core": {ID: "c1", Mounts: []dockerx.Mount{
				{Type: "bind", Source: filepath.Join(dir, "docker-config", "mmc"), Destination: "/MaiMBot/config"},
				{Type: "bind", Source: filepath.Join(dir, "data", "MaiMBot"), Destination: "/MaiMBot/data"},
			}},
		},
	}
	probeSQLite(context.Background(), p, res)
	if res.Report.DB.Reachable || !strings.Contains(res.Report.DB.Error, "does not exist") {
		t.Errorf("missing file: %+v", res.Report.DB)
	}
	tg := res.DB.SQLite
	if tg == nil || tg.Container != "c1" || tg.Service != "core" || tg.ContainerPath != "/MaiMBot/data/MaiBot.db" {
		t.Fatalf("target %+v", tg)
	}
	if f := tg.Files(); len(f) != 3 || f[1] != "/MaiMBot/data/MaiBot.db-wal" {
		t.Errorf("files %v", f)
	}

	if err := makeDB(tg.HostPath, 39); err != nil {
		t.Fatal(err)
	}
	res.Report = Report{}
	probeSQLite(context.Background(), p, res)
	if !res.Report.DB.Reachable || res.Report.Schema.Head != "39" || res.Report.Schema.Tool != "sqlite-user-version" || res.Report.DB.SizeBytes == 0 {
		t.Errorf("report %+v %+v", res.Report.DB, res.Report.Schema)
	}

	// Without core, the first container whose mount holds the file is used.
	delete(res.Containers, "core")
	if tg := sqliteTarget(p, res); tg.Container != "n1" || tg.ContainerPath != "/app/data/MaiMBot/MaiBot.db" {
		t.Errorf("fallback target %+v", tg)
	}
	// A mount next to the file's directory (a prefix of its name) is not it.
	res.Containers = map[string]dockerx.Container{"x": {ID: "x1", Mounts: []dockerx.Mount{{Type: "bind", Source: filepath.Join(dir, "data", "MaiM"), Destination: "/d"}}}}
	if tg := sqliteTarget(p, res); tg.Container != "" {
		t.Errorf("prefix mount taken for the file's dir: %+v", tg)
	}
}

func makeDB(path string, version int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(wal)")
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	for _, q := range []string{`CREATE TABLE messages (id INTEGER PRIMARY KEY)`, `PRAGMA user_version = ` + strconv.Itoa(version)} {
		if _, err := db.Exec(q); err != nil {
			return err
		}
	}
	return nil
}
