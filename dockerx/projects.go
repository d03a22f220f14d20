package dockerx

import (
	"context"
	"fmt"
	"sort"

	"github.com/moby/moby/client"
)

// ProjectsIn lists the compose projects whose containers were started
// from dir (their com.docker.compose.project.working_dir label): how
// `docker compose` itself finds a project started with -p NAME.
func (e *Engine) ProjectsIn(ctx context.Context, dir string) ([]string, error) {
	res, err := e.c.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelWorkingDir+"="+dir),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range res.Items {
		if p := s.Labels[LabelProject]; p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}
