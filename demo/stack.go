package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/envfile"
)

// ImageRepo is the repository of the demo app images.
const ImageRepo = "upshift-demo/app"

// DefaultPostgresImage is the database image of the demo stack.
const DefaultPostgresImage = "postgres:16-alpine"

// PostgresImageEnv overrides the database image.
const PostgresImageEnv = "UPSHIFT_DEMO_POSTGRES_IMAGE"

// ImageRepoEnv overrides ImageRepo: a test that must run this binary's
// demo app, whichever upshift built the shared upshift-demo/app images,
// names its own repository (it must end in /upshift-demo/app, the name the
// profile matches).
const ImageRepoEnv = "UPSHIFT_DEMO_IMAGE_REPO"

func imageRepo() string {
	if r := os.Getenv(ImageRepoEnv); strings.HasSuffix(r, "/"+ImageRepo) {
		return r
	}
	return ImageRepo
}

// ImageRef is the image reference of version v.
func ImageRef(v string) string { return imageRepo() + ":" + v }

// withRepo is a demo compose file with the image repository of
// ImageRepoEnv when set.
func withRepo(compose []byte) []byte {
	if r := imageRepo(); r != ImageRepo {
		return bytes.ReplaceAll(compose, []byte("image: "+ImageRepo+":"), []byte("image: "+r+":"))
	}
	return compose
}

// CheckStatic returns an error unless path is a statically linked executable:
// the demo images are FROM scratch, with no dynamic loader or libc.
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("read executable %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked, but the demo images are FROM scratch and need a static build. Fix: rebuild with CGO_ENABLED=0 go build", path)
		}
	}
	return nil
}

// BuildImage builds upshift-demo/app:<version> from the running executable.
func BuildImage(ctx context.Context, eng *dockerx.Engine, version string, log func(string)) error {
	if !IsVersion(version) {
		return fmt.Errorf("demo app has no version %q (known: %s)", version, strings.Join(Versions, ", "))
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the upshift executable: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return fmt.Errorf("find the upshift executable: %w", err)
	}
	if err := CheckStatic(exe); err != nil {
		return err
	}
	sum, err := binarySum(exe)
	if err != nil {
		return err
	}
	dockerfile := fmt.Sprintf(`FROM scratch
COPY upshift /upshift
ENV %s=%s
LABEL org.opencontainers.image.version=%q org.opencontainers.image.title="upshift demo app" %s=%q
EXPOSE 8080
ENTRYPOINT ["/upshift", "demo-app"]
CMD ["serve"]
`, AppVersionEnv, version, version, binaryLabel, sum)
	return eng.BuildImage(ctx, []string{ImageRef(version)}, nil, []dockerx.BuildFile{
		{Name: "Dockerfile", Body: []byte(dockerfile)},
		{Name: "upshift", Path: exe, Mode: 0o755},
	}, log)
}

// binaryLabel records which upshift binary a demo image holds: an image
// built by an older upshift lacks what this one's demo does (2.0.0's
// scheduler), so it is built again.
const binaryLabel = "io.upshift.demo.binary"

func binarySum(exe string) (string, error) {
	f, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("read the upshift executable: %w", err)
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read the upshift executable: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// EnsureImage builds the image of version unless it exists, built from
// this upshift.
func EnsureImage(ctx context.Context, eng *dockerx.Engine, version string, log func(string)) error {
	img, ok, err := eng.ImageInspect(ctx, ImageRef(version))
	if err != nil {
		return err
	}
	if ok {
		exe, err := os.Executable()
		if err == nil {
			exe, err = filepath.EvalSymlinks(exe)
		}
		if err != nil {
			return fmt.Errorf("find the upshift executable: %w", err)
		}
		if CheckStatic(exe) != nil {
			return nil // this executable cannot be an image (a test binary): keep the one there
		}
		sum, err := binarySum(exe)
		if err != nil {
			return err
		}
		if img.Labels[binaryLabel] == sum {
			return nil
		}
	}
	return BuildImage(ctx, eng, version, log)
}

// StackOptions configure `upshift demo up`.
type StackOptions struct {
	Dir           string
	Version       string
	PostgresImage string
	Project       string
	Port          int // 0: 8080 when free, else any free port
}

var projectNameRe = regexp.MustCompile(`[^a-z0-9_-]+`)

// ProjectName normalises a name the way docker compose does.
func ProjectName(s string) string {
	s = projectNameRe.ReplaceAllString(strings.ToLower(s), "")
	return strings.TrimLeft(s, "_-")
}

// WriteStack writes compose.yaml, .env, .env.example and the release notes
// into opts.Dir. An existing demo .env is kept (it holds the admin's state).
func WriteStack(opts StackOptions) error {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", opts.Dir, err)
	}
	compose := filepath.Join(opts.Dir, "compose.yaml")
	if b, err := os.ReadFile(compose); err == nil && !isDemoCompose(b) {
		return fmt.Errorf("%s exists and is not the demo stack's; nothing was changed. Fix: choose an empty directory with --dir", compose)
	}
	envPath := filepath.Join(opts.Dir, ".env")
	if _, err := os.Stat(envPath); err == nil {
		return nil // already written: `demo up` again just starts it
	}
	tmpl, err := EnvTemplate(opts.Version)
	if err != nil {
		return err
	}
	composeYAML, err := ComposeFor(opts.Version)
	if err != nil {
		return err
	}
	port := opts.Port
	if port == 0 {
		port = freePort(8080)
	}
	env, err := envfile.Parse(tmpl)
	if err != nil {
		return fmt.Errorf("the %s .env template: %w", opts.Version, err)
	}
	for _, kv := range [][2]string{
		{"COMPOSE_PROJECT_NAME", opts.Project},
		{"POSTGRES_IMAGE", opts.PostgresImage},
		{"API_PORT", strconv.Itoa(port)},
		{"DB_PASSWORD", randomSecret()},
		{"NOTES_SECRET", randomSecret()},
	} {
		env.Set(kv[0], kv[1])
	}
	files := map[string][]byte{
		"compose.yaml": composeYAML,
		".env.example": tmpl,
	}
	for _, v := range Versions {
		n, err := ReleaseNotes(v)
		if err != nil {
			return err
		}
		files[filepath.Join("notes", v+".md")] = n
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "notes"), 0o755); err != nil {
		return fmt.Errorf("create notes dir: %w", err)
	}
	for name, body := range files {
		if err := envfile.WriteAtomic(filepath.Join(opts.Dir, name), body, 0o644); err != nil {
			return err
		}
	}
	// .env holds the database password: 0600, written last so a half-written
	// stack is never mistaken for a complete one.
	return envfile.WriteAtomic(envPath, env.Bytes(), 0o600)
}

func freePort(preferred int) int {
	var lc net.ListenConfig
	if l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:"+strconv.Itoa(preferred)); err == nil {
		_ = l.Close()
		return preferred
	}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return preferred
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// StackProject is the compose invocation of a demo stack directory.
func StackProject(dir string) (dockerx.Project, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dockerx.Project{}, fmt.Errorf("resolve %s: %w", dir, err)
	}
	env, err := os.ReadFile(filepath.Join(abs, ".env"))
	if err != nil {
		return dockerx.Project{}, fmt.Errorf("%s is not a demo stack (no .env): %w. Fix: run `upshift demo up --dir %s` first", abs, err, dir)
	}
	name := ""
	if m := regexp.MustCompile(`(?m)^COMPOSE_PROJECT_NAME=(.*)$`).FindSubmatch(env); m != nil {
		name = strings.TrimSpace(string(m[1]))
	}
	if name == "" {
		name = ProjectName(filepath.Base(abs))
	}
	return dockerx.Project{Name: name, WorkingDir: abs, Files: []string{filepath.Join(abs, "compose.yaml")}}, nil
}

// EnvValue reads a key of a stack's .env (as compose reads it).
func EnvValue(dir, key string) string {
	b, err := os.ReadFile(filepath.Join(dir, ".env"))
	if err != nil {
		return ""
	}
	f, err := envfile.Parse(b)
	if err != nil {
		return ""
	}
	v, _ := f.Get(key)
	return v
}

// Up writes the stack (if needed), builds the app image, makes sure the
// database image exists and starts everything, waiting for health.
func Up(ctx context.Context, eng *dockerx.Engine, opts StackOptions, log func(string)) (dockerx.Project, error) {
	if opts.Version == "" {
		opts.Version = Versions[0]
	}
	if !IsVersion(opts.Version) {
		return dockerx.Project{}, fmt.Errorf("demo app has no version %q (known: %s)", opts.Version, strings.Join(Versions, ", "))
	}
	if opts.PostgresImage == "" {
		opts.PostgresImage = os.Getenv(PostgresImageEnv)
	}
	if opts.PostgresImage == "" {
		opts.PostgresImage = DefaultPostgresImage
	}
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return dockerx.Project{}, fmt.Errorf("resolve %s: %w", opts.Dir, err)
	}
	opts.Dir = abs
	if opts.Project == "" {
		opts.Project = ProjectName(filepath.Base(abs))
	}
	if opts.Project == "" {
		return dockerx.Project{}, errors.New("cannot derive a project name from the directory; pass --project")
	}
	if _, err := dockerx.ComposeVersion(ctx); err != nil {
		return dockerx.Project{}, err
	}
	if err := WriteStack(opts); err != nil {
		return dockerx.Project{}, err
	}
	version := EnvValue(abs, "APP_VERSION")
	pgImage := EnvValue(abs, "POSTGRES_IMAGE")
	if err := EnsureImage(ctx, eng, version, log); err != nil {
		return dockerx.Project{}, err
	}
	if _, ok, err := eng.ImageInspect(ctx, pgImage); err != nil {
		return dockerx.Project{}, err
	} else if !ok {
		log("pulling " + pgImage)
		if err := eng.ImagePull(ctx, pgImage, nil); err != nil {
			return dockerx.Project{}, fmt.Errorf("database image %s is not here and could not be pulled (%w). Fix: pass --postgres-image with a local PostgreSQL image, or set %s", pgImage, err, PostgresImageEnv)
		}
	}
	p, err := StackProject(abs)
	if err != nil {
		return p, err
	}
	// Like a first install of a real app: database first, then the schema
	// (idempotent: a no-op when it is already at head), then the app.
	if err := p.Compose(ctx, log, "up", "--detach", "--wait", "--wait-timeout", "120", "db"); err != nil {
		return p, err
	}
	// A new database gets the notes of a 1.x history (duplicates included
	// before 2.1.0), as an install that has run for years would have.
	if err := p.Compose(ctx, log, "run", "--rm", "--no-deps", "-e", SeedEnv+"=1", "api", "migrate"); err != nil {
		return p, err
	}
	if err := p.Compose(ctx, log, "up", "--detach", "--wait", "--wait-timeout", "120"); err != nil {
		return p, err
	}
	return p, nil
}

// Down removes the stack's containers, network and volumes.
func Down(ctx context.Context, dir string, log func(string)) error {
	p, err := StackProject(dir)
	if err != nil {
		return err
	}
	return p.Compose(ctx, log, "down", "--volumes", "--remove-orphans", "--timeout", "5")
}

func randomSecret() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
