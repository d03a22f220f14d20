package demo

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seed-e7a9fb3b/upshift/internal/httpx"
)

// PersonalityEnv, baked into a lookalike image, makes the demo app behave
// like a real app (its ports, endpoints, schema table, migration style and
// command lines) so that upshift's built-in profiles can be tested end to
// end without the real images. Unset, the demo app is itself.
const PersonalityEnv = "UPSHIFT_DEMO_PERSONALITY"

// personalities are the apps the demo app can pass for; each
// personality_<app>.go registers itself in an init function.
var personalities = map[string]personality{}

func registerPersonality(name string, p personality) { personalities[name] = p }

// Personalities lists the apps the demo app can pass for, sorted.
func Personalities() []string {
	names := make([]string, 0, len(personalities))
	for n := range personalities {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// personality is one lookalike app. Its version comes from
// UPSHIFT_DEMO_APP_VERSION, its command line from the image (mode).
type personality interface {
	// versions are the versions it can be built as, oldest first.
	versions() []string
	run(ctx context.Context, version, mode string) error
}

func personalityByName(name string) (personality, error) {
	if p, ok := personalities[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%s=%q: no such personality (known: %s)", PersonalityEnv, name, strings.Join(Personalities(), ", "))
}

// PersonalityVersions lists the versions a personality can be built as.
func PersonalityVersions(name string) ([]string, error) {
	p, err := personalityByName(name)
	if err != nil {
		return nil, err
	}
	return p.versions(), nil
}

// Real images take their command as several arguments ("alembic upgrade
// head", "python email_handler.py"); `upshift demo-app` takes one mode. In a
// lookalike image only, the arguments are joined into that one mode.
func init() {
	if os.Getenv(PersonalityEnv) == "" || len(os.Args) < 4 || os.Args[1] != "demo-app" {
		return
	}
	os.Args = []string{os.Args[0], "demo-app", strings.Join(os.Args[2:], " ")}
}

func runPersonality(ctx context.Context, name, mode string) error {
	p, err := personalityByName(name)
	if err != nil {
		return err
	}
	v := os.Getenv(AppVersionEnv)
	known := false
	for _, x := range p.versions() {
		known = known || x == v
	}
	if !known {
		return fmt.Errorf("%s=%q is not a %s lookalike version (known: %s)", AppVersionEnv, v, name, strings.Join(p.versions(), ", "))
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return p.run(ctx, v, mode)
}

// connectURL connects to PostgreSQL, waiting up to 60 seconds for it (apps
// in compose start before their database accepts connections).
func connectURL(ctx context.Context, url string) (*pgx.Conn, error) {
	if url == "" {
		return nil, errors.New("no database URL configured")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, url)
		if err == nil {
			return conn, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("connect to database: %w", err)
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// serveUntilDone runs an HTTP server until ctx ends.
func serveUntilDone(ctx context.Context, addr string, h http.Handler, ready func()) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	time.Sleep(50 * time.Millisecond)
	ready()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}

// probeLocal is the image's HEALTHCHECK: GET a local URL, want 200.
func probeLocal(ctx context.Context, url string) error {
	resp, err := httpx.GetResponse(ctx, url, 1<<20, 2*time.Second)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: status %d", resp.StatusCode)
	}
	return nil
}

// idle keeps a background process (worker, scheduler) alive until stopped,
// logging a line now and then like the real one.
func idle(ctx context.Context, what string, every time.Duration) error {
	log.Printf("%s started", what)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Printf("%s stopped", what)
			return nil
		case <-t.C:
			log.Printf("%s: nothing to do", what)
		}
	}
}
