package detect

// Report is what detect found. It holds no secrets: credentials stay in
// Probe, which is never serialised.
type Report struct {
	Project       string   `json:"project"`
	Dir           string   `json:"dir"`
	ComposeFiles  []string `json:"compose_files"`
	App           string   `json:"app"`
	Profile       string   `json:"profile"`
	ProfileReason string   `json:"profile_reason,omitempty"`
	Version       string   `json:"version"`
	VersionSource string   `json:"version_source"`
	// VersionFloating: the version-holding image tag names a moving target
	// (latest, a branch), so the files cannot tell the version.
	VersionFloating bool `json:"version_floating,omitempty"`
	// VersionLocation says where the version is set in the files:
	// "env:KEY" (.env), "compose:SERVICE.image" or "floating".
	VersionLocation string           `json:"version_location,omitempty"`
	Migration       *MigrationReport `json:"migration,omitempty"`
	Schema          SchemaReport     `json:"schema"`
	DB              DBReport         `json:"db"`
	Services        []ServiceReport  `json:"services"`
	Drift           *Drift           `json:"drift,omitempty"` // set when the schema head is not the one Version expects
	Warnings        []string         `json:"warnings"`        // for people; decide on typed fields (Drift, Schema.Dirty)
}

// SchemaReport is the schema head and its health.
type SchemaReport struct {
	Tool     string   `json:"tool"`
	Head     string   `json:"head"`
	Heads    []string `json:"heads,omitempty"`
	Dirty    bool     `json:"dirty"`
	Failed   []string `json:"failed,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	Expected string   `json:"expected,omitempty"` // head the running version expects, when known
}

// DBReport is the database server as seen from upshift.
type DBReport struct {
	Engine        string `json:"engine"`
	ServerVersion string `json:"server_version"`
	ServerMajor   int    `json:"server_major,omitempty"`
	Service       string `json:"service"`
	Database      string `json:"database,omitempty"`
	SizeBytes     int64  `json:"size_bytes"`
	Connections   int    `json:"connections"`
	Address       string `json:"address,omitempty"` // how upshift reached it (never with credentials)
	Reachable     bool   `json:"reachable"`
	Error         string `json:"error,omitempty"`
	// Supported is false for an engine upshift cannot upgrade (MySQL).
	Supported bool `json:"supported"`
	// EngineSource says what named the engine ("env DB_TYPE of api",
	// "image mysql:8 of mysql", "profile").
	EngineSource string `json:"engine_source,omitempty"`
	Image        string `json:"image,omitempty"` // the DB service's image, from the files
	// ServerVersionSource says where ServerVersion came from: the server
	// itself, or the image tag when the server was not asked.
	ServerVersionSource string   `json:"server_version_source,omitempty"`
	Variants            []string `json:"variants,omitempty"` // engines the profile supports
}

// MigrationReport says how the app's schema is migrated, as the profile
// and the files tell it.
type MigrationReport struct {
	Mode    string `json:"mode"`              // oneoff, entrypoint, none
	Service string `json:"service,omitempty"` // what migrates (a job service in the files, or the profile's service)
	Command string `json:"command,omitempty"`
	// Trigger is the migration trigger in words, for people.
	Trigger string `json:"trigger"`
	// Toggle is the env key that switches entrypoint migrations on, with
	// Enabled its value in the files.
	Toggle  string `json:"toggle,omitempty"`
	Enabled *bool  `json:"enabled,omitempty"`
}

// ServiceReport is one compose service and its container.
type ServiceReport struct {
	Name         string `json:"name"`
	Role         string `json:"role"`
	Container    string `json:"container,omitempty"`
	Image        string `json:"image"`
	ImageID      string `json:"image_id,omitempty"`
	Digest       string `json:"digest,omitempty"`
	State        string `json:"state"`
	Health       string `json:"health"`
	RestartCount int    `json:"restart_count"`
	ExitCode     int    `json:"exit_code,omitempty"`
}

// FinishedJob reports a one-shot service (an init or migration job) that
// ran to completion: exited with 0 and never restarted.
func (s ServiceReport) FinishedJob() bool {
	return s.State == "exited" && s.ExitCode == 0 && s.RestartCount == 0
}

// Service finds a service by name.
func (r *Report) Service(name string) (ServiceReport, bool) {
	for _, s := range r.Services {
		if s.Name == name {
			return s, true
		}
	}
	return ServiceReport{}, false
}
