package upgrade

import (
	"context"
	"fmt"

	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/steps"
)

// ---- clean up

type cleanupStep struct{ env *Env }

func (s *cleanupStep) Info() steps.StepInfo {
	return steps.StepInfo{
		ID: "cleanup", Name: "Clean up old images",
		Explain: "Offers to remove app images no container uses any more. Images that a backup set refers to are kept, so a restore can always start exactly what ran before.",
		Confirm: true,
		// A "no" keeps the images; the upgrade itself is done.
		Optional: true,
		Touches:  []string{"docker image rm (unused app images not referenced by any backup)"},
	}
}

func (s *cleanupStep) candidates(ctx context.Context) ([]string, error) {
	e := s.env
	inUse := map[string]bool{}
	cs, err := e.Docker.ProjectContainers(ctx, e.Project.Name)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		inUse[c.Image] = true
		inUse[c.ImageID] = true
	}
	sets, err := e.Backups.List(e.BackupDir)
	if err != nil {
		// Without the sets no image can be known to be needed: keep all.
		return nil, fmt.Errorf("list the backup sets (the images they need are kept): %w", err)
	}
	for _, set := range sets {
		for _, im := range set.Manifest.Images {
			inUse[im.Ref] = true
			inUse[im.ID] = true
		}
	}
	var out []string
	for _, svc := range e.Start.Report.Services {
		if svc.Role == profile.RoleDB || svc.Image == "" || inUse[svc.Image] || inUse[svc.ImageID] {
			continue
		}
		if !contains(out, svc.Image) {
			out = append(out, svc.Image)
		}
	}
	return out, nil
}

func (s *cleanupStep) Skip(ctx context.Context) (bool, string) {
	c, err := s.candidates(ctx)
	if err != nil {
		return true, err.Error()
	}
	if len(c) == 0 {
		return true, "every old app image is still referenced by a backup set or a container"
	}
	return false, ""
}

func (s *cleanupStep) Run(ctx context.Context, sink steps.Sink) error {
	c, err := s.candidates(ctx)
	if err != nil {
		return err
	}
	for _, ref := range c {
		if err := s.env.Docker.ImageRemove(ctx, ref); err != nil {
			sink.Log("kept " + ref + ": " + err.Error())
			continue
		}
		sink.Log("removed " + ref)
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
