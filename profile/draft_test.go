package profile

import (
	"strings"
	"testing"
)

// TestDraftYAMLIsValid: what profile init writes passes the check, for a
// full draft and for one that found little.
func TestDraftYAMLIsValid(t *testing.T) {
	drafts := map[string]*Draft{
		"full": {
			Name: "miniflux", Description: "Miniflux", Version: "2.2.6",
			AppImages: []string{"miniflux/miniflux"}, AppServices: []string{"miniflux"}, DBService: "db",
			DBUserEnv: "POSTGRES_USER", DBPasswordEnv: "POSTGRES_PASSWORD", DBDatabaseEnv: "POSTGRES_DB",
			Apply:  Apply{Method: ApplyEnv, EnvKey: "MINIFLUX_IMAGE", Form: FormImage},
			Schema: Schema{Tool: "table", Table: "schema_version", Column: "version"}, SchemaWhy: []string{"schema_version.version, 1 row(s) (picked)"},
			Health:      []HealthCheck{{Type: HealthHTTP, Service: "miniflux", Port: 8080, Path: "/healthcheck"}},
			VersionHTTP: &VersionSource{Type: VersionHTTP, Service: "miniflux", Port: 8080, Path: "/version"},
			NotesGitHub: "miniflux/v2",
		},
		"little": {
			Name: "shop", AppImages: []string{"acme/shop"}, AppServices: []string{"web", "worker"}, DBService: "postgres",
			Apply: Apply{Method: ApplyImageTag, Services: []string{"web", "worker"}}, Schema: Schema{Tool: "none"},
		},
	}
	for name, d := range drafts {
		t.Run(name, func(t *testing.T) {
			y := d.YAML()
			p, err := Parse(y, name+".yaml")
			if err != nil {
				t.Fatalf("%v\n%s", err, y)
			}
			if p.Apply.Method != d.Apply.Method || p.Schema.Tool != d.Schema.Tool || p.DB.Service != d.DBService {
				t.Errorf("round trip: %+v %+v", p.Apply, p.Schema)
			}
			if !strings.Contains(string(y), "profile check") {
				t.Errorf("no hint to check it:\n%s", y)
			}
		})
	}
}
