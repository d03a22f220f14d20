package engine

import (
	"fmt"

	"github.com/seed-e7a9fb3b/upshift/detect"
)

// Incomplete says what detect could not tell, for a non-zero exit: the
// report is printed, but a script must not take a half-known stack for a
// healthy one.
func Incomplete(r *detect.Report) error {
	switch {
	case (r.DB.Engine == "postgresql" || r.DB.Engine == "sqlite") && !r.DB.Reachable:
		return fmt.Errorf("the database could not be read: %s", r.DB.Error)
	case r.DB.Reachable && r.Schema.Head == "" && r.Schema.Tool != "none" && r.Schema.Detail != "":
		return fmt.Errorf("the schema head could not be read: %s", r.Schema.Detail)
	default:
		return nil
	}
}
