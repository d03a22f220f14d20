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
	SQLiteUser    = "sqlite-user-version" // PRAGMA user_version of a SQLite file
	Auto          = "auto"                // detect among the PostgreSQL ones
	None          = "none"                // no version table, e.g. gorm AutoMigrate
)

// Postgres are the tools read from a PostgreSQL table, in the order
// detection tries them (None last).
func Postgres() []string {
	return []string{Alembic, GolangMigrate, Rails, Flyway, Django, Goose, Prisma, Morph, None}
}

// All are the values a profile's schema.tool may take.
func All() []string {
	return append(Postgres(), SQLiteUser, Auto)
}
