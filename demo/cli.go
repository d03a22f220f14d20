package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/httpx"
)

// Status prints the demo stack's containers and the version its api
// answers (`upshift demo status`).
func Status(ctx context.Context, w io.Writer, dir string) error {
	p, err := StackProject(dir)
	if err != nil {
		return err
	}
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = eng.Close() }()
	cs, err := eng.ProjectContainers(ctx, p.Name)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(w, "project %s (%s)\n", p.Name, p.WorkingDir)
	if len(cs) == 0 {
		_, _ = fmt.Fprintln(w, "  no containers: the stack is down (upshift demo up --dir "+dir+")")
		return nil
	}
	for _, c := range cs {
		h := c.Health
		if h == "" {
			h = "-"
		}
		_, _ = fmt.Fprintf(w, "  %-28s %-32s %-8s %s\n", c.Name, c.Image, c.State, h)
	}
	port := EnvValue(p.WorkingDir, "API_PORT")
	if v, err := fetchVersion(ctx, "http://127.0.0.1:"+port+"/health"); err != nil {
		_, _ = fmt.Fprintf(w, "  api: not answering (%v)\n", err)
	} else {
		_, _ = fmt.Fprintf(w, "  api: http://127.0.0.1:%s answers version %s\n", port, v)
	}
	return nil
}

func fetchVersion(ctx context.Context, url string) (string, error) {
	body, err := httpx.GetWithTimeout(ctx, url, 1<<16, 3*time.Second)
	if err != nil {
		return "", err
	}
	var h struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return "", fmt.Errorf("decode %s: %w", url, err)
	}
	return h.Version, nil
}

// UpTemp writes and starts a demo stack at 1.0.0 in a new temporary
// directory (`upshift demo`) and returns the directory.
func UpTemp(ctx context.Context, pgImage string, log func(string)) (string, error) {
	dir, err := os.MkdirTemp("", "upshift-demo-")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	dir, _ = filepath.Abs(dir)
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		return "", err
	}
	defer func() { _ = eng.Close() }()
	log(fmt.Sprintf("starting the demo stack in %s (1.0.0)…", dir))
	opts := StackOptions{Dir: dir, Version: "1.0.0", PostgresImage: pgImage, Project: ProjectName("upshift-demo-" + filepath.Base(dir)[len("upshift-demo-"):])}
	if _, err := Up(ctx, eng, opts, func(string) {}); err != nil {
		return dir, err
	}
	return dir, nil
}
