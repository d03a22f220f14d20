package pg

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/seed-e7a9fb3b/upshift/internal/schematool"
)

// The migration tools whose version tables ReadSchema understands (the
// names live in internal/schematool, shared with the profiles).
const (
	ToolAlembic       = schematool.Alembic
	ToolGolangMigrate = schematool.GolangMigrate
	ToolRails         = schematool.Rails
	ToolFlyway        = schematool.Flyway
	ToolDjango        = schematool.Django
	ToolGoose         = schematool.Goose
	ToolPrisma        = schematool.Prisma
	ToolMorph         = schematool.Morph
	ToolNone          = schematool.None
)

// Tools lists the tools ReadSchema accepts, in the order DetectSchema tries
// them (ToolNone last).
func Tools() []string { return schematool.Postgres() }

// Schema is the schema head as the app's migration tool recorded it.
type Schema struct {
	Tool    string
	Head    string   // current version; "" when nothing is applied
	Heads   []string // several heads: alembic branches, or one per Django app
	Dirty   bool     // a migration failed or is unfinished; the tool will refuse to go on
	Failed  []string // the failed or unfinished migrations
	Detail  string   // one line for the admin
	Applied int      // migrations applied, where the tool keeps one row per migration
	// Table and Column say where tool table found the head.
	Table  string `json:",omitempty"`
	Column string `json:",omitempty"`
}

// ErrNoSchemaTable matches a *NoSchemaTableError with errors.Is.
var ErrNoSchemaTable = errors.New("no schema version table")

// NoSchemaTableError says the version table the tool keeps is missing.
type NoSchemaTableError struct {
	Tool     string
	Table    string
	Database string
}

func (e *NoSchemaTableError) Error() string {
	return fmt.Sprintf("no %s table in database %s: either the app has never migrated, or this is not the app the profile says (it expects %s)",
		e.Table, e.Database, e.Tool)
}

// Is makes errors.Is(err, ErrNoSchemaTable) true.
func (e *NoSchemaTableError) Is(target error) bool { return target == ErrNoSchemaTable }

// schemaReader reads one tool's version table.
type schemaReader struct {
	table string
	// columns the table must have; tells rails' schema_migrations from
	// golang-migrate's.
	columns []string
	read    func(ctx context.Context, c *Conn) (Schema, error)
}

var readers = map[string]schemaReader{
	ToolAlembic:       {"alembic_version", []string{"version_num"}, readAlembic},
	ToolGolangMigrate: {"schema_migrations", []string{"version", "dirty"}, readGolangMigrate},
	ToolRails:         {"schema_migrations", []string{"version"}, readRails},
	ToolFlyway:        {"flyway_schema_history", []string{"installed_rank", "version", "success"}, readFlyway},
	ToolDjango:        {"django_migrations", []string{"app", "name"}, readDjango},
	ToolGoose:         {"goose_db_version", []string{"version_id", "is_applied"}, readGoose},
	ToolPrisma:        {"_prisma_migrations", []string{"migration_name", "finished_at", "rolled_back_at"}, readPrisma},
	ToolMorph:         {"db_migrations", []string{"version", "name"}, readMorph},
}

const noneDetail = "this app migrates without a version table (e.g. gorm AutoMigrate)"

// ReadSchema reads the schema head from tool's version table, found through
// the session's search_path like the app finds it. A missing table is a
// *NoSchemaTableError.
func (c *Conn) ReadSchema(ctx context.Context, tool string) (Schema, error) {
	if tool == ToolNone {
		return Schema{Tool: ToolNone, Detail: noneDetail}, nil
	}
	if tool == ToolTable {
		return c.ReadSchemaTable(ctx, "", "")
	}
	r, ok := readers[tool]
	if !ok {
		return Schema{}, fmt.Errorf("unknown migration tool %q: upshift knows %s", tool, strings.Join(Tools(), ", "))
	}
	cols, err := c.columns(ctx, r.table)
	if err != nil {
		return Schema{}, err
	}
	if cols == nil {
		return Schema{}, &NoSchemaTableError{Tool: tool, Table: r.table, Database: c.database}
	}
	if err := checkColumns(tool, r, cols, c.database); err != nil {
		return Schema{}, err
	}
	s, err := r.read(ctx, c)
	if err != nil {
		return Schema{}, fmt.Errorf("read %s table %s in database %s: %w", tool, r.table, c.database, err)
	}
	s.Tool = tool
	if len(s.Heads) == 0 {
		s.Heads = nil
	}
	if len(s.Failed) == 0 {
		s.Failed = nil
	}
	return s, nil
}

func checkColumns(tool string, r schemaReader, cols []string, database string) error {
	for _, want := range r.columns {
		if !slices.Contains(cols, want) {
			return fmt.Errorf("table %s in database %s has no column %s, so it is not %s's: the profile may name the wrong tool",
				r.table, database, want, tool)
		}
	}
	// Rails' schema_migrations has no dirty column; golang-migrate's does.
	if tool == ToolRails && slices.Contains(cols, "dirty") {
		return fmt.Errorf("table schema_migrations in database %s has a dirty column, so it is golang-migrate's, not rails': the profile may name the wrong tool",
			database)
	}
	return nil
}

// DetectSchema finds which tool's version table the database has and reads
// it. With none it reports ToolNone; with several it reads the first in
// Tools() order and names the others in Detail.
func (c *Conn) DetectSchema(ctx context.Context) (Schema, error) {
	var found []string
	for _, tool := range Tools() {
		r, ok := readers[tool]
		if !ok {
			continue
		}
		cols, err := c.columns(ctx, r.table)
		if err != nil {
			return Schema{}, err
		}
		if cols != nil && checkColumns(tool, r, cols, c.database) == nil {
			found = append(found, tool)
		}
	}
	if len(found) == 0 {
		tables, err := c.FindVersionTables(ctx)
		if err != nil {
			return Schema{}, err
		}
		if len(tables) == 0 {
			return Schema{Tool: ToolNone, Detail: "no known migration table found; " + noneDetail}, nil
		}
		s, err := c.ReadSchemaTable(ctx, tables[0].Table, tables[0].Column)
		if err != nil {
			return Schema{}, err
		}
		s.Detail = "no known migration tool's table; the app's own " + s.Detail
		return s, nil
	}
	s, err := c.ReadSchema(ctx, found[0])
	if err != nil {
		return Schema{}, err
	}
	if len(found) > 1 {
		s.Detail = strings.TrimSpace(s.Detail + " (also found version tables of " + strings.Join(found[1:], ", ") + ")")
	}
	return s, nil
}

// ReadSchemaIn is ReadSchema with where the profile says the head is: table
// and column for tool table (empty: found by looking). The other tools
// always read their own table.
func (c *Conn) ReadSchemaIn(ctx context.Context, tool, table, column string) (Schema, error) {
	if tool == ToolTable {
		return c.ReadSchemaTable(ctx, table, column)
	}
	return c.ReadSchema(ctx, tool)
}

// columns lists the columns of table as resolved through search_path; nil
// when there is no such table.
func (c *Conn) columns(ctx context.Context, table string) ([]string, error) {
	rows, err := c.conn.Query(ctx, `SELECT attname::text FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, table)
	if err != nil {
		return nil, fmt.Errorf("look for table %s in database %s: %w", table, c.database, err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look for table %s in database %s: %w", table, c.database, err)
	}
	if len(cols) == 0 {
		return nil, nil
	}
	return cols, nil
}

func strs(ctx context.Context, c *Conn, sql string, args ...any) ([]string, error) {
	rows, err := c.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return out, nil
}

// readAlembic: one row per head; several rows mean unmerged branches.
func readAlembic(ctx context.Context, c *Conn) (Schema, error) {
	heads, err := strs(ctx, c, "SELECT version_num FROM alembic_version ORDER BY version_num")
	if err != nil {
		return Schema{}, err
	}
	s := Schema{Heads: heads, Head: strings.Join(heads, ","), Applied: 0}
	switch len(heads) {
	case 0:
		s.Detail = "alembic_version is empty: the schema is at base (nothing applied, or downgraded to base)"
	case 1:
		s.Detail = "alembic revision " + heads[0]
	default:
		s.Detail = fmt.Sprintf("%d alembic heads (branches not merged): %s", len(heads), strings.Join(heads, ", "))
	}
	return s, nil
}

// readGolangMigrate: a single row holds the version and whether the last
// migration failed halfway.
func readGolangMigrate(ctx context.Context, c *Conn) (Schema, error) {
	var version int64
	var dirty bool
	err := c.conn.QueryRow(ctx, "SELECT version, dirty FROM schema_migrations ORDER BY version DESC LIMIT 1").Scan(&version, &dirty)
	if errors.Is(err, pgx.ErrNoRows) {
		return Schema{Detail: "schema_migrations is empty: no migration applied"}, nil
	}
	if err != nil {
		return Schema{}, fmt.Errorf("query: %w", err)
	}
	s := Schema{Dirty: dirty}
	if version >= 0 { // -1 is golang-migrate's NilVersion
		s.Head = strconv.FormatInt(version, 10)
	}
	if dirty {
		s.Failed = []string{strconv.FormatInt(version, 10)}
		s.Detail = fmt.Sprintf("golang-migrate version %d is dirty: that migration failed halfway, and migrate refuses to run until the schema is repaired and forced", version)
	} else {
		s.Detail = fmt.Sprintf("golang-migrate version %d", version)
	}
	return s, nil
}

// readRails: one row per applied migration; the head is the highest version
// in numeric order.
func readRails(ctx context.Context, c *Conn) (Schema, error) {
	var s Schema
	var head *string
	err := c.conn.QueryRow(ctx, `SELECT count(*), (SELECT version FROM schema_migrations
			ORDER BY CASE WHEN version ~ '^[0-9]+$' THEN version::numeric END DESC NULLS LAST, version DESC LIMIT 1)
		FROM schema_migrations`).Scan(&s.Applied, &head)
	if err != nil {
		return Schema{}, fmt.Errorf("query: %w", err)
	}
	if head == nil {
		s.Detail = "schema_migrations is empty: no migration applied"
		return s, nil
	}
	s.Head = *head
	s.Detail = fmt.Sprintf("rails migration %s, %d applied", s.Head, s.Applied)
	return s, nil
}

// flywayCounted are the flyway_schema_history row types that are migrations
// (not the schema marker, deleted entries or undos).
const flywayCounted = `type NOT IN ('SCHEMA', 'DELETE') AND type NOT LIKE 'UNDO%'`

// readFlyway: the head is the version of the latest successful versioned
// migration by installed_rank; rows with success = false are failures.
func readFlyway(ctx context.Context, c *Conn) (Schema, error) {
	var s Schema
	var head *string
	err := c.conn.QueryRow(ctx, `SELECT
			(SELECT version FROM flyway_schema_history WHERE success AND version IS NOT NULL AND `+flywayCounted+`
				ORDER BY installed_rank DESC LIMIT 1),
			(SELECT count(*) FROM flyway_schema_history WHERE success AND `+flywayCounted+`)`).Scan(&head, &s.Applied)
	if err != nil {
		return Schema{}, fmt.Errorf("query: %w", err)
	}
	s.Failed, err = strs(ctx, c, `SELECT coalesce(version, 'R') || ' ' || description FROM flyway_schema_history
		WHERE NOT success AND `+flywayCounted+` ORDER BY installed_rank`)
	if err != nil {
		return Schema{}, err
	}
	if head != nil {
		s.Head = *head
	}
	s.Dirty = len(s.Failed) > 0
	switch {
	case s.Dirty:
		s.Detail = fmt.Sprintf("flyway version %q, but %d failed migration(s): %s; flyway migrate refuses until flyway repair",
			s.Head, len(s.Failed), strings.Join(s.Failed, "; "))
	case s.Head == "":
		s.Detail = "flyway_schema_history has no successful versioned migration"
	default:
		s.Detail = fmt.Sprintf("flyway version %s, %d applied", s.Head, s.Applied)
	}
	return s, nil
}

// readDjango: one row per applied migration per app. Migration names start
// with a zero-padded number, so the greatest name is each app's latest.
func readDjango(ctx context.Context, c *Conn) (Schema, error) {
	var s Schema
	var last *string
	err := c.conn.QueryRow(ctx, `SELECT count(*),
			(SELECT app || ':' || name FROM django_migrations ORDER BY applied DESC, id DESC LIMIT 1)
		FROM django_migrations`).Scan(&s.Applied, &last)
	if err != nil {
		return Schema{}, fmt.Errorf("query: %w", err)
	}
	s.Heads, err = strs(ctx, c, `SELECT app || ':' || max(name) FROM django_migrations GROUP BY app ORDER BY app`)
	if err != nil {
		return Schema{}, err
	}
	if last == nil {
		s.Detail = "django_migrations is empty: no migration applied"
		return s, nil
	}
	s.Head = *last
	s.Detail = fmt.Sprintf("%d django migrations applied across %d apps; last applied %s", s.Applied, len(s.Heads), s.Head)
	return s, nil
}

// readGoose follows goose's own rule: walking rows newest first, a version's
// latest row decides; is_applied = false means it was rolled back. Version 0
// is the row goose writes when it creates the table.
func readGoose(ctx context.Context, c *Conn) (Schema, error) {
	var s Schema
	var head *int64
	var rolledBack int
	err := c.conn.QueryRow(ctx, `WITH latest AS (
			SELECT DISTINCT ON (version_id) id, version_id, is_applied
			FROM goose_db_version ORDER BY version_id, id DESC)
		SELECT (SELECT version_id FROM latest WHERE is_applied ORDER BY id DESC LIMIT 1),
			(SELECT count(*) FROM latest WHERE is_applied AND version_id <> 0),
			(SELECT count(*) FROM latest WHERE NOT is_applied)`).Scan(&head, &s.Applied, &rolledBack)
	if err != nil {
		return Schema{}, fmt.Errorf("query: %w", err)
	}
	if head == nil || *head == 0 {
		s.Detail = "goose_db_version has no applied migration"
		return s, nil
	}
	s.Head = strconv.FormatInt(*head, 10)
	s.Detail = fmt.Sprintf("goose version %s, %d applied", s.Head, s.Applied)
	if rolledBack > 0 {
		s.Detail += fmt.Sprintf(", %d rolled back", rolledBack)
	}
	return s, nil
}

// readPrisma: finished and not rolled back rows are applied; rows neither
// finished nor rolled back failed (or are running right now), and prisma
// migrate deploy refuses to go on (P3009) until they are resolved.
func readPrisma(ctx context.Context, c *Conn) (Schema, error) {
	var s Schema
	var head *string
	err := c.conn.QueryRow(ctx, `SELECT
			(SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL
				ORDER BY migration_name DESC LIMIT 1),
			(SELECT count(DISTINCT migration_name) FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL)`).
		Scan(&head, &s.Applied)
	if err != nil {
		return Schema{}, fmt.Errorf("query: %w", err)
	}
	s.Failed, err = strs(ctx, c, `SELECT migration_name FROM _prisma_migrations
		WHERE finished_at IS NULL AND rolled_back_at IS NULL ORDER BY started_at, migration_name`)
	if err != nil {
		return Schema{}, err
	}
	if head != nil {
		s.Head = *head
	}
	s.Dirty = len(s.Failed) > 0
	switch {
	case s.Dirty:
		s.Detail = fmt.Sprintf("prisma migration(s) %s started but did not finish (failed, or running now); prisma migrate deploy refuses until prisma migrate resolve",
			strings.Join(s.Failed, ", "))
	case s.Head == "":
		s.Detail = "_prisma_migrations has no finished migration"
	default:
		s.Detail = fmt.Sprintf("prisma migration %s, %d applied", s.Head, s.Applied)
	}
	return s, nil
}

// readMorph: Mattermost's morph keeps one row per applied migration.
func readMorph(ctx context.Context, c *Conn) (Schema, error) {
	var s Schema
	var version int64
	var name string
	err := c.conn.QueryRow(ctx, `SELECT version, name, (SELECT count(*) FROM db_migrations)
		FROM db_migrations ORDER BY version DESC LIMIT 1`).Scan(&version, &name, &s.Applied)
	if errors.Is(err, pgx.ErrNoRows) {
		return Schema{Detail: "db_migrations is empty: no migration applied"}, nil
	}
	if err != nil {
		return Schema{}, fmt.Errorf("query: %w", err)
	}
	s.Head = strconv.FormatInt(version, 10)
	s.Detail = fmt.Sprintf("morph migration %d %s, %d applied", version, name, s.Applied)
	return s, nil
}
