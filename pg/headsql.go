package pg

// headSQL is, per tool, one query whose rows are the schema head as the
// readers of schema.go compute it (one row; alembic: one per head), for
// servers reached only through psql inside their container (a scratch
// server on an internal network).
var headSQL = map[string]string{
	ToolAlembic:       "SELECT version_num FROM alembic_version ORDER BY version_num",
	ToolGolangMigrate: "SELECT version::text FROM schema_migrations WHERE version >= 0 ORDER BY version DESC LIMIT 1",
	ToolRails: `SELECT version FROM schema_migrations
		ORDER BY CASE WHEN version ~ '^[0-9]+$' THEN version::numeric END DESC NULLS LAST, version DESC LIMIT 1`,
	ToolFlyway: `SELECT version FROM flyway_schema_history WHERE success AND version IS NOT NULL AND ` + flywayCounted + `
		ORDER BY installed_rank DESC LIMIT 1`,
	ToolGoose: `WITH latest AS (SELECT DISTINCT ON (version_id) id, version_id, is_applied
			FROM goose_db_version ORDER BY version_id, id DESC)
		SELECT version_id::text FROM latest WHERE is_applied AND version_id <> 0 ORDER BY id DESC LIMIT 1`,
	ToolPrisma: `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL
		ORDER BY migration_name DESC LIMIT 1`,
	ToolMorph: "SELECT version::text FROM db_migrations ORDER BY version DESC LIMIT 1",
}

// HeadSQL is the query that reads tool's schema head, row by row (joined
// with "," they are Schema.Head); ok is false for a tool whose head needs
// more than one query (django, a profile's own table, none).
func HeadSQL(tool string) (sql string, ok bool) {
	sql, ok = headSQL[tool]
	return sql, ok
}
