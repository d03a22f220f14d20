package upgrade

import (
	"context"
	"crypto/md5" //nolint:gosec // the app's own check is an MD5
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/steps"
)

func md5hex(s string) string {
	sum := md5.Sum([]byte(s)) //nolint:gosec // the app's own check is an MD5
	return hex.EncodeToString(sum[:])
}

const (
	oldEULA    = "# EULA\nversion 1\n"
	newEULA    = "# EULA\nversion 2: the bot may store your messages\n"
	privacyDoc = "# Privacy\nunchanged\n"
)

// maibotTerms is a maibot stack on 0.10.0 whose compose file holds the
// agreements, and whose 0.11.0 image ships eula (and the same privacy).
func maibotTerms(t *testing.T, eula string) *fixture {
	t.Helper()
	f := newFixture(t, "maibot", "0.10.0")
	core := f.env.Start.Stack.Model.Services["core"]
	e, p := md5hex(oldEULA), md5hex(privacyDoc)
	core.Environment = map[string]*string{"EULA_AGREE": &e, "PRIVACY_AGREE": &p}
	f.env.Start.Stack.Model.Services["core"] = core
	writeFile(t, f.env.Project.Files[0], "services:\n  core:\n    image: sengokucola/maibot:0.10.0\n    environment:\n      - EULA_AGREE="+e+" # 同意EULA\n      - PRIVACY_AGREE="+p+"\n")
	f.docker.files = map[string][]byte{
		"sengokucola/maibot:0.11.0 /MaiMBot/EULA.md":    []byte(eula),
		"sengokucola/maibot:0.11.0 /MaiMBot/PRIVACY.md": []byte(privacyDoc),
	}
	return f
}

func TestTermsStep(t *testing.T) {
	t.Run("unchanged documents: skipped", func(t *testing.T) {
		f := maibotTerms(t, oldEULA)
		s := &termsStep{env: f.env, hop: "0.11.0"}
		if skip, why := s.Skip(context.Background()); !skip || !strings.Contains(why, "already agreed to") {
			t.Errorf("skip %v %q", skip, why)
		}
	})
	t.Run("a changed EULA is shown, agreed, then written with the version", func(t *testing.T) {
		f := maibotTerms(t, newEULA)
		j, err := steps.NewJournal(f.env.BackupDir, steps.RunInfo{ID: "run1"})
		if err != nil {
			t.Fatal(err)
		}
		f.env.Journal = j
		s := &termsStep{env: f.env, hop: "0.11.0"}
		if skip, _ := s.Skip(context.Background()); skip {
			t.Fatal("skipped")
		}
		prompt, err := s.Prompt(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		saved := filepath.Join(f.env.BackupDir, "terms", "proj-0.11.0-EULA.md")
		if !strings.Contains(prompt, "The EULA changed in 0.11.0 (EULA_AGREE: "+md5hex(oldEULA)+" → "+md5hex(newEULA)+")") ||
			!strings.Contains(prompt, "the bot may store your messages") || !strings.Contains(prompt, saved) || strings.Contains(prompt, "privacy") {
			t.Errorf("prompt:\n%s", prompt)
		}
		if b, err := os.ReadFile(saved); err != nil || string(b) != newEULA {
			t.Errorf("saved %q %v", b, err)
		}
		if err := s.Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := steps.ReadJournal(j.Path)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Agreements) != 1 || st.Agreements[0].Key != "EULA_AGREE" || st.Agreements[0].New != md5hex(newEULA) {
			t.Errorf("journal agreements %+v", st.Agreements)
		}
		// Nothing is written before the config step; then both the tag
		// and the agreement, the rest of the file as it was.
		if b, _ := os.ReadFile(f.env.Project.Files[0]); strings.Contains(string(b), md5hex(newEULA)) {
			t.Error("the agreement was written by the terms step")
		}
		if err := (&configStep{env: f.env, from: "0.10.0", to: "0.11.0"}).Run(context.Background(), f.sink); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(f.env.Project.Files[0])
		want := "services:\n  core:\n    image: sengokucola/maibot:0.11.0\n    environment:\n      - EULA_AGREE=" + md5hex(newEULA) + " # 同意EULA\n      - PRIVACY_AGREE=" + md5hex(privacyDoc) + "\n"
		if string(b) != want {
			t.Errorf("compose\n%s\nwant\n%s", b, want)
		}
		if got := f.env.pendingAgreements(); len(got) != 1 || got[0].Old != got[0].New {
			t.Errorf("agreements not marked written: %+v", got)
		}
	})
	t.Run("the document cannot be read from the image", func(t *testing.T) {
		f := maibotTerms(t, newEULA)
		delete(f.docker.files, "sengokucola/maibot:0.11.0 /MaiMBot/EULA.md")
		s := &termsStep{env: f.env, hop: "0.11.0"}
		if skip, _ := s.Skip(context.Background()); skip {
			t.Fatal("skipped")
		}
		_, err := s.Prompt(context.Background())
		wantErr(t, err, "read the EULA of 0.11.0", "Nothing was changed")
		wantErr(t, s.Run(context.Background(), f.sink), "read the EULA of 0.11.0")
	})
	t.Run("no agreement set yet: where to write it is unknown", func(t *testing.T) {
		f := maibotTerms(t, newEULA)
		core := f.env.Start.Stack.Model.Services["core"]
		delete(core.Environment, "EULA_AGREE")
		f.env.Start.Stack.Model.Services["core"] = core
		s := &termsStep{env: f.env, hop: "0.11.0"}
		s.Skip(context.Background())
		wantErr(t, s.Run(context.Background(), f.sink), "EULA_AGREE is not set for service core", "Nothing was changed")
	})
	t.Run("the agreement is set, but not literally in a file", func(t *testing.T) {
		f := maibotTerms(t, newEULA)
		writeFile(t, f.env.Project.Files[0], "services:\n  core:\n    image: sengokucola/maibot:0.10.0\n    env_file: bot.env\n")
		s := &termsStep{env: f.env, hop: "0.11.0"}
		s.Skip(context.Background())
		wantErr(t, s.Run(context.Background(), f.sink), "not literally in .env or the compose files")
	})
	t.Run("a resumed run does not ask again", func(t *testing.T) {
		f := maibotTerms(t, newEULA)
		f.env.RestoreAgreements([]steps.Agreement{{Key: "EULA_AGREE", Old: md5hex(oldEULA), New: md5hex(newEULA)}})
		if skip, _ := (&termsStep{env: f.env, hop: "0.11.0"}).Skip(context.Background()); !skip {
			t.Error("asked again")
		}
	})
}
