package upgrade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

// backupSource describes what a backup set of the stack holds.
func (e *Env) backupSource(ctx context.Context, det *detect.Result) (backup.Source, error) {
	rep := det.Report
	src := backup.Source{
		App: rep.App, Profile: rep.Profile, Version: rep.Version,
		SchemaTool: rep.Schema.Tool, SchemaHead: rep.Schema.Head, DBServerVersion: rep.DB.ServerVersion,
		Project: e.Project, Secrets: e.Secrets(),
	}
	if cur := e.Current(); cur != "" && (strings.HasPrefix(rep.Version, "unknown") || rep.Version == "") {
		// With the app stopped (a backup after the stop) its version cannot
		// be asked; the run knows which version is installed.
		src.Version = cur
	}
	if sq := det.DB.SQLite; sq != nil {
		if sq.Container == "" {
			return src, fmt.Errorf("no container of the project mounts the directory of %s. Nothing was changed. Fix: start the stack (docker compose up -d)", sq.HostPath)
		}
		for _, f := range sq.Files() {
			src.SQLiteFiles = append(src.SQLiteFiles, backup.FileInContainer{Container: sq.Container, Path: f})
		}
	} else if det.DB.Container != "" {
		src.DB = &backup.DBSource{
			Container: det.DB.Container, User: det.DB.Params.User, Password: det.DB.Params.Password,
			Database: det.DB.Params.Database, Extra: e.Profile.DB.ExtraDatabases,
		}
	}
	// The compose files and every file they include or extend: an edit
	// of an image may land in any of them.
	src.ConfigPaths = append(src.ConfigPaths, e.composeTree()...)
	if _, err := os.Stat(e.EnvPath()); err == nil {
		src.ConfigPaths = append(src.ConfigPaths, e.EnvPath())
	}
	for _, cf := range e.Profile.ConfigFiles {
		p := cf.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(e.Dir(), p)
		}
		if _, err := os.Stat(p); err == nil && !slices.Contains(src.ConfigPaths, p) {
			src.ConfigPaths = append(src.ConfigPaths, p)
		}
	}
	// Every file a template merge or a git checkout may write: a rollback
	// puts each back byte for byte.
	for _, p := range e.filesTheReleaseWrites() {
		if _, err := os.Stat(p); err == nil && !slices.Contains(src.ConfigPaths, p) {
			src.ConfigPaths = append(src.ConfigPaths, p)
		}
	}
	vols, skipped, err := e.backupVolumes(det)
	if err != nil {
		return src, err
	}
	src.Volumes, src.Skipped = vols, skipped
	names := make([]string, 0, len(det.Containers))
	for n := range det.Containers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := det.Containers[n]
		si := backup.ServiceImage{Service: n, Ref: c.Image, ID: c.ImageID}
		if img, ok, err := e.Docker.ImageInspect(ctx, c.ImageID); err == nil && ok {
			si.RepoDigests = img.RepoDigests
		}
		src.Images = append(src.Images, si)
	}
	return src, nil
}

// backupVolumes finds the profile's volumes among the project's mounts;
// optional ones that are missing are returned as skipped.
func (e *Env) backupVolumes(det *detect.Result) (vols []backup.VolumeSource, skipped []string, err error) {
	for _, v := range e.Profile.Volumes {
		vs, ok := findVolume(det, e.Project.Name, v)
		if !ok && v.Optional {
			skipped = append(skipped, "optional volume "+v.Name+": no container of the project mounts it")
			continue
		}
		if !ok {
			return nil, nil, fmt.Errorf("the profile lists volume %q but no container of the project mounts it. Nothing was changed. Fix: start the stack (docker compose up -d) or correct the profile", v.Name)
		}
		vols = append(vols, vs)
	}
	return vols, skipped, nil
}

func findVolume(det *detect.Result, project string, v profile.Volume) (backup.VolumeSource, bool) {
	want := []string{v.Name, project + "_" + v.Name}
	for svc, c := range det.Containers {
		if v.Service != "" && v.Service != svc {
			continue
		}
		for _, m := range c.Mounts {
			for _, w := range want {
				if m.Name == w || (m.Type == "bind" && m.Source == v.Name) || (v.Mount != "" && m.Destination == v.Mount) {
					name := m.Name
					if name == "" {
						name = m.Source
					}
					return backup.VolumeSource{Name: name, Container: c.ID, Path: m.Destination}, true
				}
			}
		}
	}
	return backup.VolumeSource{}, false
}
