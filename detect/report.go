package detect

// Report is what detect found. It holds no secrets: credentials stay in
// Probe, which is never serialised.
type Report struct {
	Project       string          `json:"project"`
	Dir           string          `json:"dir"`
	ComposeFiles  []string        `json:"compose_files"`
	App           string          `json:"app"`
	Profile       string          `json:"profile"`
	ProfileReason string          `json:"profile_reason,omitempty"`
	Version       string          `json:"version"`
	VersionSource string          `json:"version_source"`
	Schema        SchemaReport    `json:"schema"`
	DB            DBReport        `json:"db"`
	Services      []ServiceReport `json:"services"`
	Drift         *Drift          `json:"drift,omitempty"` // set when the schema head is not the one Version expects
	Warnings      []string        `json:"warnings"`        // for people; decide on typed fields (Drift, Schema.Dirty)
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
