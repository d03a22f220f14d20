package envfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "compose3", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// decoded resolves a compose file as compose does before interpolation:
// aliases and merge keys expanded (yaml.v3 into map[string]any).
func decoded(t testing.TB, data []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("merged file does not decode: %v\n%s", err, data)
	}
	return v
}

// at walks a decoded tree by keys.
func at(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// loadProject loads the file with compose-go, the library docker compose
// uses: the merged file must be a valid project.
func loadProject(t testing.TB, data []byte, env map[string]string) *types.Project {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	po, err := cli.NewProjectOptions([]string{path}, cli.WithWorkingDirectory(dir), cli.WithName("h16m-test"), cli.WithEnv(envList))
	if err != nil {
		t.Fatal(err)
	}
	p, err := po.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose-go refuses the merged file: %v\n%s", err, data)
	}
	return p
}

func mustMerge(t *testing.T, base, theirs, ours []byte) ComposeMergeResult {
	t.Helper()
	r, err := MergeCompose(base, theirs, ours)
	if err != nil {
		t.Fatalf("MergeCompose: %v", err)
	}
	return r
}

func TestMergeComposeDifyLike(t *testing.T) {
	base, theirs, ours := readFixture(t, "difylike-base.yaml"), readFixture(t, "difylike-theirs.yaml"), readFixture(t, "difylike-ours.yaml")
	r := mustMerge(t, base, theirs, ours)
	out := string(r.Merged)
	for _, want := range []string{
		"# ours: the mail relay", "# ours: a backup sidecar", `- "127.0.0.1:5001:5001"   # only behind the proxy`,
		"x-shared-env: &shared-api-worker-env", "      <<: *shared-api-worker-env\n      MODE: api",
		"# the plugin runtime, new in 1.1.0", "image: example/flow-api:1.1.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("merged file lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "!!merge") || strings.Contains(out, "1.0.0") {
		t.Errorf("merged file has a tagged merge key or an old tag:\n%s", out)
	}
	v := decoded(t, r.Merged)
	for _, svc := range []string{"api", "worker", "plugin_daemon", "backup"} {
		env := at(v, "services", svc, "environment")
		if got := at(env, "CONSOLE_API_URL"); got != "${CONSOLE_API_URL:-https://flow.example.org}" {
			t.Errorf("%s: CONSOLE_API_URL = %v, want the admin's (through the anchor)", svc, got)
		}
		if got := at(env, "PLUGIN_DAEMON_URL"); got != "${PLUGIN_DAEMON_URL:-http://plugin_daemon:5002}" {
			t.Errorf("%s: PLUGIN_DAEMON_URL = %v, want upstream's new key (through the anchor)", svc, got)
		}
		if got := at(env, "MAIL_RELAY"); got != "smtp.internal:25" {
			t.Errorf("%s: MAIL_RELAY = %v, want the admin's own key", svc, got)
		}
	}
	if got := at(v, "services", "plugin_daemon", "environment", "SERVER_PORT"); got == nil {
		t.Error("plugin_daemon lost its own key next to the merge key")
	}
	p := loadProject(t, r.Merged, nil)
	if _, err := p.GetService("plugin_daemon"); err != nil {
		t.Errorf("compose-go: %v", err)
	}
	if !reflect.DeepEqual(r.Summary.ServicesAdded, []string{"plugin_daemon"}) {
		t.Errorf("services added = %v", r.Summary.ServicesAdded)
	}
	if s := r.Summary.String(); !strings.Contains(s, "x-shared-env.PLUGIN_DAEMON_URL") || strings.Contains(s, "difflike123456") {
		t.Errorf("summary = %s", s)
	}
	d := r.Diff(ours, "docker-compose.yaml")
	if !strings.Contains(d, "+  plugin_daemon:") || strings.Contains(d, "difflike123456") || !strings.Contains(d, "DB_PASSWORD: ***") {
		t.Errorf("diff shows the wrong change or a secret:\n%s", d)
	}
	// The admin's layout survives: blank lines between services, the
	// unindented list under api, only upstream's changes in the diff.
	if strings.Count(d, "\n-") != 3 {
		t.Errorf("diff removes more than the three image lines:\n%s", d)
	}
}

func TestMergeComposeDemoLike(t *testing.T) {
	base, theirs, ours := readFixture(t, "demolike-base.yaml"), readFixture(t, "demolike-theirs.yaml"), readFixture(t, "demolike-ours.yaml")
	r := mustMerge(t, base, theirs, ours)
	v := decoded(t, r.Merged)
	if got := at(v, "services", "api", "ports"); !reflect.DeepEqual(got, []any{"18080:8080"}) {
		t.Errorf("api ports = %v, want the admin's", got)
	}
	env := at(v, "services", "api", "environment")
	want := []any{"DATABASE_URL=postgres://shop:${DB_PASSWORD}@db:5432/shop", "WORKERS=4", "CACHE_TTL=60", "SHOP_BANNER=closed on sundays"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("api environment = %v, want %v", env, want)
	}
	if at(v, "services", "scheduler", "image") != "example/shop-api:2.0.0" {
		t.Errorf("scheduler missing: %v", at(v, "services"))
	}
	if !strings.Contains(string(r.Merged), "- SHOP_BANNER=closed on sundays   # ours") {
		t.Errorf("the admin's comment is gone:\n%s", r.Merged)
	}
	p := loadProject(t, r.Merged, map[string]string{"DB_PASSWORD": "x"})
	if len(p.Services) != 3 {
		t.Errorf("compose-go sees %d services", len(p.Services))
	}
}

func TestMergeComposeBotLike(t *testing.T) {
	base, theirs, ours := readFixture(t, "botlike-base.yml"), readFixture(t, "botlike-theirs.yml"), readFixture(t, "botlike-ours.yml")
	r := mustMerge(t, base, theirs, ours)
	v := decoded(t, r.Merged)
	if at(v, "services", "webui") != nil || !reflect.DeepEqual(r.Summary.ServicesRemoved, []string{"webui"}) {
		t.Errorf("webui should be removed (the admin had not changed it): %v, %v", at(v, "services"), r.Summary.ServicesRemoved)
	}
	if got := at(v, "services", "core", "ports"); !reflect.DeepEqual(got, []any{"8000:8000", "8001:8001"}) {
		t.Errorf("core ports = %v", got)
	}
	if got := at(v, "services", "core", "volumes"); !reflect.DeepEqual(got, []any{"./data:/app/data", "./plugins:/app/plugins"}) {
		t.Errorf("core volumes = %v", got)
	}

	// The admin changed the service upstream removes: a conflict.
	edited := strings.Replace(string(ours), `"8501:8501"`, `"9501:8501"`, 1)
	r, err := MergeCompose(base, theirs, []byte(edited))
	if !errors.Is(err, ErrComposeConflicts) || len(r.Conflicts) != 1 || r.Merged != nil {
		t.Fatalf("want one conflict and no merged file, got %v, %+v", err, r.Conflicts)
	}
	c := r.Conflicts[0]
	if c.Path != "services.webui" || !c.TheirsMissing || !strings.Contains(c.Ours, "9501:8501") {
		t.Errorf("conflict = %+v", c)
	}
}

func TestMergeComposeCases(t *testing.T) {
	const base = "services:\n  app:\n    image: example/app:1.1.0\n    environment:\n      LOG_LEVEL: info\n      WORKERS: 2\n    ports:\n      - \"80:80\"\n"
	const theirs = "services:\n  app:\n    image: example/app:2.0.0\n    environment:\n      LOG_LEVEL: warn\n      WORKERS: 2\n      NEW_KEY: \"yes\"\n    ports:\n      - \"80:80\"\n"
	tests := []struct {
		name       string
		ours       string
		conflict   string // path
		want       map[string]any
		wantInText []string
	}{
		{
			name: "admin changed LOG_LEVEL too: conflict",
			ours: strings.Replace(base, "info", "debug", 1), conflict: "services.app.environment.LOG_LEVEL",
		},
		{
			name: "admin changed it to upstream's value",
			ours: strings.Replace(base, "info", "warn", 1),
			want: map[string]any{"LOG_LEVEL": "warn", "NEW_KEY": "yes"},
		},
		{
			name: "image from a variable is kept",
			ours: strings.Replace(base, "example/app:1.1.0", "example/app:${APP_VERSION:-1.1.0}", 1),
			want: map[string]any{"image": "example/app:${APP_VERSION:-1.1.0}", "LOG_LEVEL": "warn"},
		},
		{
			name: "registry mirror gets the new tag",
			ours: strings.Replace(base, "example/app:1.1.0", "registry.local:5000/example/app:1.1.0", 1),
			want: map[string]any{"image": "registry.local:5000/example/app:2.0.0"},
		},
		{
			name: "admin pinned another tag: conflict",
			ours: strings.Replace(base, "example/app:1.1.0", "example/app:1.1.3", 1), conflict: "services.app.image",
		},
		{
			name: "environment as a list, upstream as a mapping",
			ours: "services:\n  app:\n    image: example/app:1.1.0\n    environment:\n      - LOG_LEVEL=info\n      - WORKERS=2\n      - MINE=1 # mine\n    ports:\n      - \"80:80\"\n",
			want: map[string]any{"environment": []any{"LOG_LEVEL=warn", "WORKERS=2", "NEW_KEY=yes", "MINE=1"}}, wantInText: []string{"- MINE=1 # mine"},
		},
		{
			name: "admin removed a key upstream changed: conflict",
			ours: strings.Replace(base, "      LOG_LEVEL: info\n", "", 1), conflict: "services.app.environment.LOG_LEVEL",
		},
		{
			name: "admin's own service and port kept",
			ours: strings.Replace(base, "      - \"80:80\"\n", "      - \"80:80\"\n      - \"443:443\"\n", 1) + "  mine:\n    image: example/mine:1\n",
			want: map[string]any{"ports": []any{"80:80", "443:443"}, "mine": "example/mine:1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := MergeCompose([]byte(base), []byte(theirs), []byte(tt.ours))
			if tt.conflict != "" {
				if !errors.Is(err, ErrComposeConflicts) || len(r.Conflicts) != 1 || r.Conflicts[0].Path != tt.conflict {
					t.Fatalf("want a conflict at %s, got %v %+v", tt.conflict, err, r.Conflicts)
				}
				c := r.Conflicts[0]
				c.File = "compose.yaml"
				msg := c.String()
				for _, want := range []string{c.Theirs, "edit compose.yaml so that", "take upstream's value", "as in the running release"} {
					if !strings.Contains(msg, want) {
						t.Errorf("conflict message lacks %q: %s", want, msg)
					}
				}
				if !c.OursMissing && !strings.Contains(msg, c.Ours) {
					t.Errorf("conflict message lacks the admin's value: %s", msg)
				}
				// Deciding for upstream merges, with upstream's value there.
				r, err := MergeComposeWith([]byte(base), []byte(theirs), []byte(tt.ours), ComposeOptions{TakeTheirs: []string{tt.conflict}})
				if err != nil || len(r.Conflicts) != 0 {
					t.Fatalf("with the conflict decided: %v", err)
				}
				want := at(decoded(t, []byte(theirs)), strings.Split(tt.conflict, ".")...)
				if got := at(decoded(t, r.Merged), strings.Split(tt.conflict, ".")...); !reflect.DeepEqual(got, want) {
					t.Errorf("decided %s = %v, want upstream's %v", tt.conflict, got, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.wantInText {
				if !strings.Contains(string(r.Merged), s) {
					t.Errorf("merged lacks %q:\n%s", s, r.Merged)
				}
			}
			v := decoded(t, r.Merged)
			app := at(v, "services", "app")
			for k, want := range tt.want {
				got := at(app, k)
				switch k {
				case "LOG_LEVEL", "NEW_KEY":
					got = at(app, "environment", k)
				case "mine":
					got = at(v, "services", "mine", "image")
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v\n%s", k, got, want, r.Merged)
				}
			}
			checkIdempotent(t, []byte(base), []byte(theirs), r.Merged)
		})
	}
}

// checkIdempotent: merging the merged file again changes nothing.
func checkIdempotent(t *testing.T, base, theirs, merged []byte) {
	t.Helper()
	again, err := MergeCompose(base, theirs, merged)
	if err != nil {
		t.Fatalf("second merge: %v", err)
	}
	if string(again.Merged) != string(merged) {
		t.Errorf("merging twice differs from once:\n%s\nvs\n%s", again.Merged, merged)
	}
}

func TestMergeComposeIdempotent(t *testing.T) {
	for _, app := range []struct{ base, theirs, ours string }{
		{"difylike-base.yaml", "difylike-theirs.yaml", "difylike-ours.yaml"},
		{"demolike-base.yaml", "demolike-theirs.yaml", "demolike-ours.yaml"},
		{"botlike-base.yml", "botlike-theirs.yml", "botlike-ours.yml"},
	} {
		t.Run(app.ours, func(t *testing.T) {
			base, theirs, ours := readFixture(t, app.base), readFixture(t, app.theirs), readFixture(t, app.ours)
			r := mustMerge(t, base, theirs, ours)
			checkIdempotent(t, base, theirs, r.Merged)
			same := mustMerge(t, base, theirs, theirs)
			if string(same.Merged) != string(theirs) {
				t.Errorf("ours == theirs must give theirs byte for byte:\n%s", same.Merged)
			}
			unchanged := mustMerge(t, base, base, ours)
			if string(unchanged.Merged) != string(ours) {
				t.Errorf("no upstream change must leave the admin's file byte for byte:\n%s", unchanged.Merged)
			}
			if d := unchanged.Diff(ours, "compose.yaml"); d != "" {
				t.Errorf("diff of no change = %q", d)
			}
		})
	}
}

func TestMergeComposeTwoWay(t *testing.T) {
	theirs, ours := readFixture(t, "demolike-theirs.yaml"), readFixture(t, "demolike-ours.yaml")
	r := mustMerge(t, nil, theirs, ours)
	if !r.TwoWay {
		t.Error("TwoWay not set")
	}
	v := decoded(t, r.Merged)
	if got := at(v, "services", "api", "image"); got != "example/shop-api:1.1.0" {
		t.Errorf("two-way overwrote the admin's image: %v", got)
	}
	env := at(v, "services", "api", "environment")
	want := []any{"DATABASE_URL=postgres://shop:${DB_PASSWORD}@db:5432/shop", "WORKERS=2", "CACHE_TTL=60", "SHOP_BANNER=closed on sundays"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("two-way environment = %v, want %v", env, want)
	}
	if at(v, "services", "scheduler") == nil || !reflect.DeepEqual(at(v, "services", "api", "ports"), []any{"18080:8080"}) {
		t.Errorf("two-way: scheduler missing or ports changed:\n%s", r.Merged)
	}
	// Nothing of the admin's is removed even when upstream dropped it.
	bot := mustMerge(t, nil, readFixture(t, "botlike-theirs.yml"), readFixture(t, "botlike-ours.yml"))
	if at(decoded(t, bot.Merged), "services", "webui") == nil {
		t.Error("two-way removed the admin's service")
	}
}

func TestMergeComposeBadInput(t *testing.T) {
	good := readFixture(t, "demolike-base.yaml")
	for name, bad := range map[string]string{
		"not yaml":      "services: [\n",
		"a list":        "- a\n- b\n",
		"duplicate key": "services:\n  a:\n    image: x\n  a:\n    image: y\n",
		"unknown alias": "services:\n  a:\n    environment: *nope\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := MergeCompose(good, good, []byte(bad)); err == nil || !strings.Contains(err.Error(), "your compose file") {
				t.Errorf("ours: err = %v", err)
			}
			if _, err := MergeCompose(good, []byte(bad), good); err == nil || !strings.Contains(err.Error(), "target release") {
				t.Errorf("theirs: err = %v", err)
			}
		})
	}
}

func TestMergeComposeAnchorClash(t *testing.T) {
	base := "services:\n  a:\n    image: x:1\n"
	theirs := "x-env: &env\n  A: 1\nservices:\n  a:\n    image: x:2\n    environment: *env\n"
	ours := "x-mine: &env\n  B: 2\nservices:\n  a:\n    image: x:1\n"
	_, err := MergeCompose([]byte(base), []byte(theirs), []byte(ours))
	if err == nil || !strings.Contains(err.Error(), "nothing was written") || !strings.Contains(err.Error(), "anchor &env") {
		t.Fatalf("an anchor defined twice must fail closed, got %v", err)
	}
}

func TestMergeConfigFile(t *testing.T) {
	env, err := MergeConfigFile("/srv/app/.env", []byte("A=1\n"), []byte("A=1\nB=2\n"), []byte("A=3\n"), nil)
	if err != nil || string(env.Merged) != "A=3\nB=2\n" {
		t.Errorf(".env: %q, %v", env.Merged, err)
	}
	y, err := MergeConfigFile("conf/app.yaml", []byte("a: 1\n"), []byte("a: 1\nb: 2\n"), []byte("a: 3\n"), nil)
	if err != nil || !strings.Contains(string(y.Merged), "b: 2") || !strings.Contains(string(y.Merged), "a: 3") {
		t.Errorf("yaml: %q, %v", y.Merged, err)
	}
	tm, err := MergeConfigFile("bot_config.toml", []byte("a = 1\n"), []byte("a = 1\nb = 2\n"), []byte("a = 3\n"), nil)
	if err != nil || !strings.Contains(string(tm.Merged), "b = 2") {
		t.Errorf("toml: %q, %v", tm.Merged, err)
	}
	if _, err := MergeConfigFile("docker-compose.yml", nil, []byte("a: 1\n"), []byte("a: 1\n"), nil); err == nil || !strings.Contains(err.Error(), "MergeCompose") {
		t.Errorf("compose: %v", err)
	}
	if _, err := MergeConfigFile("notes.txt", nil, nil, nil, nil); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestIsComposeFile(t *testing.T) {
	for name, want := range map[string]bool{
		"compose.yaml": true, "docker-compose.yml": true, "compose.override.yaml": true, "docker-compose.prod.yaml": true,
		"config.yaml": false, "compose.toml": false, "bot_config.yml": false,
	} {
		if IsComposeFile(name) != want {
			t.Errorf("IsComposeFile(%q) = %v", name, !want)
		}
	}
}

func FuzzMergeCompose(f *testing.F) {
	for _, n := range []string{"difylike", "demolike"} {
		f.Add(readFixture(f, n+"-base.yaml"), readFixture(f, n+"-theirs.yaml"), readFixture(f, n+"-ours.yaml"))
	}
	f.Add([]byte("a: &x {b: 1}\nc: *x\n"), []byte("a: &x {b: 2}\nc: *x\nd: [1, 2]\n"), []byte("a: &x {b: 1, e: 3}\nc: {<<: *x}\n"))
	f.Fuzz(func(t *testing.T, base, theirs, ours []byte) {
		r, err := MergeCompose(base, theirs, ours)
		if err != nil {
			return
		}
		var v any
		if err := yaml.Unmarshal(r.Merged, &v); err != nil {
			t.Fatalf("merged output does not parse: %v\n%s", err, r.Merged)
		}
		_ = r.Diff(ours, "compose.yaml")
	})
}

// Top-level blocks, placement of new keys, and keyed lists in mapping form.
func TestMergeComposeBlocks(t *testing.T) {
	base := "x-logging: &logging\n  driver: json-file\nservices:\n  app:\n    image: a:1\n    logging: *logging\n    labels:\n      - tier=web\nvolumes:\n  data: {}\n"
	theirs := "x-logging: &logging\n  driver: json-file\n  options:\n    max-size: 10m\nx-health: &health\n  interval: 30s\nservices:\n  app:\n    image: a:2\n    logging: *logging\n    healthcheck: *health\n    labels:\n      - tier=web\n      - team=core\nvolumes:\n  data: {}\n  cache: {}\nnetworks:\n  back: {}\n"
	ours := "x-logging: &logging\n  driver: json-file\nservices:\n  app:\n    image: a:1\n    logging: *logging\n    restart: always # mine\n    labels:\n      - tier=web\n      - owner=me\nvolumes:\n  data: {}\n"
	r := mustMerge(t, []byte(base), []byte(theirs), []byte(ours))
	out := string(r.Merged)
	v := decoded(t, r.Merged)
	if got := at(v, "services", "app", "logging", "options", "max-size"); got != "10m" {
		t.Errorf("logging (through an alias) lacks upstream's option: %v\n%s", got, out)
	}
	if got := at(v, "services", "app", "healthcheck", "interval"); got != "30s" {
		t.Errorf("healthcheck from the new x-health block: %v\n%s", got, out)
	}
	if strings.Index(out, "x-health:") > strings.Index(out, "services:") {
		t.Errorf("the new anchored block must come before the services using it:\n%s", out)
	}
	if !strings.Contains(out, "    logging: *logging\n    healthcheck: *health\n    restart: always # mine\n") {
		t.Errorf("healthcheck must follow its upstream predecessor (logging):\n%s", out)
	}
	if got := at(v, "services", "app", "labels"); !reflect.DeepEqual(got, []any{"tier=web", "team=core", "owner=me"}) {
		t.Errorf("labels = %v", got)
	}
	if at(v, "volumes", "cache") == nil || at(v, "networks", "back") == nil {
		t.Errorf("new volume or network missing:\n%s", out)
	}
	loadProject(t, r.Merged, nil)
	checkIdempotent(t, []byte(base), []byte(theirs), r.Merged)

	// Upstream drops the x-health block and its use; the admin never touched either.
	dropped := mustMerge(t, []byte(theirs), []byte(base), r.Merged)
	if strings.Contains(string(dropped.Merged), "x-health") || strings.Contains(string(dropped.Merged), "cache") {
		t.Errorf("removed blocks are still there:\n%s", dropped.Merged)
	}
	if !strings.Contains(string(dropped.Merged), "restart: always # mine") || !strings.Contains(string(dropped.Merged), "owner=me") {
		t.Errorf("the admin's keys went with upstream's removal:\n%s", dropped.Merged)
	}
}

func TestMergeComposeEnvMapping(t *testing.T) {
	base := "services:\n  app:\n    image: a:1\n    environment:\n      PORT: 5001\n      MODE: api\n"
	theirs := "services:\n  app:\n    image: a:1\n    environment:\n      - PORT=5001\n      - MODE=server\n      - EXTRA=1\n"
	ours := "services:\n  app:\n    image: a:1\n    environment:\n      PORT: 6001 # mine\n      MODE: api\n      OWN: \"x\"\n"
	r := mustMerge(t, []byte(base), []byte(theirs), []byte(ours))
	env := at(decoded(t, r.Merged), "services", "app", "environment")
	want := map[string]any{"PORT": 6001, "MODE": "server", "EXTRA": "1", "OWN": "x"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("environment = %#v, want %#v\n%s", env, want, r.Merged)
	}
	if !strings.Contains(string(r.Merged), "PORT: 6001 # mine") {
		t.Errorf("the admin's line is rewritten:\n%s", r.Merged)
	}
	checkIdempotent(t, []byte(base), []byte(theirs), r.Merged)
}

func TestMergeComposeCRLF(t *testing.T) {
	crlf := func(b []byte) []byte { return []byte(strings.ReplaceAll(string(b), "\n", "\r\n")) }
	base, theirs, ours := readFixture(t, "demolike-base.yaml"), readFixture(t, "demolike-theirs.yaml"), crlf(readFixture(t, "demolike-ours.yaml"))
	r := mustMerge(t, base, theirs, ours)
	if strings.Count(string(r.Merged), "\n") != strings.Count(string(r.Merged), "\r\n") {
		t.Errorf("mixed line endings:\n%q", r.Merged)
	}
	lf := mustMerge(t, base, theirs, readFixture(t, "demolike-ours.yaml"))
	if string(r.Merged) != string(crlf(lf.Merged)) {
		t.Errorf("CRLF merge differs from the LF one:\n%q\n%q", r.Merged, lf.Merged)
	}
}
