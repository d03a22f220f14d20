package upgrade

import (
	"context"
	"fmt"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- images

type imagesStep struct {
	env *Env
	hop string
	// group lists it with the rehearsals before the first downtime.
	group string
}

func (s *imagesStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: id(s.hop, "images"), Hop: s.hop, Group: s.group, Name: "Get the " + s.hop + " images",
		Explain:  "Pulls (or builds) the images of " + s.hop + " while the old version still runs, so the downtime later is only the migration and the restart.",
		Touches:  s.env.targetImages(s.hop),
		ReadOnly: true,
	}
}

func (s *imagesStep) Run(ctx context.Context, sink steps.Sink) error {
	e := s.env
	for _, ref := range e.targetImages(s.hop) {
		if e.BuildImage != nil {
			// Built locally (the demo): the builder knows whether the image
			// there is its own or a stale one.
			sink.Log("building " + ref + " (unless this upshift built it already)")
			if err := e.BuildImage(ctx, s.hop, sink.Log); err != nil {
				return err
			}
			continue
		}
		if _, ok, err := e.Docker.ImageInspect(ctx, ref); err != nil {
			return err
		} else if ok {
			sink.Log(ref + " is already here")
			continue
		}
		if e.BuildImage != nil {
			sink.Log("building " + ref)
			if err := e.BuildImage(ctx, s.hop, sink.Log); err != nil {
				return err
			}
			continue
		}
		sink.Log("pulling " + ref)
		if err := e.Docker.ImagePull(ctx, ref, sink.Log); err != nil {
			return fmt.Errorf("%w. Nothing was changed: the old version still runs", err)
		}
	}
	return nil
}

// ---- config (.env merge + version)
