package pg

import (
	"context"
	"fmt"
	"strings"
)

// DDLRights says whether the connected role can change the schema the way
// an app that migrates itself at start (gorm AutoMigrate, Nightingale)
// needs: create tables in the schemas it uses and alter the tables there,
// which in PostgreSQL means owning them (or being a superuser). Missing
// names what is missing; empty means the role has the rights.
func (c *Conn) DDLRights(ctx context.Context) (missing []string, err error) {
	var super, createSchema bool
	var user, schema string
	if err := c.conn.QueryRow(ctx, `SELECT current_user, current_schema(), rolsuper, has_schema_privilege(current_user, current_schema(), 'CREATE')
		FROM pg_roles WHERE rolname = current_user`).Scan(&user, &schema, &super, &createSchema); err != nil {
		return nil, fmt.Errorf("read the privileges of the database role: %w", err)
	}
	if super {
		return nil, nil
	}
	if !createSchema {
		missing = append(missing, fmt.Sprintf("role %s may not CREATE in schema %s", user, schema))
	}
	rows, err := c.conn.Query(ctx, `SELECT n.nspname || '.' || c.relname
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
		  AND NOT pg_has_role(current_user, c.relowner, 'USAGE')
		ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list the tables the role does not own: %w", err)
	}
	defer rows.Close()
	var notOwned []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("list the tables the role does not own: %w", err)
		}
		notOwned = append(notOwned, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the tables the role does not own: %w", err)
	}
	if len(notOwned) > 0 {
		shown := notOwned
		if len(shown) > 5 {
			shown = append(shown[:5:5], fmt.Sprintf("and %d more", len(notOwned)-5))
		}
		missing = append(missing, fmt.Sprintf("role %s does not own %s, so it cannot ALTER them", user, strings.Join(shown, ", ")))
	}
	return missing, nil
}
