package upgrade

import (
	"context"
	"errors"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// After a restore, a schema head other than the profile's is the profile's
// gap (steps.UnverifiedError); after an upgrade it fails the hop.
func TestVerifyHeadAfterRestore(t *testing.T) {
	noRetry(t)
	for _, restored := range []bool{false, true} {
		f := newFixture(t, "upshift-demo", "1.0.0")
		res := f.atVersion("1.1.0")
		res.Report.Schema.Head = "not-the-profiles"
		f.det.res = res
		err := (&verifyStep{env: f.env, hop: "1.1.0", version: "1.1.0", restored: restored}).Run(context.Background(), f.sink)
		var uv *steps.UnverifiedError
		if err == nil || errors.As(err, &uv) != restored {
			t.Errorf("restored=%v: err %v", restored, err)
		}
	}
	// A tool that records no head is not compared with the profile's heads.
	f := newFixture(t, "upshift-demo", "1.0.0")
	res := f.atVersion("1.1.0")
	res.Report.Schema.Tool, res.Report.Schema.Head = "none", ""
	f.det.res = res
	if err := (&verifyStep{env: f.env, hop: "1.1.0", version: "1.1.0"}).Run(context.Background(), f.sink); err != nil || !f.sink.has("records no head: not checked") {
		t.Errorf("tool none: %v\n%s", err, f.sink.text())
	}
}
