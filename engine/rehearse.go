package engine

import (
	"context"

	"github.com/seed-e7a9fb3b/upshift/steps"
	"github.com/seed-e7a9fb3b/upshift/upgrade"
)

// SetRehearsal turns the rehearsal of each hop's migration on a scratch
// copy on (the default for PostgreSQL stacks) or off (--no-rehearsal).
func (s *Session) SetRehearsal(p *Planned, on bool) { upgrade.SetRehearsal(p.Env, on) }

// Rehearsed is the outcome of `upshift rehearse`.
type Rehearsed struct {
	Result steps.Result        `json:"result"`
	Hops   []upgrade.Rehearsal `json:"hops"`
}

// PlanRehearsal turns p (from Plan) into the rehearsal of its every hop: one
// backup of the running database, restored into a scratch PostgreSQL, then
// each hop's migration on that copy in turn. Nothing of the stack is
// stopped or changed.
func (s *Session) PlanRehearsal(p *Planned) error {
	plan, err := upgrade.RehearsePlan(p.Env, p.Path.From, p.Hops)
	if err != nil {
		return err
	}
	plan.Hint = hintFor(p.Path)
	p.Plan = plan
	return nil
}

// Rehearse runs a plan made by PlanRehearsal.
func (s *Session) Rehearse(ctx context.Context, p *Planned, o RunOptions) (*Rehearsed, error) {
	o.kind = steps.KindRehearse
	res, err := s.Run(ctx, p.Env, p.Plan, 0, nil, hopVersions(p.Path), o)
	if err != nil {
		return nil, err
	}
	return &Rehearsed{Result: res, Hops: p.Env.Rehearsals()}, nil
}
