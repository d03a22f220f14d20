// Package schematool names the migration tools whose schema head upshift
// reads: one list for the profiles (what a profile may say), the PostgreSQL
// readers (pg) and detection. It imports nothing.
package schematool

// The tools.
const (
	Alembic       = "alembic"
	GolangMigrate = "golang-migrate"
	Rails         = "rails"
	Flyway        = "flyway"
	Django        = "django"
	Goose         = "goose"
	Prisma        = "prisma"
	Morph         = "morph"               // Mattermost
	Table         = "table"               // a version in a table of the app's choosing (schema.table, schema.column)
	SQLiteUser    = "sqlite-user-version" // PRAGMA user_version of a SQLite file
	Auto          = "auto"                // detect among the PostgreSQL ones
	None          = "none"                // no version table, e.g. gorm AutoMigrate
)

// Postgres are the tools read from a PostgreSQL table, in the order
// detection tries them (None last).
func Postgres() []string {
	return []string{Alembic, GolangMigrate, Rails, Flyway, Django, Goose, Prisma, Morph, Table, None}
}

// All are the values a profile's schema.tool may take.
func All() []string {
	return append(Postgres(), SQLiteUser, Auto)
}

// HasHead reports whether the tool records a head that can be read and
// compared (none and auto-without-a-table cannot).
func HasHead(tool string) bool { return tool != None && tool != "" }

// OwnTable is the table a tool always reads, whatever a profile says; ""
// for the tools that read the table the profile names (table) or none.
func OwnTable(tool string) string {
	switch tool {
	case Alembic:
		return "alembic_version"
	case GolangMigrate, Rails:
		return "schema_migrations"
	case Flyway:
		return "flyway_schema_history"
	case Django:
		return "django_migrations"
	case Goose:
		return "goose_db_version"
	case Prisma:
		return "_prisma_migrations"
	case Morph:
		return "db_migrations"
	}
	return ""
}
