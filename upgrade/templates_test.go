package upgrade

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

const (
	tplCompose110 = `services:
  api:
    image: upshift-demo/app:${APP_VERSION}
    ports:
      - "127.0.0.1:${API_PORT:-8080}:8080"
    environment:
      NOTES_PAGE_SIZE: "20"
`
	tplCompose200 = `services:
  api:
    image: upshift-demo/app:${APP_VERSION}
    ports:
      - "127.0.0.1:${API_PORT:-8080}:8080"
    environment:
      NOTES_PAGE_SIZE: "50"
  scheduler:
    image: upshift-demo/app:${APP_VERSION}
    command: ["scheduler"]
`
)

func TestConfigComposeTemplate(t *testing.T) {
	setup := func(t *testing.T, admin string) (*fixture, string) {
		f := newFixture(t, "upshift-demo", "1.1.0")
		f.env.BuiltinEnvTemplate = demoTemplate
		writeFile(t, f.env.EnvPath(), "APP_VERSION=1.1.0\nNOTES_SECRET=admin-secret-123\n")
		f.templates = map[string][]byte{"compose.yaml@1.1.0": []byte(tplCompose110), "compose.yaml@2.0.0": []byte(tplCompose200)}
		path := filepath.Join(f.env.Dir(), "compose.yaml")
		writeFile(t, path, admin)
		return f, path
	}
	t.Run("the admin's port and env are kept, the new service and default come in, the diff is shown", func(t *testing.T) {
		admin := strings.Replace(tplCompose110, `"127.0.0.1:${API_PORT:-8080}:8080"`, `"0.0.0.0:9090:8080" # my port`, 1) + "      MY_OWN: \"yes\"\n"
		f, path := setup(t, admin)
		s := &configStep{env: f.env, from: "1.1.0", to: "2.0.0"}
		diff, err := s.Prompt(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"+  scheduler:", `-      NOTES_PAGE_SIZE: "20"`, `+      NOTES_PAGE_SIZE: "50"`, "compose.yaml: compose merge:"} {
			if !strings.Contains(diff, want) {
				t.Errorf("the diff lacks %q:\n%s", want, diff)
			}
		}
		if err := s.Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		got := string(b)
		for _, want := range []string{`"0.0.0.0:9090:8080" # my port`, `MY_OWN: "yes"`, `NOTES_PAGE_SIZE: "50"`, "scheduler:", `command: ["scheduler"]`} {
			if !strings.Contains(got, want) {
				t.Errorf("merged compose lacks %q:\n%s", want, got)
			}
		}
		if !f.sink.has("✓ wrote " + path + " (merged with the 2.0.0 template)") {
			t.Errorf("log:\n%s", f.sink.text())
		}
		noTempFiles(t, f.env.Dir())
	})
	t.Run("a setting both changed stops before anything is written, both values shown", func(t *testing.T) {
		admin := strings.Replace(tplCompose110, `NOTES_PAGE_SIZE: "20"`, `NOTES_PAGE_SIZE: "30"`, 1)
		f, path := setup(t, admin)
		envBefore, _ := os.ReadFile(f.env.EnvPath())
		s := &configStep{env: f.env, from: "1.1.0", to: "2.0.0"}
		_, err := s.Prompt(context.Background())
		wantErr(t, err, "Nothing was changed", "services.api.environment.NOTES_PAGE_SIZE", `"30"`, `"50"`, `"20"`, "Fix:")
		if b, _ := os.ReadFile(path); string(b) != admin {
			t.Errorf("the compose file changed:\n%s", b)
		}
		if b, _ := os.ReadFile(f.env.EnvPath()); string(b) != string(envBefore) {
			t.Errorf(".env changed:\n%s", b)
		}
	})
	t.Run("an unknown old template merges two ways: nothing of the admin's removed", func(t *testing.T) {
		admin := tplCompose110 + "  proxy:\n    image: nginx:1.27\n"
		f, path := setup(t, admin)
		delete(f.templates, "compose.yaml@1.1.0")
		f.templates["compose.yaml@2.0.0"] = []byte(tplCompose200)
		s := &configStep{env: f.env, from: "1.1.0", to: "2.0.0"}
		if _, err := s.Prompt(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		if got := string(b); !strings.Contains(got, "proxy:") || !strings.Contains(got, "scheduler:") || !strings.Contains(got, `NOTES_PAGE_SIZE: "20"`) {
			t.Errorf("two-way merge:\n%s", got)
		}
		if !strings.Contains(strings.Join(s.templateNotes, "\n"), "merged two ways") {
			t.Errorf("notes %q", s.templateNotes)
		}
	})
	t.Run("--templates DIR replaces the profile's source", func(t *testing.T) {
		f, path := setup(t, tplCompose110)
		f.templates = nil
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "1.1.0", "compose.yaml"), tplCompose110)
		writeFile(t, filepath.Join(dir, "2.0.0", "compose.yaml"), tplCompose200)
		f.env.TemplateDir = dir
		s := &configStep{env: f.env, from: "1.1.0", to: "2.0.0"}
		if _, err := s.Prompt(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != tplCompose200 {
			t.Errorf("an untouched file becomes the new release's byte for byte:\n%s", b)
		}
		f.env.TemplateDir = t.TempDir()
		f.env.BuiltinEnvTemplate = func(string) ([]byte, error) { return demoTemplate("2.0.0") }
		_, err := (&configStep{env: f.env, from: "2.0.0", to: "2.1.0"}).Prompt(context.Background())
		wantErr(t, err, "no 2.1.0/compose.yaml in", "--templates DIR", "Nothing was changed")
	})
}

func TestConfigImageTemplates(t *testing.T) {
	const (
		tpl1  = "[inner]\nversion = \"8.14.37\" # 配置文件版本\n\n[bot]\nplatform = \"qq\"\nqq_account = 0 # 机器人账号\nnickname = \"麦麦\"\n"
		tpl2  = "[inner]\nversion = \"8.15.0\" # 配置文件版本\n\n[bot]\nplatform = \"qq\"\naccount = 0 # 机器人账号\nnickname = \"麦麦\"\nalias_names = [] # 别名\n"
		admin = "[inner]\nversion = \"8.14.37\" # 配置文件版本\n\n[bot]\nplatform = \"qq\"\n# 我的账号\nqq_account = 10001 # 机器人账号\nnickname = \"小麦\"\n"
	)
	f := newFixture(t, "maibot", "0.10.0")
	p := *f.env.Profile
	p.Templates = append(p.Templates[:0:0], p.Templates...)
	p.Templates[0].Renames = append(p.Templates[0].Renames, templateRenameFor("bot.qq_account", "bot.account", "0.11.0"))
	f.env.Profile = &p
	writeFile(t, f.env.Project.Files[0], "services:\n  core:\n    image: sengokucola/maibot:0.10.0\n")
	bot := filepath.Join(f.env.Dir(), "docker-config", "mmc", "bot_config.toml")
	writeFile(t, bot, admin)
	f.docker.files = map[string][]byte{
		f.env.Start.Containers["core"].ImageID + " /MaiMBot/template/bot_config_template.toml": []byte(tpl1),
		"sengokucola/maibot:0.11.0 /MaiMBot/template/bot_config_template.toml":                 []byte(tpl2),
	}
	s := &configStep{env: f.env, from: "0.10.0", to: "0.11.0"}
	if _, err := s.Prompt(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background(), f.sink); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(bot)
	got := string(b)
	for _, want := range []string{`version = "8.15.0"`, "account = 10001", `nickname = "小麦"`, "alias_names = []", "# 我的账号"} {
		if !strings.Contains(got, want) {
			t.Errorf("bot_config.toml lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "qq_account") {
		t.Errorf("the renamed key is still there:\n%s", got)
	}
	// model_config.toml has no template in either image: left as it is.
	if !strings.Contains(strings.Join(s.templateNotes, "\n"), "model_config.toml: the 0.11.0 image has no /MaiMBot/template/model_config_template.toml") {
		t.Errorf("notes %q", s.templateNotes)
	}
}

func templateRenameFor(from, to, version string) profile.TemplateRename {
	return profile.TemplateRename{From: from, To: to, Version: version}
}
