// Package profile owns the app profiles: data (embedded YAML, user files)
// that say how an app is recognised, which service plays which role, where
// its version comes from, how it migrates and how it must be upgraded.
// It reads files and nothing else: no Docker, no database, no network.
package profile

import "github.com/seed-e7a9fb3b/upshift/internal/schematool"

// Roles a service can play.
const (
	RoleApp       = "app"
	RoleWorker    = "worker"
	RoleScheduler = "scheduler"
	RoleDB        = "db"
	RoleWeb       = "web"
	// RoleJob is a one-shot service (an init or migration job): it runs to
	// completion before the app starts and is expected to be exited.
	RoleJob   = "job"
	RoleOther = "other"
)

// Profile describes one app. Field names mirror the YAML keys.
type Profile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Images says where images come from: "pull" (a registry) or
	// "build-demo" (built locally by upshift).
	Images string `yaml:"images,omitempty"`

	Match       Matching      `yaml:"match"`
	Services    []ServiceRule `yaml:"services,omitempty"`
	DefaultRole string        `yaml:"default_role,omitempty"`

	Version     VersionSpec   `yaml:"version"`
	DB          DB            `yaml:"db"`
	Schema      Schema        `yaml:"schema"`
	Migration   Migration     `yaml:"migration"`
	Apply       Apply         `yaml:"apply"`
	ConfigFiles []ConfigFile  `yaml:"config_files,omitempty"`
	EnvTemplate string        `yaml:"env_template,omitempty"`
	Templates   []Template    `yaml:"templates,omitempty"`
	Renames     []KeyRename   `yaml:"renames,omitempty"`
	Volumes     []Volume      `yaml:"volumes,omitempty"`
	Health      []HealthCheck `yaml:"health,omitempty"`
	Notes       NotesSource   `yaml:"release_notes"`
	Upgrade     Upgrade       `yaml:"upgrade"`

	// Source is "builtin" or the file the profile was loaded from.
	Source string `yaml:"-"`
	// lines maps a field path ("migration.mode") to its line in Source.
	lines map[string]int
}

// Matching says how a compose project is recognised as this app.
type Matching struct {
	// Images are image repositories ("langgenius/dify-api"); a service
	// matches when its image, without tag or digest, ends with one.
	Images []string `yaml:"images,omitempty"`
	// ImagePatterns are regular expressions tried on the full image
	// reference.
	ImagePatterns []string `yaml:"image_patterns,omitempty"`
	// ContainerNames are globs ("sl-*") tried on container names.
	ContainerNames []string `yaml:"container_names,omitempty"`
	// RequiresPostgres makes the profile match only projects with a
	// PostgreSQL service (used by generic).
	RequiresPostgres bool `yaml:"requires_postgres,omitempty"`
	// Fallback marks a profile used only when nothing else matches.
	Fallback bool `yaml:"fallback,omitempty"`
}

// ServiceRule gives a role to the services it selects: by compose service
// name, by a substring of the image, or by a container-name glob.
type ServiceRule struct {
	Name      string `yaml:"name,omitempty"`
	Image     string `yaml:"image,omitempty"`
	Container string `yaml:"container,omitempty"`
	Role      string `yaml:"role"`
}

// VersionSpec lists the places the running version is read from, most
// trusted first.
type VersionSpec struct {
	Sources []VersionSource `yaml:"sources"`
}

// Version source kinds.
const (
	VersionHTTP     = "http"
	VersionCommand  = "command"
	VersionOCILabel = "oci-label"
	VersionImageTag = "image-tag"
)

// VersionSource is one way to read the running version.
type VersionSource struct {
	Type    string `yaml:"type"`
	Service string `yaml:"service,omitempty"`
	// HTTP: GET http://<service>:<port><path>, then the JSON field, the
	// header, or (neither) the whole trimmed body.
	Port   int    `yaml:"port,omitempty"`
	Path   string `yaml:"path,omitempty"`
	JSON   string `yaml:"json,omitempty"`
	Header string `yaml:"header,omitempty"`
	// Command runs inside the service's container; Regexp (optional) picks
	// the version out of its output (first group).
	Command []string `yaml:"command,omitempty"`
	Regexp  string   `yaml:"regexp,omitempty"`
	// Label is the OCI label (default org.opencontainers.image.version).
	Label string `yaml:"label,omitempty"`
}

// DB engines.
const (
	EnginePostgres = "postgresql"
	EngineSQLite   = "sqlite"
	// EngineMySQL is recognised in the files but not handled by upshift.
	EngineMySQL = "mysql"
)

// DB says where the app's data lives.
type DB struct {
	Service string `yaml:"service,omitempty"`
	Engine  string `yaml:"engine"`
	// Env keys of the DB service (or the app) that hold the credentials.
	UserEnv     string `yaml:"user_env,omitempty"`
	PasswordEnv string `yaml:"password_env,omitempty"`
	DatabaseEnv string `yaml:"database_env,omitempty"`
	// Path is the SQLite file inside the project.
	Path string `yaml:"path,omitempty"`
	// ExtraDatabases are further databases on the same server to back up.
	ExtraDatabases []string `yaml:"extra_databases,omitempty"`
	// NeedsDDL: the app changes its own schema at start and only logs a
	// failure (gorm AutoMigrate), so preflight refuses a role that may not
	// create and alter its tables.
	NeedsDDL bool `yaml:"needs_ddl,omitempty"`
	// MajorImage is the image of a newer PostgreSQL major, with {{major}}
	// for the number ("postgres:{{major}}-alpine"): a target that needs a
	// newer server than the one running gets a PostgreSQL upgrade hop.
	MajorImage string `yaml:"major_image,omitempty"`
	// AppDSN says where the app keeps its own connection string, when it
	// connects with another role than the database service's user: the
	// DDL check is made as that role.
	AppDSN *ConfigValue `yaml:"app_dsn,omitempty"`
	// Variants are the engines the app supports, each with the service
	// that runs it in the app's own layouts; the files decide which one a
	// stack uses (EngineFrom, else the images of its services).
	Variants []DBVariant `yaml:"variants,omitempty"`
	// EngineFrom are the places in the files that name the engine the app
	// connects to (Dify's DB_TYPE, n9e's config.toml DB.DBType), most
	// trusted first.
	EngineFrom []EngineSource `yaml:"engine_from,omitempty"`
}

// DBVariant is one database engine an app supports.
type DBVariant struct {
	Engine  string `yaml:"engine"`
	Service string `yaml:"service,omitempty"`
}

// EngineSource is a value in the files that names the DB engine: an env key
// (of Service, else the project's .env), or a dotted key of a config file.
// File is relative to the project, or (with Service and Mount) to the host
// directory bind-mounted at Mount in that service.
type EngineSource struct {
	Env     string `yaml:"env,omitempty"`
	Service string `yaml:"service,omitempty"`
	Mount   string `yaml:"mount,omitempty"`
	File    string `yaml:"file,omitempty"`
	Key     string `yaml:"key,omitempty"`
}

// ConfigValue is one value in a config file of the project: a dotted key
// in a TOML file, or a key in an env file.
type ConfigValue struct {
	File string `yaml:"file"`
	Key  string `yaml:"key"`
}

// SchemaTools are the schema tools upshift knows how to read the head of.
var SchemaTools = schematool.All()

// Schema says which tool records the schema version, and where.
type Schema struct {
	Tool string `yaml:"tool"`
	// Table is the version table: for tool table, the app's own (found by
	// looking when empty); the other tools always read their own table, so
	// it may only repeat that name.
	Table string `yaml:"table,omitempty"`
	// Column holds the version in Table (tool table only; found by looking
	// when empty: version, version_num, ...).
	Column string `yaml:"column,omitempty"`
	// Heads maps a version to the schema head it expects, where known: it
	// lets detect see an image and a database out of step (drift) and verify
	// check that a migration reached the right head.
	Heads map[string]string `yaml:"heads,omitempty"`
}

// Migration modes.
const (
	MigrateOneOff     = "oneoff"
	MigrateEntrypoint = "entrypoint"
	MigrateNone       = "none"
)

// Migration says how the schema is migrated to the new version.
type Migration struct {
	Mode string `yaml:"mode"`
	// Service runs the one-off migration, or (entrypoint) migrates when it
	// starts; empty with entrypoint means the app-role services.
	Service string   `yaml:"service,omitempty"`
	Command []string `yaml:"command,omitempty"`
	// After are further one-off commands run, in order, once the migration
	// succeeded (SimpleLogin's `python init_app.py`); a failure there fails
	// the step like the migration itself.
	After [][]string `yaml:"after,omitempty"`
	// Env is added to the one-off container (e.g. MODE: migration).
	Env map[string]string `yaml:"env,omitempty"`
	// ToggleEnv is the env key that switches entrypoint migrations on
	// (Dify's MIGRATION_ENABLED): detect reports its value.
	ToggleEnv string `yaml:"toggle_env,omitempty"`
	// SuccessLog and ErrorLog are regexps watched in the entrypoint logs.
	SuccessLog string `yaml:"success_log,omitempty"`
	ErrorLog   string `yaml:"error_log,omitempty"`
	// Timeout is a Go duration ("30m"); empty means the engine's default.
	Timeout string `yaml:"timeout,omitempty"`
	// Settle (entrypoint, a Go duration) keeps watching the log that long
	// after the success line: an app that goes on migrating in the
	// background once it serves (n9e's event-table indexes) logs those
	// errors only then.
	Settle string `yaml:"settle,omitempty"`
	// Watchdog (a Go duration, default 2m; "off" disables it) fails a
	// migration whose log shows no new line for that long before its
	// success line: a start that hangs (waiting for a stopped dependency)
	// is named and rolled back instead of costing the whole timeout.
	Watchdog string `yaml:"watchdog,omitempty"`
	// KnownErrors are error lines of an entrypoint migration known to be
	// harmless for some versions (an upstream bug the app survives): the
	// run goes on and says so.
	KnownErrors []KnownError `yaml:"known_errors,omitempty"`
}

// KnownError is an error line a version logs and survives.
type KnownError struct {
	Versions string `yaml:"versions"` // a constraint, e.g. ">=8.5.1 <8.6.0"
	Log      string `yaml:"log"`      // a regexp of the line
	Reason   string `yaml:"reason"`   // what it is, for the admin
}

// Apply methods.
const (
	ApplyEnv         = "env"
	ApplyImageTag    = "image-tag"
	ApplyGitCheckout = "git-checkout"
	ApplyDownload    = "download"
	// ApplyAuto finds where the files keep the version of each app service's
	// image: a literal tag in compose, an .env variable holding the tag, or
	// one holding the whole image reference.
	ApplyAuto = "auto"
)

// Apply forms: what the env key holds.
const (
	FormTag   = "tag"   // just the tag: APP_VERSION=2.2.10
	FormImage = "image" // the whole reference: APP_IMAGE=miniflux/miniflux:2.2.10
)

// Apply says how a target version is put in place.
type Apply struct {
	Method string `yaml:"method"`
	// EnvKey is the .env key holding the version (method env).
	EnvKey string `yaml:"env_key,omitempty"`
	// Form says what EnvKey holds: tag (default) or image (the whole
	// reference, whose repository is kept and only the tag changed). Empty
	// means as the file has it.
	Form string `yaml:"form,omitempty"`
	// Services whose image tag is rewritten (method image-tag).
	Services []string `yaml:"services,omitempty"`
	// TagTemplate turns a version into a tag or git ref ("v{{version}}");
	// empty means the version as is.
	TagTemplate string `yaml:"tag_template,omitempty"`
	// ComposeURL and EnvURL are URL templates (method download).
	ComposeURL string `yaml:"compose_url,omitempty"`
	EnvURL     string `yaml:"env_url,omitempty"`
}

// ConfigFile is a file to back up and 3-way merge.
type ConfigFile struct {
	Path   string `yaml:"path"`
	Format string `yaml:"format"`
}

// Template is a file the app's release ships (a compose file, a config
// template inside its image): each upgrade merges the admin's File three
// ways — upstream at the running version, the admin's file, upstream at the
// target — keeping the admin's values and taking upstream's new services
// and keys. A conflict (both changed the same thing) stops before any
// downtime.
type Template struct {
	// File is the admin's file, relative to the project directory.
	File string `yaml:"file"`
	// Source is where upstream's version of it is: builtin:NAME, a URL
	// template ({{version}}, {{tag}}), a path template in the project, or
	// image:PATH (a file inside Service's image of that version).
	Source string `yaml:"source"`
	// Service whose image holds an image: source.
	Service string `yaml:"service,omitempty"`
	// Format: compose, env, toml or yaml (default: from the name; compose
	// for the project's compose files).
	Format string `yaml:"format,omitempty"`
	// Renames are keys the release renamed (dotted paths in TOML/YAML):
	// the admin's value moves to the new name.
	Renames []TemplateRename `yaml:"renames,omitempty"`
}

// TemplateRename is a key of a template renamed in a version.
type TemplateRename struct {
	From    string `yaml:"from"`
	To      string `yaml:"to"`
	Version string `yaml:"version"`
}

// Template formats.
const (
	TemplateCompose = "compose"
	TemplateEnv     = "env"
	TemplateTOML    = "toml"
	TemplateYAML    = "yaml"
)

// KeyRename is an env key renamed in a version.
type KeyRename struct {
	From    string `yaml:"from"`
	To      string `yaml:"to"`
	Version string `yaml:"version"`
}

// Volume is a named volume (or bind mount) to back up.
type Volume struct {
	Name    string `yaml:"name"`
	Service string `yaml:"service,omitempty"`
	Mount   string `yaml:"mount,omitempty"`
	// Optional volumes exist only in some layouts or releases (Dify's
	// dify_config): when no container mounts one, the backup goes on
	// without it and says so.
	Optional bool `yaml:"optional,omitempty"`
}

// Health check types.
const (
	HealthContainer = "container"
	HealthHTTP      = "http"
)

// HealthCheck is one check run after start.
type HealthCheck struct {
	Type         string `yaml:"type"`
	Service      string `yaml:"service"`
	Port         int    `yaml:"port,omitempty"`
	Path         string `yaml:"path,omitempty"`
	Status       int    `yaml:"status,omitempty"`
	BodyContains string `yaml:"body_contains,omitempty"`
}

// NotesSource says where release notes come from; exactly one is set.
type NotesSource struct {
	GitHub    string `yaml:"github,omitempty"`    // owner/repo
	Dir       string `yaml:"dir,omitempty"`       // <version>.md files
	Changelog string `yaml:"changelog,omitempty"` // one Markdown changelog
	Builtin   string `yaml:"builtin,omitempty"`   // e.g. upshift-demo
}

// Upgrade holds the rules of the upgrade path.
type Upgrade struct {
	Stops []Stop `yaml:"stops,omitempty"`
	// ESR lists the extended-support minors ("10.5", "10.11") used by the
	// esr stop rule.
	ESR           []string       `yaml:"esr,omitempty"`
	Blocked       []Blocked      `yaml:"blocked,omitempty"`
	MinDB         []MinDB        `yaml:"min_db,omitempty"`
	ManualActions []ManualAction `yaml:"manual_actions,omitempty"`
	Consent       []Consent      `yaml:"consent,omitempty"`
}

// Consent is a document shipped inside the app's image that the admin
// agrees to by setting an env value to the document's MD5 (MaiBot's
// EULA_AGREE / PRIVACY_AGREE). When a target version changes the document,
// upshift shows it and asks before writing the new value; --yes alone never
// agrees to it.
type Consent struct {
	Name    string `yaml:"name"`    // what it is called ("EULA")
	Service string `yaml:"service"` // the service whose image holds it
	File    string `yaml:"file"`    // absolute path inside the image
	Env     string `yaml:"env"`     // env key holding the agreed MD5
}

// Stop rules.
const (
	RuleLatestPatchOfEachMinor = "latest-patch-of-each-minor"
	RuleLatestOfEachMajor      = "latest-of-each-major"
	RuleESR                    = "esr"
)

// Stop is a required stop: an explicit version, or a rule.
type Stop struct {
	Version string `yaml:"version,omitempty"`
	// LatestPatch prefers the newest known patch of Version's minor.
	LatestPatch bool   `yaml:"latest_patch,omitempty"`
	Rule        string `yaml:"rule,omitempty"`
	// From and To bound where a rule applies (inclusive, by version).
	From string `yaml:"from,omitempty"`
	To   string `yaml:"to,omitempty"`
	// Targets is a constraint on the target (">=2.0.0"): the stop is only
	// required when the target satisfies it.
	Targets string `yaml:"targets,omitempty"`
	Reason  string `yaml:"reason,omitempty"`
}

// Blocked refuses hops that start at or above From and end at or below To;
// with Targets, only hops whose end satisfies it (">=11.0.0": a patch
// within the source line stays allowed).
type Blocked struct {
	From    string `yaml:"from"`
	To      string `yaml:"to"`
	Targets string `yaml:"targets,omitempty"`
	Reason  string `yaml:"reason"`
}

// MinDB is a minimum database server version for a target range.
type MinDB struct {
	Targets string `yaml:"targets"`
	Engine  string `yaml:"engine"`
	Version string `yaml:"version"`
	Reason  string `yaml:"reason,omitempty"`
}

// ManualAction is something the admin must do and acknowledge when
// upgrading to (or through) Version.
type ManualAction struct {
	Version string `yaml:"version"`
	Text    string `yaml:"text"`
}

// ServiceInfo is what Match and RoleOf need to know about a service.
type ServiceInfo struct {
	Name          string
	Image         string
	ContainerName string
}
