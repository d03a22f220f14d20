package upgrade

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	semver "github.com/seed-e7a9fb3b/upshift/releases/version"

	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/schematool"
	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- verify

type verifyStep struct {
	env     *Env
	hop     string
	version string
	// hopEnd: the verify that ends an upgrade hop (not a restore's): once
	// it passes, that version is the last good one.
	hopEnd bool
	// restored: the verify after a restore, whose database is the backup's:
	// a schema head other than the profile says is the profile's gap, said
	// as such (steps.UnverifiedError), not a half-restored stack.
	restored bool
}

func (s *verifyStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: id(s.hop, "verify"), Hop: s.hop, Name: "Verify " + s.version,
		Explain:  "Checks that the app really runs " + s.version + ": the health checks pass, the version endpoint says " + s.version + ", the schema head is the one " + s.version + " expects, and no migration is dirty.",
		Touches:  []string{"reads only"},
		ReadOnly: true,
	}
}

func (s *verifyStep) Run(ctx context.Context, sink steps.Sink) error {
	e := s.env
	var det *detect.Result
	var lastErr error
	deadline := time.Now().Add(verifyTimeout)
	for {
		var err error
		det, err = e.detectNow(ctx)
		if err == nil {
			lastErr = s.check(ctx, det, sink)
			if uv := (*steps.UnverifiedError)(nil); errors.As(lastErr, &uv) {
				e.setCurrent(s.version)
				return lastErr
			}
			if lastErr == nil {
				e.setCurrent(s.version)
				if s.hopEnd {
					e.hopVerified()
				}
				return nil
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			return lastErr
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("verify %s: %w (last check: %v)", s.version, ctx.Err(), lastErr)
		case <-time.After(time.Second):
		}
	}
}

func (s *verifyStep) check(ctx context.Context, det *detect.Result, sink steps.Sink) error {
	e := s.env
	rep := det.Report
	for _, svc := range rep.Services {
		if (svc.State == "not created" && (svc.Role == profile.RoleOther || svc.Role == profile.RoleJob)) || svc.FinishedJob() {
			continue
		}
		if svc.State != "running" {
			return fmt.Errorf("%s is %s", svc.Name, svc.State)
		}
		if svc.Health == "unhealthy" || svc.Health == "starting" {
			return fmt.Errorf("%s is %s", svc.Name, svc.Health)
		}
	}
	for _, hc := range e.Profile.Health {
		if hc.Type != profile.HealthHTTP {
			continue
		}
		c, ok := det.Containers[hc.Service]
		if !ok {
			return fmt.Errorf("health check: no %s container", hc.Service)
		}
		if err := e.httpCheck(ctx, c, hc); err != nil {
			return fmt.Errorf("health check %s %s: %w", hc.Service, hc.Path, err)
		}
		sink.Log(fmt.Sprintf("✓ %s GET :%d%s answers", hc.Service, hc.Port, hc.Path))
	}
	if !semver.Same(rep.Version, s.version) {
		return fmt.Errorf("the app says it runs %q (from %s), expected %s", rep.Version, rep.VersionSource, s.version)
	}
	sink.Log("✓ the app runs " + rep.Version + " (" + rep.VersionSource + ")")
	if (rep.DB.Engine == profile.EnginePostgres || rep.DB.Engine == profile.EngineSQLite) && rep.DB.Reachable {
		if rep.Schema.Dirty {
			return fmt.Errorf("the schema is dirty after the migration (%s)", rep.Schema.Head)
		}
		exp := e.Profile.ExpectedHead(s.version)
		switch {
		case exp == "":
		case !schematool.HasHead(rep.Schema.Tool):
			sink.Log(fmt.Sprintf("• the profile says %s expects schema head %s, but %s records no head: not checked", s.version, exp, orDash(rep.Schema.Tool)))
		case rep.Schema.Head != exp:
			return s.headError(fmt.Sprintf("the schema head is %s, but %s expects %s", orDash(rep.Schema.Head), s.version, exp))
		}
		sink.Log("✓ schema head " + orDash(rep.Schema.Head) + ", not dirty")
	}
	if d := rep.Drift; d != nil && schematool.HasHead(rep.Schema.Tool) {
		return s.headError(fmt.Sprintf("the schema is out of step with the app: head %s, %s %s expects %s (%s)", d.Head, rep.App, rep.Version, d.Expected, d.Kind))
	}
	return nil
}

func (e *Env) httpCheck(ctx context.Context, c dockerx.Container, hc profile.HealthCheck) error {
	var addrs []string
	for _, ip := range c.Networks {
		if ip != "" {
			addrs = append(addrs, net.JoinHostPort(ip, strconv.Itoa(hc.Port)))
		}
	}
	if hp, ok := c.HostPort(hc.Port); ok {
		addrs = append(addrs, hp)
	}
	want := hc.Status
	if want == 0 {
		want = http.StatusOK
	}
	lastErr := errors.New("no address")
	for _, a := range addrs {
		status, body, err := e.HTTP.Get(ctx, "http://"+a+hc.Path, 3*time.Second)
		if err != nil {
			lastErr = err
			continue
		}
		if status != want {
			return fmt.Errorf("status %d, want %d", status, want)
		}
		if hc.BodyContains != "" && !strings.Contains(string(body), hc.BodyContains) {
			return fmt.Errorf("body does not contain %q", hc.BodyContains)
		}
		return nil
	}
	return lastErr
}

// verifyTimeout is how long verify retries before it reports the last check
// that failed (a var so the tests need not wait).
var verifyTimeout = 60 * time.Second

// headError is a schema head other than the profile expects: a failed
// upgrade, or after a restore (the backup's own database) what the
// profile's heads get wrong.
func (s *verifyStep) headError(msg string) error {
	if s.restored {
		return &steps.UnverifiedError{What: msg + " — the database is the backup's, so the profile's schema.heads for " + s.version + " may be wrong"}
	}
	return errors.New(msg)
}
