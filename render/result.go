package render

import (
	"encoding/json"
	"io"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ResultJSON writes a result object as the whole --json stream, for a
// command that ends without running a plan (nothing to do, nothing to roll
// back): the last line of --json output is always the result.
func ResultJSON(w io.Writer, res steps.Result) error {
	return writeErr(json.NewEncoder(w).Encode(res))
}
