package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seed-e7a9fb3b/upshift/backup"
	"github.com/seed-e7a9fb3b/upshift/demo"
	"github.com/seed-e7a9fb3b/upshift/detect"
	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/envfile"
	"github.com/seed-e7a9fb3b/upshift/pg"
	"github.com/seed-e7a9fb3b/upshift/profile"
	semver "github.com/seed-e7a9fb3b/upshift/releases/version"
)

// Hop is one version to install on the way to the target.
type Hop struct {
	Version string
	Renames []envfile.Rename
}

// BuildPlan turns hops into the steps of an upgrade of env's stack.
func BuildPlan(env *Env, from string, hops []Hop) *Plan {
	env.setCurrent(from)
	if env.sqlite() {
		// A SQLite file (and its -wal) is only consistent with its writer
		// stopped: the backup always comes after the stop.
		env.BackupAfterStop = true
	}
	p := &Plan{From: from}
	prev := from
	for _, h := range hops {
		p.Steps = append(p.Steps, &preflightStep{env: env, from: prev, to: h.Version})
		if !env.BackupAfterStop {
			p.Steps = append(p.Steps, &backupStep{env: env, hop: h.Version})
		}
		p.Steps = append(p.Steps, &imagesStep{env: env, hop: h.Version})
		if len(env.Profile.Upgrade.Consent) > 0 {
			p.Steps = append(p.Steps, &termsStep{env: env, hop: h.Version})
		}
		config := &configStep{env: env, from: prev, to: h.Version, renames: h.Renames}
		if env.BackupAfterStop {
			// The restore point must hold the old .env: config comes after it.
			p.Steps = append(p.Steps, &stopStep{env: env, hop: h.Version}, &backupStep{env: env, hop: h.Version}, config)
		} else {
			// The .env diff is read and approved before the downtime starts.
			p.Steps = append(p.Steps, config, &stopStep{env: env, hop: h.Version})
		}
		if env.Profile.Migration.Mode != profile.MigrateNone && env.Profile.Migration.Mode != "" {
			p.Steps = append(p.Steps, &migrateStep{env: env, hop: h.Version})
		}
		p.Steps = append(p.Steps,
			&startStep{env: env, hop: h.Version, version: h.Version},
			&verifyStep{env: env, hop: h.Version, version: h.Version},
		)
		prev = h.Version
	}
	if len(hops) > 0 {
		p.To = hops[len(hops)-1].Version
		p.Steps = append(p.Steps, &cleanupStep{env: env})
	}
	p.Backup = func() string {
		if s := env.RestorePoint(); s != nil {
			return s.ID
		}
		return ""
	}
	p.Rollback = func() []Step {
		set := env.RestorePoint()
		// Nothing to undo before the first change (a failed pull, a "no" to
		// the .env diff): a rollback would only cost downtime.
		if set == nil || !env.Changed() {
			return nil
		}
		return RestoreSteps(env, set, "rollback")
	}
	p.Reached = env.Current
	p.RollbackNote = func() string {
		if n := env.LateWrites(); n > 0 {
			return fmt.Sprintf("%d write transaction(s) committed between the backup and the stop of the first hop are not in it.", n)
		}
		return ""
	}
	return p
}

// RestoreSteps put a backup set back: config, images, database and volumes
// together, then start and verify the version it holds. `upshift restore`
// and the upgrade's rollback run the same steps.
func RestoreSteps(env *Env, set *backup.Set, hop string) []Step {
	return []Step{
		&stopStep{env: env, hop: hop, all: true},
		&restoreStep{env: env, hop: hop, set: set},
		&startStep{env: env, hop: hop, version: set.Manifest.Version},
		&verifyStep{env: env, hop: hop, version: set.Manifest.Version},
	}
}

func id(hop, name string) string {
	if hop == "" {
		return name
	}
	return hop + "/" + name
}

// ---- preflight

type preflightStep struct {
	env      *Env
	from, to string
}

func (s *preflightStep) Info() StepInfo {
	return StepInfo{
		ID: id(s.to, "preflight"), Hop: s.to, Name: "Check before " + s.to,
		Explain: "Checks that everything the upgrade needs is there before anything is touched: the Docker engine, docker compose, the database (reachable, no half-applied migration), free disk space for the backup, and the images of " + s.to + ". Nothing is changed.",
		Touches: []string{"reads only"},
	}
}

func (s *preflightStep) Run(ctx context.Context, sink Sink) error {
	e := s.env
	info, err := e.Eng.Server(ctx)
	if err != nil {
		return fmt.Errorf("the Docker engine: %w", err)
	}
	sink.Log(fmt.Sprintf("✓ Docker engine %s (API %s)", info.Version, info.APIVersion))
	cv, err := dockerx.ComposeVersion(ctx)
	if err != nil {
		return err
	}
	sink.Log("✓ docker compose " + cv)
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	rep := det.Report
	if det.Profile.DB.Engine == profile.EnginePostgres || det.Profile.DB.Engine == "" {
		if !rep.DB.Reachable {
			return fmt.Errorf("the database is not reachable: %s. Nothing was changed", rep.DB.Error)
		}
		sink.Log(fmt.Sprintf("✓ PostgreSQL %s reachable at service %s (%s)", rep.DB.ServerVersion, rep.DB.Service, backup.HumanBytes(rep.DB.SizeBytes)))
		if rep.Schema.Dirty {
			return fmt.Errorf("the %s schema is dirty (a migration half-ran: %s). Nothing was changed. Repair it or restore a backup before upgrading", rep.Schema.Tool, strings.Join(append([]string{rep.Schema.Head}, rep.Schema.Failed...), ", "))
		}
		sink.Log(fmt.Sprintf("✓ schema %s head %s, not dirty", rep.Schema.Tool, orDash(rep.Schema.Head)))
		if e.Profile.DB.NeedsDDL {
			params, err := e.appRole(det.DB.Params)
			if err != nil {
				return err
			}
			if err := checkDDLRights(ctx, params); err != nil {
				return err
			}
			sink.Log("✓ the database role " + params.User + " may create and alter the app's tables (" + e.Profile.Name + " migrates itself at start)")
		}
	}
	if e.sqlite() {
		if !rep.DB.Reachable {
			return fmt.Errorf("the SQLite database cannot be read: %s. Nothing was changed", rep.DB.Error)
		}
		if det.DB.SQLite == nil || det.DB.SQLite.Container == "" {
			return fmt.Errorf("no container of the project mounts the directory of %s, so it cannot be backed up. Nothing was changed. Fix: start the stack (docker compose up -d)", rep.DB.Address)
		}
		sink.Log(fmt.Sprintf("✓ SQLite database %s readable (%s), schema %s %s", rep.DB.Address, backup.HumanBytes(rep.DB.SizeBytes), rep.Schema.Tool, orDash(rep.Schema.Head)))
		sink.Log("• the backup is taken after the app stopped: a SQLite file is only consistent without its writer")
	}
	if !sameVersion(rep.Version, s.from) && !strings.HasPrefix(rep.Version, "unknown") {
		return fmt.Errorf("the stack runs %s, but this hop starts from %s. Nothing was changed. Run `upshift plan` again", rep.Version, s.from)
	}
	src, err := e.backupSource(ctx, det)
	if err != nil {
		return err
	}
	need, err := backup.Estimate(ctx, e.Eng, src)
	if err != nil {
		return err
	}
	if err := backup.CheckFreeSpace(e.BackupDir, need); err != nil {
		return err
	}
	sink.Log(fmt.Sprintf("✓ free space for a backup of about %s in %s", backup.HumanBytes(need), e.BackupDir))
	for _, ref := range e.targetImages(s.to) {
		if _, ok, err := e.Eng.ImageInspect(ctx, ref); err != nil {
			return err
		} else if ok {
			sink.Log("✓ image " + ref + " is here")
		} else if e.Profile.Images == "build-demo" {
			sink.Log("✓ image " + ref + " will be built from this binary")
		} else {
			sink.Log("• image " + ref + " will be pulled before any downtime")
		}
	}
	return nil
}

// checkDDLRights refuses an upgrade whose migration would fail for lack of
// rights, before anything is changed.
func checkDDLRights(ctx context.Context, params pg.Params) error {
	conn, err := pg.Connect(ctx, params)
	if err != nil {
		return fmt.Errorf("check the database role's rights: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	missing, err := conn.DDLRights(ctx)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("the app migrates its schema itself at start and only logs a failure, but %s. Nothing was changed. Fix: grant the rights (e.g. make the role own the tables: ALTER TABLE … OWNER TO %s; GRANT CREATE ON SCHEMA public TO %s), or apply the version's schema changes by hand first", strings.Join(missing, "; "), params.User, params.User)
	}
	return nil
}

// detectNow re-reads the stack (containers are recreated between hops).
func (e *Env) detectNow(ctx context.Context) (*detect.Result, error) {
	opts := detect.Options{
		StackOptions: detect.StackOptions{Dir: e.Dir(), Project: e.Project.Name, Files: e.Project.Files, EnvFiles: e.Project.EnvFiles, Profiles: e.Project.Profiles},
		Profile:      e.Profile.Name,
		Profiles:     []*profile.Profile{e.Profile},
	}
	return detect.Detect(ctx, e.Eng, opts)
}

// targetImages are the image references the app services use at version.
func (e *Env) targetImages(version string) []string {
	seen := map[string]bool{}
	var out []string
	for _, name := range e.Writers() {
		svc, ok := e.Start.Stack.Model.Services[name]
		if !ok || svc.Image == "" {
			continue
		}
		ref := svc.Image
		if tag := detect.TagOf(ref); tag != "" {
			ref = strings.TrimSuffix(ref, ":"+tag)
		}
		ref += ":" + e.tagFor(version)
		if !seen[ref] && e.isAppImage(svc.Image) {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	return out
}

// tagFor turns a version into the tag (or env value) the profile applies:
// the template gets the bare version, so "v{{version}}" never doubles a v.
func (e *Env) tagFor(ver string) string {
	t := e.Profile.Apply.TagTemplate
	if t == "" {
		return ver
	}
	return strings.ReplaceAll(t, "{{version}}", strings.TrimPrefix(ver, "v"))
}

// sameVersion compares versions by meaning ("v1.2.0" == "1.2.0").
func sameVersion(a, b string) bool {
	va, errA := semver.Parse(a)
	vb, errB := semver.Parse(b)
	if errA != nil || errB != nil {
		return strings.TrimPrefix(a, "v") == strings.TrimPrefix(b, "v")
	}
	return va.Equal(vb)
}

func (e *Env) isAppImage(ref string) bool {
	cur := e.Start.Report.Version
	tag := detect.TagOf(ref)
	return tag == e.tagFor(cur) || tag == cur || len(e.Profile.Match.Images) == 0 || matchesAny(ref, e.Profile.Match.Images)
}

func matchesAny(ref string, repos []string) bool {
	base := ref
	if t := detect.TagOf(ref); t != "" {
		base = strings.TrimSuffix(ref, ":"+t)
	}
	for _, r := range repos {
		if strings.HasSuffix(base, r) {
			return true
		}
	}
	return false
}

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
	src.ConfigPaths = append(src.ConfigPaths, e.Project.Files...)
	if _, err := os.Stat(e.EnvPath()); err == nil {
		src.ConfigPaths = append(src.ConfigPaths, e.EnvPath())
	}
	for _, cf := range e.Profile.ConfigFiles {
		p := cf.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(e.Dir(), p)
		}
		if _, err := os.Stat(p); err == nil {
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
		if img, ok, err := e.Eng.ImageInspect(ctx, c.ImageID); err == nil && ok {
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

// ---- backup

type backupStep struct {
	env *Env
	hop string
}

func (s *backupStep) Info() StepInfo {
	name := "Back up before " + s.hop
	if s.hop == "" {
		name = "Back up"
	}
	explain := "Makes a restore point that pairs everything that must go back together: a pg_dump of the database (run inside its container), the compose files and .env, the app's volumes, and the exact images running now. It is verified (checksums, pg_restore --list) before anything else happens. The app keeps running."
	switch {
	case s.env.sqlite():
		explain = "Makes a restore point that pairs everything that must go back together: the SQLite database file with its -wal and -shm (copied while the app is stopped, the only moment it is consistent), the compose files and .env, the app's volumes, and the exact images. It is verified (checksums) before anything else happens."
	case s.env.BackupAfterStop:
		explain = strings.Replace(explain, "The app keeps running.", "The app is stopped: nothing written before the stop can be lost.", 1)
	}
	return StepInfo{
		ID: id(s.hop, "backup"), Hop: s.hop, Name: name,
		Explain: explain,
		Touches: []string{"writes " + s.env.BackupDir},
	}
}

func (s *backupStep) Run(ctx context.Context, sink Sink) error {
	err := s.run(ctx, sink)
	if err != nil && s.env.BackupAfterStop && s.env.RestorePoint() == nil {
		// The writers were stopped for this backup and there is no restore
		// point to roll back to: bring the old version back up as it was.
		sink.Log("the backup failed; starting the app again (nothing else was changed)")
		if serr := s.env.Project.Compose(context.WithoutCancel(ctx), sink.Log, append([]string{"start"}, s.env.Writers()...)...); serr != nil {
			return fmt.Errorf("%w; and restarting the app failed too: %w. Start it with docker compose start", err, serr)
		}
	}
	return err
}

func (s *backupStep) run(ctx context.Context, sink Sink) error {
	e := s.env
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	src, err := e.backupSource(ctx, det)
	if err != nil {
		return err
	}
	for _, f := range src.SQLiteFiles {
		sink.Log("SQLite file " + f.Path + " (container stopped)")
	}
	for _, sk := range src.Skipped {
		sink.Log("• not in this backup: " + sk)
	}
	if !e.BackupAfterStop && src.DB != nil && e.RestorePoint() == nil {
		// The app keeps writing during this backup: mark where the dump
		// starts, so the stop can tell what the restore point will lack.
		if x, err := nextXID(ctx, det.DB.Params); err == nil {
			e.mu.Lock()
			e.xidAtBackup = x
			e.mu.Unlock()
		}
	}
	seen := map[string]bool{} // phases run in parallel: name each once
	set, err := backup.Create(ctx, e.Eng, e.BackupDir, src, func(p backup.Progress) {
		if p.Phase != "" && !seen[p.Phase] {
			seen[p.Phase] = true
			sink.Log("• " + p.Phase)
		}
		if p.Line != "" {
			sink.Log(p.Line)
		}
		if p.Total > 0 || p.Done > 0 {
			sink.Progress(p.Done, p.Total)
		}
	})
	if err != nil {
		return err
	}
	sink.Log("verifying " + set.ID)
	if err := set.Verify(ctx, e.Eng, e.pgContainer(det)); err != nil {
		return fmt.Errorf("the new backup %s does not verify: %w", set.ID, err)
	}
	sink.Log(fmt.Sprintf("✓ backup %s verified (%s)", set.ID, set.Dir))
	e.SetRestorePoint(set)
	if e.Journal != nil {
		e.Journal.BackupCreated(set.ID)
	}
	return nil
}

// ---- images

type imagesStep struct {
	env *Env
	hop string
}

func (s *imagesStep) Info() StepInfo {
	return StepInfo{
		ID: id(s.hop, "images"), Hop: s.hop, Name: "Get the " + s.hop + " images",
		Explain: "Pulls (or builds) the images of " + s.hop + " while the old version still runs, so the downtime later is only the migration and the restart.",
		Touches: s.env.targetImages(s.hop),
	}
}

func (s *imagesStep) Run(ctx context.Context, sink Sink) error {
	e := s.env
	for _, ref := range e.targetImages(s.hop) {
		if _, ok, err := e.Eng.ImageInspect(ctx, ref); err != nil {
			return err
		} else if ok {
			sink.Log(ref + " is already here")
			continue
		}
		if e.Profile.Images == "build-demo" {
			sink.Log("building " + ref)
			if err := demo.BuildImage(ctx, e.Eng, s.hop, sink.Log); err != nil {
				return err
			}
			continue
		}
		sink.Log("pulling " + ref)
		if err := e.Eng.ImagePull(ctx, ref, sink.Log); err != nil {
			return fmt.Errorf("%w. Nothing was changed: the old version still runs", err)
		}
	}
	return nil
}

// ---- config (.env merge + version)

type configStep struct {
	env        *Env
	from, to   string
	renames    []envfile.Rename
	merged     []byte
	result     *envfile.MergeResult
	original   []byte
	composeOld map[string][]byte // image-tag apply: compose files before/after
	composeNew map[string][]byte
}

func (s *configStep) Info() StepInfo {
	return StepInfo{
		ID: id(s.to, "config"), Hop: s.to, Name: "Update .env for " + s.to,
		Explain: "Merges your .env with the new version's template: new settings are added with their defaults, your own values are kept, renamed keys move your value to the new name, removed keys are kept as comments. Then the version is set to " + s.to + ". You see the diff before anything is written; the old file is in the backup.",
		Confirm: true,
		Touches: s.touches(),
	}
}

func (s *configStep) touches() []string {
	t := []string{s.env.EnvPath()}
	if s.env.Profile.Apply.Method == profile.ApplyImageTag {
		t = append(t, s.env.Project.Files...)
	}
	return t
}

func (s *configStep) compute(ctx context.Context) error {
	e := s.env
	cur, err := os.ReadFile(e.EnvPath())
	if errors.Is(err, os.ErrNotExist) && e.Profile.Apply.Method == profile.ApplyImageTag && e.Profile.EnvTemplate == "" {
		cur, err = nil, nil // nothing to merge: the version lives in the compose file
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", e.EnvPath(), err)
	}
	s.original = cur
	merged := cur
	if e.Profile.EnvTemplate != "" {
		base, err := e.EnvTemplate(ctx, s.from)
		if err != nil {
			base = nil // unknown old template: two-way merge never overwrites the admin's values
		}
		theirs, err := e.EnvTemplate(ctx, s.to)
		if err != nil {
			return fmt.Errorf("the .env template of %s: %w", s.to, err)
		}
		res, err := envfile.Merge(base, theirs, cur, s.renames)
		if err != nil {
			return fmt.Errorf("merge .env: %w", err)
		}
		s.result = &res
		merged = res.Merged
	}
	if e.Profile.Apply.Method == profile.ApplyEnv || e.Profile.Apply.Method == "" {
		key := e.Profile.Apply.EnvKey
		if key == "" {
			return errors.New("the profile applies versions through .env but names no env_key")
		}
		f, err := envfile.Parse(merged)
		if err != nil {
			return fmt.Errorf("parse merged .env: %w", err)
		}
		f.Set(key, e.tagFor(s.to))
		merged = f.Bytes()
	}
	s.merged = merged
	if e.Profile.Apply.Method == profile.ApplyImageTag {
		s.composeNew = map[string][]byte{}
		s.composeOld = map[string][]byte{}
		for _, f := range e.Project.Files {
			old, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("read %s: %w", f, err)
			}
			out, changed, err := RewriteImageTags(old, e.Profile.Apply.Services, e.tagFor(s.to))
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if len(changed) > 0 {
				s.composeOld[f], s.composeNew[f] = old, out
			}
		}
		if len(s.composeNew) == 0 {
			return fmt.Errorf("the profile applies versions by image tag of %v, but no compose file sets those images. Nothing was changed", e.Profile.Apply.Services)
		}
	}
	if s.composeNew == nil {
		s.composeNew, s.composeOld = map[string][]byte{}, map[string][]byte{}
	}
	out, err := e.writeAgreements(s.merged, s.composeOld, s.composeNew)
	if err != nil {
		return err
	}
	s.merged = out
	return nil
}

func (s *configStep) Prompt(ctx context.Context) (string, error) {
	if err := s.compute(ctx); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString((&envfile.MergeResult{Merged: s.merged}).Diff(s.original, ".env"))
	for _, f := range sortedKeys(s.composeNew) {
		b.WriteString((&envfile.MergeResult{Merged: s.composeNew[f]}).Diff(s.composeOld[f], filepath.Base(f)))
	}
	if s.result != nil {
		b.WriteString("\n" + s.result.Summary.String() + "\n")
		for _, c := range s.result.Conflicts {
			fmt.Fprintf(&b, "conflict: %s — you changed it and the new default changed too; your value is kept\n", c.Key)
		}
	}
	return b.String(), nil
}

func (s *configStep) Run(ctx context.Context, sink Sink) error {
	if s.merged == nil {
		if err := s.compute(ctx); err != nil {
			return err
		}
	}
	if s.result != nil {
		sink.Log(s.result.Summary.String())
	}
	s.env.MarkChanged()
	if s.original != nil || len(s.merged) > 0 {
		if err := envfile.WriteAtomic(s.env.EnvPath(), s.merged, 0o600); err != nil {
			return err
		}
	}
	for _, f := range sortedKeys(s.composeNew) {
		mode := os.FileMode(0o644)
		if st, err := os.Stat(f); err == nil {
			mode = st.Mode().Perm()
		}
		if err := envfile.WriteAtomic(f, s.composeNew[f], mode); err != nil {
			return err
		}
		sink.Log("✓ set the image tags in " + f + " to " + s.env.tagFor(s.to))
	}
	s.env.agreementsWritten()
	s.env.setCurrent(s.to)
	sink.Log("✓ wrote " + s.env.EnvPath())
	return nil
}

// ---- stop writers

type stopStep struct {
	env *Env
	hop string
	all bool // rollback: stop every writer whatever its state
}

func (s *stopStep) Info() StepInfo {
	w := s.env.Writers()
	return StepInfo{
		ID: id(s.hop, "stop"), Hop: s.hop, Name: "Stop the app (" + strings.Join(w, ", ") + ")",
		Explain: "Stops the services that write to the database (" + strings.Join(w, ", ") + ") so the migration sees a still database. The database itself keeps running. Downtime starts here.",
		Confirm: !s.all,
		Touches: []string{"docker compose stop " + strings.Join(w, " ")},
	}
}

func (s *stopStep) Run(ctx context.Context, sink Sink) error {
	s.env.MarkChanged()
	w := s.env.Writers()
	if len(w) == 0 {
		return nil
	}
	if err := s.env.waitOneOffs(ctx, sink); err != nil {
		return err
	}
	if err := s.env.Project.Compose(ctx, sink.Log, append([]string{"stop", "--timeout", "20"}, w...)...); err != nil {
		return err
	}
	if !s.all {
		s.env.countLateWrites(ctx, sink)
	}
	return nil
}

// countLateWrites reports the write transactions committed after the
// restore point's dump started and before the stop: a rollback to it
// would lose them. Counted once, at the first stop after that backup.
func (e *Env) countLateWrites(ctx context.Context, sink Sink) {
	e.mu.Lock()
	mark := e.xidAtBackup
	e.xidAtBackup = 0
	e.mu.Unlock()
	if mark == 0 || e.Start == nil {
		return
	}
	x, err := nextXID(ctx, e.Start.DB.Params)
	if err != nil || x <= mark {
		return
	}
	e.mu.Lock()
	e.lateWrites = x - mark
	e.mu.Unlock()
	sink.Log(fmt.Sprintf("! %d write transaction(s) were committed while the backup ran or just after it; the restore point does not have them, so a rollback would lose them (--backup-after-stop closes this window, at the cost of a longer downtime)", x-mark))
}

// LateWrites is the number of write transactions the restore point lacks
// (committed between its dump and the stop), when known.
func (e *Env) LateWrites() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lateWrites
}

func nextXID(ctx context.Context, params pg.Params) (int64, error) {
	conn, err := pg.Connect(ctx, params)
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close(ctx) }()
	return conn.NextXID(ctx)
}

// waitOneOffs stops migration containers left by an earlier, killed run.
func (e *Env) waitOneOffs(ctx context.Context, sink Sink) error {
	cs, err := e.Eng.ProjectContainers(ctx, e.Project.Name)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.OneOff && c.State == "running" {
			sink.Log("a one-off container from an earlier run is still running: " + c.Name + "; waiting up to 2 minutes for it to finish")
			wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			code, err := e.Eng.Wait(wctx, c.ID)
			cancel()
			if err != nil {
				sink.Log("stopping " + c.Name)
				if err := e.Eng.Stop(ctx, c.ID, 10*time.Second); err != nil {
					return err
				}
			} else {
				sink.Log(fmt.Sprintf("%s exited with %d", c.Name, code))
			}
		}
	}
	return nil
}

// ---- migrate

type migrateStep struct {
	env *Env
	hop string
}

func (s *migrateStep) Info() StepInfo {
	m := s.env.Profile.Migration
	info := StepInfo{ID: id(s.hop, "migrate"), Hop: s.hop, Name: "Migrate the database to " + s.hop, Confirm: true}
	switch m.Mode {
	case profile.MigrateOneOff:
		info.Explain = "Runs the migration of " + s.hop + " once, in a one-off container of the " + m.Service + " service with the app's environment, volumes and network. Its output is shown live. If it fails, upshift restores the backup."
		info.Touches = []string{"docker compose run --rm --no-deps " + m.Service + " " + strings.Join(m.Command, " ")}
		for _, a := range m.After {
			info.Touches = append(info.Touches, "docker compose run --rm --no-deps "+m.Service+" "+strings.Join(a, " "))
		}
	case profile.MigrateEntrypoint:
		info.Explain = "Starts " + m.Service + ", whose entrypoint migrates the database, and watches its log for the line that means success. If it fails, upshift restores the backup."
		info.Touches = []string{"docker compose up -d --no-deps " + m.Service}
	default:
		info.Explain = "No migration step for this app."
	}
	return info
}

func (s *migrateStep) Run(ctx context.Context, sink Sink) error {
	e := s.env
	m := e.Profile.Migration
	timeout := e.MigrationTimeout
	if d, err := time.ParseDuration(m.Timeout); err == nil && d > 0 {
		timeout = d
	}
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	e.MarkChanged()
	// A migration left running by a killed earlier run must end first: two
	// migrations at once would corrupt the schema.
	if err := e.waitOneOffs(ctx, sink); err != nil {
		return err
	}
	switch m.Mode {
	case profile.MigrateOneOff:
		args := []string{"run", "--rm", "--no-deps", "-T"}
		keys := make([]string, 0, len(m.Env))
		for k := range m.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			args = append(args, "-e", k+"="+m.Env[k])
		}
		args = append(args, m.Service)
		if err := e.Project.Compose(ctx, sink.Log, append(args, m.Command...)...); err != nil {
			return fmt.Errorf("the migration failed: %w", err)
		}
		for _, after := range m.After {
			sink.Log("• " + strings.Join(after, " "))
			if err := e.Project.Compose(ctx, sink.Log, append(args[:len(args):len(args)], after...)...); err != nil {
				return fmt.Errorf("%s failed after the migration: %w", strings.Join(after, " "), err)
			}
		}
		return nil
	case profile.MigrateEntrypoint:
		return s.watchEntrypoint(ctx, sink)
	default:
		return nil
	}
}

func (s *migrateStep) watchEntrypoint(ctx context.Context, sink Sink) error {
	e := s.env
	m := e.Profile.Migration
	okRe, err := regexp.Compile(m.SuccessLog)
	if err != nil || m.SuccessLog == "" {
		return fmt.Errorf("the profile's success_log %q is not a usable regexp", m.SuccessLog)
	}
	var errRe *regexp.Regexp
	if m.ErrorLog != "" {
		if errRe, err = regexp.Compile(m.ErrorLog); err != nil {
			return fmt.Errorf("the profile's error_log: %w", err)
		}
	}
	settle, _ := time.ParseDuration(m.Settle) // validated with the profile
	since := time.Now().Add(-time.Second)
	if err := e.Project.Compose(ctx, sink.Log, "up", "--detach", "--no-deps", m.Service); err != nil {
		return err
	}
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	c, ok := det.Containers[m.Service]
	if !ok {
		return fmt.Errorf("the %s container did not appear", m.Service)
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	result := make(chan error, 1)
	ended := make(chan struct{})
	var mu sync.Mutex
	var firstErr, lastLine string
	var started bool // the success line was seen (settling)
	go func() {
		defer close(ended)
		_ = e.Eng.Logs(lctx, c.ID, true, since, func(line string) {
			sink.Log(line)
			mu.Lock()
			defer mu.Unlock()
			if firstErr != "" && errorish.MatchString(line) {
				lastLine = line // e.g. the last line of a traceback
			}
			switch {
			case firstErr != "":
			case okRe.MatchString(line) && settle <= 0:
				select {
				case result <- nil:
				default:
				}
			case okRe.MatchString(line) && !started:
				started = true
				sink.Log(fmt.Sprintf("… %s started; its log is watched %s more for errors of migrations it runs in the background", m.Service, settle))
				go func() {
					select {
					case <-time.After(settle):
					case <-ended: // reported below
						return
					case <-lctx.Done():
						return
					}
					mu.Lock()
					failed := firstErr != ""
					mu.Unlock()
					if !failed {
						select {
						case result <- nil:
						default:
						}
					}
				}()
			case errRe != nil && errRe.MatchString(line):
				firstErr = line
				// A traceback ends with the line that says what went wrong:
				// keep reading a moment so that it is shown and reported.
				go func() {
					select {
					case <-time.After(entrypointErrorGrace):
					case <-ended:
					case <-lctx.Done():
					}
					mu.Lock()
					msg := firstErr
					if lastLine != "" && lastLine != firstErr {
						msg += " … " + lastLine
					}
					mu.Unlock()
					select {
					case result <- fmt.Errorf("the migration logged an error: %s", msg):
					default:
					}
				}()
			}
		})
		mu.Lock()
		failed, ok := firstErr != "", started
		mu.Unlock()
		msg := "the container's log ended before the migration reported success"
		if ok {
			msg = "the container stopped within " + settle.String() + " of its success line"
		}
		if !failed {
			select {
			case result <- errors.New(msg):
			default:
			}
		}
	}()
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no success line (%s) before the timeout: %w", m.SuccessLog, ctx.Err())
	}
}

// errorish picks, among the lines after an error line, the ones worth
// repeating in the error (a traceback's last line names the exception).
var errorish = regexp.MustCompile(`(?i)error|exception|failed|fatal`)

// entrypointErrorGrace is how long the log is still read after an error
// line, for the rest of a traceback.
const entrypointErrorGrace = 2 * time.Second

// ---- start

type startStep struct {
	env     *Env
	hop     string
	version string
}

func (s *startStep) Info() StepInfo {
	return StepInfo{
		ID: id(s.hop, "start"), Hop: s.hop, Name: "Start " + s.version,
		Explain: "Starts the whole stack with your own docker compose project (same name, files, profiles and .env), in dependency order, and waits until every service with a health check is healthy. Downtime ends here.",
		Touches: []string{"docker compose up -d --wait"},
	}
}

func (s *startStep) Run(ctx context.Context, sink Sink) error {
	err := s.env.Project.Compose(ctx, sink.Log, "up", "--detach", "--wait", "--wait-timeout", "180", "--remove-orphans")
	if err != nil {
		s.env.tailLogs(ctx, sink)
		return fmt.Errorf("%s did not start healthy: %w", s.version, err)
	}
	return nil
}

// tailLogs shows the last lines of the app services (why did it not start?).
func (e *Env) tailLogs(ctx context.Context, sink Sink) {
	det, err := e.detectNow(ctx)
	if err != nil {
		return
	}
	for _, name := range e.Writers() {
		c, ok := det.Containers[name]
		if !ok {
			continue
		}
		var lines []string
		_ = e.Eng.Logs(ctx, c.ID, false, time.Now().Add(-3*time.Minute), func(l string) { lines = append(lines, l) })
		for _, l := range lastN(lines, 5) {
			sink.Log(name + " | " + l)
		}
	}
}

// ---- verify

type verifyStep struct {
	env     *Env
	hop     string
	version string
}

func (s *verifyStep) Info() StepInfo {
	return StepInfo{
		ID: id(s.hop, "verify"), Hop: s.hop, Name: "Verify " + s.version,
		Explain: "Checks that the app really runs " + s.version + ": the health checks pass, the version endpoint says " + s.version + ", the schema head is the one " + s.version + " expects, and no migration is dirty.",
		Touches: []string{"reads only"},
	}
}

func (s *verifyStep) Run(ctx context.Context, sink Sink) error {
	e := s.env
	var det *detect.Result
	var lastErr error
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		det, err = e.detectNow(ctx)
		if err == nil {
			lastErr = s.check(ctx, det, sink)
			if lastErr == nil {
				e.setCurrent(s.version)
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
			return fmt.Errorf("verify %s: %w", s.version, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func (s *verifyStep) check(ctx context.Context, det *detect.Result, sink Sink) error {
	e := s.env
	rep := det.Report
	for _, svc := range rep.Services {
		if (svc.State == "not created" && svc.Role == profile.RoleOther) || svc.FinishedJob() {
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
		if err := httpCheck(ctx, c, hc); err != nil {
			return fmt.Errorf("health check %s %s: %w", hc.Service, hc.Path, err)
		}
		sink.Log(fmt.Sprintf("✓ %s GET :%d%s answers", hc.Service, hc.Port, hc.Path))
	}
	if !sameVersion(rep.Version, s.version) {
		return fmt.Errorf("the app says it runs %q (from %s), expected %s", rep.Version, rep.VersionSource, s.version)
	}
	sink.Log("✓ the app runs " + rep.Version + " (" + rep.VersionSource + ")")
	if (rep.DB.Engine == profile.EnginePostgres || rep.DB.Engine == profile.EngineSQLite) && rep.DB.Reachable {
		if rep.Schema.Dirty {
			return fmt.Errorf("the schema is dirty after the migration (%s)", rep.Schema.Head)
		}
		if exp := e.Profile.ExpectedHead(s.version); exp != "" && rep.Schema.Head != exp {
			return fmt.Errorf("the schema head is %s, but %s expects %s", rep.Schema.Head, s.version, exp)
		}
		sink.Log("✓ schema head " + orDash(rep.Schema.Head) + ", not dirty")
	}
	for _, w := range rep.Warnings {
		if strings.HasPrefix(w, "DRIFT") || strings.HasPrefix(w, "DIRTY") {
			return errors.New(w)
		}
	}
	return nil
}

func httpCheck(ctx context.Context, c dockerx.Container, hc profile.HealthCheck) error {
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
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		req, err := http.NewRequestWithContext(cctx, http.MethodGet, "http://"+a+hc.Path, nil)
		if err != nil {
			cancel()
			return fmt.Errorf("request: %w", err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			lastErr = err
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		cancel()
		if resp.StatusCode != want {
			return fmt.Errorf("status %d, want %d", resp.StatusCode, want)
		}
		if hc.BodyContains != "" && !strings.Contains(string(body), hc.BodyContains) {
			return fmt.Errorf("body does not contain %q", hc.BodyContains)
		}
		return nil
	}
	return lastErr
}

// ---- restore (rollback)

type restoreStep struct {
	env *Env
	hop string
	set *backup.Set
}

func (s *restoreStep) Info() StepInfo {
	return StepInfo{
		ID: id(s.hop, "restore"), Hop: s.hop, Name: "Restore backup " + s.set.ID,
		Explain: "Puts back, together, everything the backup " + s.set.ID + " holds: the database (recreated from its dump), the compose files and .env, the volumes, and the images that ran then (" + s.set.Manifest.Version + "). The set is verified first; a damaged set is refused before anything is touched. Whatever was written to the database after " + s.set.Manifest.Finished.Local().Format(time.DateTime) + " is not in it.",
		Confirm: s.hop != "rollback",
		Touches: []string{"database", s.env.Dir(), "volumes", "image tags"},
	}
}

func (s *restoreStep) Run(ctx context.Context, sink Sink) error {
	e := s.env
	det, err := e.detectNow(ctx)
	if err != nil {
		return err
	}
	sink.Log("verifying " + s.set.ID)
	if err := s.set.Verify(ctx, e.Eng, e.pgContainer(det)); err != nil {
		return fmt.Errorf("backup %s does not verify, nothing was restored: %w", s.set.ID, err)
	}
	progress := func(p backup.Progress) {
		if p.Line != "" {
			sink.Log(p.Line)
		}
		if p.Total > 0 {
			sink.Progress(p.Done, p.Total)
		}
	}
	sink.Log("restoring config files")
	if err := s.set.RestoreConfig(ctx, e.Dir()); err != nil {
		return err
	}
	sink.Log("restoring image tags")
	if err := s.set.RestoreImages(ctx, e.Eng); err != nil {
		return err
	}
	if det.DB.Container != "" && det.DB.SQLite == nil {
		sink.Log("restoring the database")
		db := backup.DBSource{Container: det.DB.Container, User: det.DB.Params.User, Password: det.DB.Params.Password, Database: det.DB.Params.Database, Extra: e.Profile.DB.ExtraDatabases}
		if err := s.set.RestoreDatabase(ctx, e.Eng, db, progress); err != nil {
			return err
		}
	}
	sink.Log("restoring volumes")
	if err := s.set.RestoreVolumes(ctx, e.Eng, progress); err != nil {
		return err
	}
	if len(s.set.Manifest.SQLite) > 0 {
		// The container that held the files may have been recreated since
		// (a new image): copy into the one that mounts the file now.
		into := ""
		if det.DB.SQLite != nil {
			into = det.DB.SQLite.Container
		}
		sink.Log("restoring the SQLite database")
		if err := s.set.RestoreSQLite(ctx, e.Eng, into, progress); err != nil {
			return err
		}
	}
	e.setCurrent(s.set.Manifest.Version)
	return nil
}

// ---- clean up

type cleanupStep struct{ env *Env }

func (s *cleanupStep) Info() StepInfo {
	return StepInfo{
		ID: "cleanup", Name: "Clean up old images",
		Explain: "Offers to remove app images no container uses any more. Images that a backup set refers to are kept, so a restore can always start exactly what ran before.",
		Confirm: true,
		Touches: []string{"docker image rm (unused app images not referenced by any backup)"},
	}
}

func (s *cleanupStep) candidates(ctx context.Context) ([]string, error) {
	e := s.env
	inUse := map[string]bool{}
	cs, err := e.Eng.ProjectContainers(ctx, e.Project.Name)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		inUse[c.Image] = true
		inUse[c.ImageID] = true
	}
	sets, _ := backup.List(e.BackupDir)
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

func (s *cleanupStep) Run(ctx context.Context, sink Sink) error {
	c, err := s.candidates(ctx)
	if err != nil {
		return err
	}
	for _, ref := range c {
		if err := s.env.Eng.ImageRemove(ctx, ref); err != nil {
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

// BackupPlan is `upshift backup`: one verified backup set, nothing else.
func BackupPlan(env *Env) *Plan {
	cur := env.Start.Report.Version
	env.setCurrent(cur)
	st := []Step{&backupStep{env: env}}
	if env.sqlite() {
		// A SQLite file is copied with its writer stopped: a short downtime.
		env.BackupAfterStop = true
		st = []Step{&stopStep{env: env}, &backupStep{env: env}, &startStep{env: env, version: cur}, &verifyStep{env: env, version: cur}}
	}
	return &Plan{
		From: cur, To: cur,
		Steps: st,
		Backup: func() string {
			if s := env.RestorePoint(); s != nil {
				return s.ID
			}
			return ""
		},
		Reached: env.Current,
	}
}

// RestorePlan is `upshift restore ID` (and `upshift rollback`): put a backup
// set back and start what it holds.
func RestorePlan(env *Env, set *backup.Set, hop string) *Plan {
	env.setCurrent(env.Start.Report.Version)
	return &Plan{
		From: env.Start.Report.Version, To: set.Manifest.Version,
		Steps:     RestoreSteps(env, set, hop),
		Backup:    func() string { return set.ID },
		Reached:   env.Current,
		Restoring: true,
	}
}

// IndexOf is the position of a step ID in the plan, or -1.
func (p *Plan) IndexOf(stepID string) int {
	for i, s := range p.Steps {
		if s.Info().ID == stepID {
			return i
		}
	}
	return -1
}

func sortedKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
