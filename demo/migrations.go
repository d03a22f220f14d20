package demo

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// revision is one Alembic-style migration: a chained id and the SQL that moves
// the schema from down to id.
type revision struct {
	ID      string
	Down    string
	Version string // the release that introduced it
	Doc     string
	// Upgrade runs the migration. It is called inside a transaction unless
	// NonTransactional is set, in which case it manages its own commits.
	Upgrade          func(ctx context.Context, conn *pgx.Conn, tx pgx.Tx) error
	NonTransactional bool
}

// Revision ids, chained like Alembic's (down_revision).
const (
	Rev100 = "3f1c2a9b7d10"
	Rev110 = "8e4b6d21c5a7"
	Rev200 = "c92d7f0e4b31"
	Rev210 = "5a7e3b9c1d02"
	Rev300 = "e1b8c4d6a9f3"
)

// HeadOf maps a release to the schema head it expects.
var HeadOf = map[string]string{
	"1.0.0": Rev100, "1.1.0": Rev110, "2.0.0": Rev200, "2.1.0": Rev210, "3.0.0": Rev300,
}

func execAll(ctx context.Context, tx pgx.Tx, stmts ...string) error {
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	return nil
}

var chain = []revision{
	{
		ID: Rev100, Version: "1.0.0", Doc: "create notes and attachments",
		Upgrade: func(ctx context.Context, _ *pgx.Conn, tx pgx.Tx) error {
			return execAll(ctx, tx,
				`CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL, author TEXT NOT NULL DEFAULT 'admin', created_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
				`CREATE TABLE attachments (id BIGSERIAL PRIMARY KEY, note_id BIGINT REFERENCES notes(id), filename TEXT NOT NULL)`)
		},
	},
	{
		ID: Rev110, Down: Rev100, Version: "1.1.0", Doc: "add word_count and backfill it",
		Upgrade: func(ctx context.Context, _ *pgx.Conn, tx pgx.Tx) error {
			return execAll(ctx, tx,
				`ALTER TABLE notes ADD COLUMN word_count INTEGER`,
				`UPDATE notes SET word_count = coalesce(array_length(regexp_split_to_array(trim(body), '\s+'), 1), 0)`)
		},
	},
	{
		ID: Rev200, Down: Rev110, Version: "2.0.0", Doc: "owner column, settings table",
		Upgrade: func(ctx context.Context, _ *pgx.Conn, tx pgx.Tx) error {
			return execAll(ctx, tx,
				// Needs 1.1.0's backfill: fails on rows that never got a word count.
				`ALTER TABLE notes ALTER COLUMN word_count SET NOT NULL`,
				`ALTER TABLE notes RENAME COLUMN author TO owner`,
				`CREATE TABLE app_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
				`INSERT INTO app_settings (key, value) VALUES ('page_size', '50')`)
		},
	},
	{
		ID: Rev210, Down: Rev200, Version: "2.1.0", Doc: "tags, unique note bodies", NonTransactional: true,
		Upgrade: func(ctx context.Context, conn *pgx.Conn, _ pgx.Tx) error {
			// Part 1 commits on its own (like a migration that uses autocommit
			// blocks): the database is changed even if part 2 fails.
			if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				return execAll(ctx, tx,
					`CREATE TABLE note_tags (note_id BIGINT NOT NULL REFERENCES notes(id), tag TEXT NOT NULL)`,
					`INSERT INTO note_tags (note_id, tag) SELECT id, 'imported' FROM notes`)
			}); err != nil {
				return fmt.Errorf("part 1: %w", err)
			}
			log.Printf("INFO  [alembic.runtime.migration] note_tags created and filled (committed)")
			return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if err := execAll(ctx, tx, `CREATE UNIQUE INDEX notes_body_key ON notes (body)`); err != nil {
					return err
				}
				return setRevision(ctx, tx, Rev200, Rev210)
			})
		},
	},
	{
		ID: Rev300, Down: Rev210, Version: "3.0.0", Doc: "archiving (PostgreSQL 16+)",
		Upgrade: func(ctx context.Context, _ *pgx.Conn, tx pgx.Tx) error {
			var num int
			if err := tx.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&num); err != nil {
				return fmt.Errorf("read server version: %w", err)
			}
			if num < 160000 {
				return fmt.Errorf("3.0.0 requires PostgreSQL 16 or newer, this server is %d.%d: upgrade PostgreSQL first", num/10000, num%10000)
			}
			return execAll(ctx, tx, `ALTER TABLE notes ADD COLUMN archived BOOLEAN NOT NULL DEFAULT false`)
		},
	},
}

func firstLine(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// knownRevisions returns the revisions this version knows, oldest first.
func knownRevisions(version string) []revision {
	head := HeadOf[version]
	var out []revision
	for _, r := range chain {
		out = append(out, r)
		if r.ID == head {
			break
		}
	}
	return out
}

// squashedBefore is the first revision a version can migrate *from* an existing
// database; older databases must go through a required stop. 2.x dropped the
// 1.1.0 backfill code (fresh installs still get the full schema).
func squashedBefore(version string) string {
	if version >= "2.0.0" {
		return Rev110
	}
	return ""
}

// ErrSchemaBehind and friends classify schema checks at start.
var (
	ErrSchemaBehind  = errors.New("schema behind")
	ErrSchemaUnknown = errors.New("unknown revision")
	ErrSchemaEmpty   = errors.New("schema empty")
)

func currentRevision(ctx context.Context, conn *pgx.Conn) (string, error) {
	var rev string
	err := conn.QueryRow(ctx, `SELECT version_num FROM alembic_version`).Scan(&rev)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return "", nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read alembic_version: %w", err)
	}
	return rev, nil
}

// checkSchema is what every app process does at start: refuse a schema that
// is behind or ahead of this version.
func checkSchema(ctx context.Context, conn *pgx.Conn, version string) error {
	rev, err := currentRevision(ctx, conn)
	if err != nil {
		return err
	}
	head := HeadOf[version]
	switch rev {
	case head:
		return nil
	case "":
		return fmt.Errorf("%w: the database has no schema yet, this version needs %s: run migrations (demo-app migrate)", ErrSchemaEmpty, head)
	}
	for _, r := range knownRevisions(version) {
		if r.ID == rev {
			return fmt.Errorf("%w: database at revision %s, this version needs %s: run migrations (demo-app migrate)", ErrSchemaBehind, rev, head)
		}
	}
	return fmt.Errorf("%w: Can't locate revision identified by '%s' (this is version %s, whose head is %s; the database belongs to a newer version)", ErrSchemaUnknown, rev, version, head)
}

func setRevision(ctx context.Context, tx pgx.Tx, from, to string) error {
	if from == "" {
		_, err := tx.Exec(ctx, `INSERT INTO alembic_version (version_num) VALUES ($1)`, to)
		if err != nil {
			return fmt.Errorf("stamp %s: %w", to, err)
		}
		return nil
	}
	tag, err := tx.Exec(ctx, `UPDATE alembic_version SET version_num = $1 WHERE version_num = $2`, to, from)
	if err != nil {
		return fmt.Errorf("stamp %s: %w", to, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("stamp %s: alembic_version was not at %s", to, from)
	}
	return nil
}

// Migrate upgrades the database to version's head, like `alembic upgrade head`.
func Migrate(ctx context.Context, conn *pgx.Conn, version string) error {
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))`); err != nil {
		return fmt.Errorf("create alembic_version: %w", err)
	}
	rev, err := currentRevision(ctx, conn)
	if err != nil {
		return err
	}
	fresh := rev == ""
	known := knownRevisions(version)
	start := 0
	if !fresh {
		start = -1
		for i, r := range known {
			if r.ID == rev {
				start = i + 1
			}
		}
		if start < 0 {
			return fmt.Errorf("%w: Can't locate revision identified by '%s'", ErrSchemaUnknown, rev)
		}
		if sq := squashedBefore(version); sq != "" {
			for _, r := range known[start:] {
				if r.ID == sq {
					return fmt.Errorf("database at revision %s (%s): version %s cannot migrate from it because the %s backfill was removed; upgrade to %s first (required stop)",
						rev, revVersion(rev), version, r.Version, r.Version)
				}
			}
		}
	}
	delay := slowdown()
	from := rev
	for _, r := range known[start:] {
		log.Printf("INFO  [alembic.runtime.migration] Running upgrade %s -> %s, %s", orBase(from), r.ID, r.Doc)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if r.NonTransactional {
			if err := r.Upgrade(ctx, conn, nil); err != nil {
				return fmt.Errorf("migration %s -> %s (%s) failed: %w", orBase(from), r.ID, r.Version, err)
			}
		} else {
			cur := from
			if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if err := r.Upgrade(ctx, conn, tx); err != nil {
					return err
				}
				return setRevision(ctx, tx, cur, r.ID)
			}); err != nil {
				return fmt.Errorf("migration %s -> %s (%s) failed: %w", orBase(from), r.ID, r.Version, err)
			}
		}
		from = r.ID
	}
	log.Printf("INFO  [alembic.runtime.migration] Database is at head %s (%s)", from, version)
	return nil
}

func revVersion(rev string) string {
	for _, r := range chain {
		if r.ID == rev {
			return r.Version
		}
	}
	return "unknown"
}

func orBase(rev string) string {
	if rev == "" {
		return "<base>"
	}
	return rev
}

// slowdown lets tests stretch each migration step (DEMO_MIGRATION_DELAY=2s)
// so that a kill in the middle of a migration can be staged.
func slowdown() time.Duration {
	d, err := time.ParseDuration(os.Getenv("DEMO_MIGRATION_DELAY"))
	if err != nil {
		return 0
	}
	return d
}
