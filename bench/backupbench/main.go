// Command backupbench drives package backup on a demo stack for
// bench/backup.sh, as a whole process (so /usr/bin/time can measure it)
// while the `upshift backup` command is not wired yet. Not shipped.
//
//	backupbench up DIR PROJECT PGIMAGE   start a demo stack at 1.0.0 (images must exist)
//	backupbench create DIR ROOT          write one backup set of the stack in DIR under ROOT
//	backupbench down DIR                 remove the stack
//	backupbench physical DIR ROOT        a physical set (base backup, then sealed at once)
//	backupbench restore-physical DIR ROOT ID   restore its database (a rollback's database part)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "backupbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: backupbench up DIR PROJECT PGIMAGE | create DIR ROOT | down DIR")
	}
	switch args[0] {
	case "down":
		return demo.Down(ctx, args[1], func(string) {})
	case "up":
		if len(args) != 4 {
			return fmt.Errorf("usage: backupbench up DIR PROJECT PGIMAGE")
		}
		eng, err := dockerx.Connect(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = eng.Close() }()
		if _, ok, err := eng.ImageInspect(ctx, demo.ImageRef("1.0.0")); err != nil || !ok {
			return fmt.Errorf("image %s missing: run `upshift demo up` once to build it", demo.ImageRef("1.0.0"))
		}
		_, err = demo.Up(ctx, eng, demo.StackOptions{Dir: args[1], Version: "1.0.0", Project: args[2], PostgresImage: args[3]}, func(string) {})
		return err
	case "physical", "restore-physical":
		return physical(ctx, args)
	case "create":
		if len(args) != 3 {
			return fmt.Errorf("usage: backupbench create DIR ROOT")
		}
		return create(ctx, args[1], args[2])
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func physical(ctx context.Context, args []string) error {
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = eng.Close() }()
	src, err := source(ctx, eng, args[1])
	if err != nil {
		return err
	}
	if args[0] == "restore-physical" {
		if len(args) != 4 {
			return fmt.Errorf("usage: backupbench restore-physical DIR ROOT ID")
		}
		set, err := backup.Open(args[2], args[3])
		if err != nil {
			return err
		}
		start := time.Now()
		return set.RestorePhysical(ctx, eng, *src.DB, func(p backup.Progress) {
			if p.Line != "" {
				fmt.Fprintf(os.Stderr, "%6.2fs %s\n", time.Since(start).Seconds(), p.Line)
			}
		})
	}
	if r := backup.PhysicalReady(ctx, eng, *src.DB); !r.OK {
		return fmt.Errorf("no physical backup possible: %s", r.Reason)
	}
	src.Physical = true
	set, err := backup.Create(ctx, eng, args[2], src, nil)
	if err != nil {
		return err
	}
	// As an upgrade's backup step does before the stop: the base backup
	// unpacked next to the data directory, for a rollback by renames.
	if err := set.Stage(ctx, eng, *src.DB, nil); err != nil {
		fmt.Fprintf(os.Stderr, "not staged: %v\n", err)
	}
	if err := set.Seal(ctx, eng, *src.DB, nil); err != nil {
		return err
	}
	fmt.Println(set.ID)
	return nil
}

func create(ctx context.Context, dir, root string) error {
	eng, err := dockerx.Connect(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = eng.Close() }()
	src, err := source(ctx, eng, dir)
	if err != nil {
		return err
	}
	start := time.Now()
	set, err := backup.Create(ctx, eng, root, src, nil)
	if err != nil {
		return err
	}
	var size int64
	for _, f := range set.Manifest.Files {
		size += f.Size
	}
	fmt.Printf("set %s: %d bytes (dump %d bytes uncompressed) in %.2fs\n", set.ID, size, set.Manifest.Databases[0].DumpBytes, time.Since(start).Seconds())
	return nil
}

func source(ctx context.Context, eng *dockerx.Engine, dir string) (backup.Source, error) {
	p, err := demo.StackProject(dir)
	if err != nil {
		return backup.Source{}, err
	}
	cs, err := eng.ProjectContainers(ctx, p.Name)
	if err != nil {
		return backup.Source{}, err
	}
	env := func(k string) string { return demo.EnvValue(p.WorkingDir, k) }
	src := backup.Source{
		App: "upshift-demo", Version: env("APP_VERSION"), Project: p,
		ConfigPaths: []string{filepath.Join(p.WorkingDir, "compose.yaml"), filepath.Join(p.WorkingDir, ".env")},
		Secrets:     []string{env("DB_PASSWORD"), env("NOTES_SECRET")},
		DumpMode:    os.Getenv("UPSHIFT_DUMP_MODE"),
	}
	for _, c := range cs {
		src.Images = append(src.Images, backup.ServiceImage{Service: c.Service, Ref: c.Image, ID: c.ImageID})
		switch c.Service {
		case "db":
			src.DB = &backup.DBSource{Container: c.ID, User: env("DB_USER"), Password: env("DB_PASSWORD"), Database: env("DB_NAME")}
		case "api":
			src.Volumes = append(src.Volumes, backup.VolumeSource{Name: "uploads", Container: c.ID, Path: "/data/uploads"})
		}
	}
	if src.DB == nil {
		return src, fmt.Errorf("no db container in project %s", p.Name)
	}
	return src, nil
}
