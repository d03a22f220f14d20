package upgrade

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/pg"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

func TestAppRole(t *testing.T) {
	dir := t.TempDir()
	server := pg.Params{Host: "172.18.0.2", Port: "5432", User: "root", Password: "root-pw", Database: "n9e_v6"}
	e := &Env{Profile: &profile.Profile{}, Project: dockerx.Project{WorkingDir: dir}}
	if p, err := e.appRole(server); err != nil || p != server {
		t.Fatalf("without app_dsn: %+v %v", p, err)
	}
	e.Profile.DB.AppDSN = &profile.ConfigValue{File: "n9eetc_pg/config.toml", Key: "DB.DSN"}
	if _, err := e.appRole(server); err == nil || !strings.Contains(err.Error(), "config.toml") {
		t.Errorf("missing file: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "n9eetc_pg"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "n9eetc_pg", "config.toml"), "[DB]\nDBType = \"postgres\"\nDSN = \"host=postgres port=5432 user=n9e dbname=n9e_v6 password=n9e-pw sslmode=disable\"\n")
	p, err := e.appRole(server)
	if err != nil {
		t.Fatal(err)
	}
	// The app's role and password, on the address upshift reaches.
	if p.Host != "172.18.0.2" || p.User != "n9e" || p.Password != "n9e-pw" || p.Database != "n9e_v6" {
		t.Errorf("app role %+v", p)
	}
	e.Profile.DB.AppDSN = &profile.ConfigValue{File: ".env", Key: "DB_URI"}
	writeFile(t, filepath.Join(dir, ".env"), "DB_URI=postgresql://sl:sl-pw@postgres:5432/simplelogin\n")
	if p, err := e.appRole(server); err != nil || p.User != "sl" || p.Database != "simplelogin" {
		t.Errorf("env app role %+v %v", p, err)
	}
	e.Profile.DB.AppDSN.Key = "MISSING"
	if _, err := e.appRole(server); err == nil || !strings.Contains(err.Error(), "no MISSING") {
		t.Errorf("missing key: %v", err)
	}
}
