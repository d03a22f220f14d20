package releases

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

func appProfile(t *testing.T, name string) *profile.Profile {
	t.Helper()
	for _, p := range profile.Builtin() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no built-in profile %s", name)
	return nil
}

// mattermostNote is a GitHub release body in Mattermost's style: a link to
// the changelog, and the docs' admonition for breaking changes.
func mattermostNote(v, breaking string) Note {
	body := "Mattermost Server v" + v + " is out. See the [changelog](https://docs.mattermost.com/product-overview/mattermost-server-releases.html) for the full list of changes.\n\n" +
		"### Improvements\n- Improved performance of channel switching.\n\n### Bug Fixes\n- Fixed an issue where the unread badge stayed after reading a thread.\n"
	if breaking != "" {
		body = "```{Attention}\n**Breaking Changes**\n - " + breaking + "\n```\n\n" + body
	}
	return Note{Version: "v" + v, Title: "v" + v, Body: body}
}

// simpleloginNote is a release body as release-changelog-builder writes it
// for simple-login/app: categories by PR label, no breaking category.
func simpleloginNote(v string) Note {
	return Note{Version: v, Body: "## 🚀 Features\n- Allow custom domains to catch all aliases #" + "2101\n\n## 🐛 Fixes\n- Fix the alias search when the note is empty #2102\n\n<details><summary>Uncategorized</summary>\n\n- Bump dependencies #2103\n</details>\n"}
}

// difyNote is a Dify release body: highlights, an upgrade guide, What's Changed.
func difyNote(v, guide string) Note {
	body := "## 🚀 Highlights\n- Faster knowledge retrieval for large datasets.\n\n"
	if guide != "" {
		body += guide + "\n\n"
	}
	body += "## What's Changed\n- fix: workflow run list pagination by @someone in https://github.com/langgenius/dify/pull/1234\n"
	return Note{Version: v, Body: body}
}

// nightingaleNote is a hand-written Nightingale release: changes, then
// "how to upgrade:" with SQL when the schema changed.
func nightingaleNote(v, sql string) Note {
	body := "- feat: support alert mute by datasource\n- fix: dashboard variables lost after import\n"
	if sql != "" {
		body += "\nhow to upgrade:\n\n```sql\n" + sql + "\n```\n"
	}
	return Note{Version: v, Body: body}
}

func TestPlanAppRules(t *testing.T) {
	pg := func(v string) DBFacts { return DBFacts{Engine: "postgresql", ServerVersion: v} }
	mmNotes := []Note{
		mattermostNote("5.31.0", ""), mattermostNote("5.37.0", ""), mattermostNote("5.37.10", ""),
		mattermostNote("6.0.0", "Mattermost v6.0 runs long database migrations; plan for downtime."),
		mattermostNote("6.3.0", ""), mattermostNote("6.3.5", ""), mattermostNote("7.0.0", ""), mattermostNote("7.1.0", ""),
		mattermostNote("10.5.0", ""), mattermostNote("10.5.2", ""), mattermostNote("10.5.9", ""),
		mattermostNote("10.6.0", "The minimum PostgreSQL version is now v13."),
		mattermostNote("10.11.0", ""), mattermostNote("10.11.17", ""), mattermostNote("10.11.20", ""),
		mattermostNote("11.0.0", "Support for PostgreSQL v13 has been removed. The new minimum PostgreSQL version is v14+."),
		mattermostNote("11.7.0", ""), mattermostNote("11.7.2", ""), mattermostNote("11.7.3", ""), mattermostNote("11.8.0", ""),
	}
	slNotes := []Note{
		simpleloginNote("1.0.0"), simpleloginNote("1.0.5"), simpleloginNote("2.0.0"), simpleloginNote("2.1.0"),
		simpleloginNote("2.1.2"), simpleloginNote("3.0.0"), simpleloginNote("3.4.0"),
		simpleloginNote("v4.70.0"), simpleloginNote("v4.72.0"), simpleloginNote("v4.81.6"),
	}
	difyNotes := []Note{
		difyNote("0.15.3", ""),
		difyNote("1.0.0", "## Plugin Migration\n\n!! Note, if you come from a 0.x release you need to move your providers to plugins after the upgrade:\n\n```bash\ndocker compose exec api flask extract-plugins --workers=20\n```"),
		difyNote("1.9.2", "## ⚠️ Upgrade guide\n\nThe weaviate client moved to v4: **Weaviate 1.27.0 or higher is required**."),
		difyNote("1.13.3", ""),
	}
	n9eNotes := []Note{
		nightingaleNote("v5.8.0", ""), nightingaleNote("v6.0.0", ""),
		nightingaleNote("v6.0.0-ga.2", "alter table `recording_rule` add datasource_ids varchar(255) default '';"),
		nightingaleNote("v6.1.0", ""), nightingaleNote("v7.0.0", ""), nightingaleNote("v8.4.1", ""), nightingaleNote("v9.1.1", ""),
	}
	data, err := os.ReadFile("testdata/apps/maibot-changelog.md")
	if err != nil {
		t.Fatal(err)
	}
	maiNotes, err := ParseChangelog(data)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		app      string
		notes    []Note
		from, to string
		db       DBFacts
		hops     []string
		stops    []bool
		blockers []string // substrings, one per blocker, in order
		manual   map[string][]string
		warnOn   string // a hop that must carry at least one warning
	}{
		{
			name: "mattermost ESR to ESR", app: "mattermost", notes: mmNotes, from: "10.5.2", to: "v11.8.0", db: pg("16.4"),
			hops: []string{"v10.5.9", "v10.11.20", "v11.7.3", "v11.8.0"}, stops: []bool{true, true, true, false},
			manual: map[string][]string{"v11.7.3": {"Bleve"}}, warnOn: "v11.7.3",
		},
		{
			name: "mattermost 5.x goes through 5.37.10 before 7", app: "mattermost", notes: mmNotes, from: "5.31.0", to: "v7.1.0", db: pg("13"),
			hops: []string{"v5.37.10", "v6.3.5", "v7.1.0"}, stops: []bool{true, true, false},
		},
		// The target keeps the spelling it was given ("11.8.0" stays
		// without the "v" of the GitHub tags), so these pass it as tagged.
		{
			name: "mattermost blocked range refused", app: "mattermost", notes: mmNotes, from: "10.11.20", to: "v11.7.2", db: pg("16"),
			hops: []string{"v11.7.2"}, stops: []bool{false}, blockers: []string{"migration numbers"},
		},
		{
			name: "mattermost 11.7.3 is past the blocked range", app: "mattermost", notes: mmNotes, from: "10.11.20", to: "v11.7.3", db: pg("16"),
			hops: []string{"v11.7.3"}, stops: []bool{false},
		},
		{
			// The blocked range applies to 11.x targets only: the ESR patch
			// stop 10.11.17 → 10.11.20 is allowed, and 11.7.3 is past it.
			name: "mattermost ESR patch stop inside the blocked range's source", app: "mattermost", notes: mmNotes, from: "10.11.17", to: "v11.7.3", db: pg("16"),
			hops: []string{"v10.11.20", "v11.7.3"}, stops: []bool{true, false},
		},
		{
			name: "mattermost 10.6+ needs PostgreSQL 13", app: "mattermost", notes: mmNotes, from: "10.5.2", to: "v10.11.20", db: pg("12.17"),
			hops: []string{"v10.5.9", "v10.11.20"}, stops: []bool{true, false}, blockers: []string{"PostgreSQL 13"},
		},
		{
			name: "mattermost 11 needs PostgreSQL 14", app: "mattermost", notes: mmNotes, from: "10.11.20", to: "v11.8.0", db: pg("PostgreSQL 13.9 on x86_64-pc-linux-musl"),
			hops: []string{"v11.7.3", "v11.8.0"}, stops: []bool{true, false}, blockers: []string{"PostgreSQL 14", "PostgreSQL 14"},
		},
		{
			name: "simplelogin stops at 1.0.5 and 2.1.2", app: "simplelogin", notes: slNotes, from: "1.0.0", to: "3.4.0", db: pg("12.1"),
			hops: []string{"1.0.5", "2.1.2", "3.4.0"}, stops: []bool{true, true, false},
			manual: map[string][]string{"2.1.2": {"shell.py", "GNUPGHOME"}, "3.4.0": {"data-fix"}},
		},
		{
			name: "simplelogin 2.x within the major needs no stop", app: "simplelogin", notes: slNotes, from: "1.0.5", to: "2.1.0", db: pg("12.1"),
			hops: []string{"2.1.0"}, stops: []bool{false},
		},
		{
			name: "simplelogin from 2.1.0 to v4", app: "simplelogin", notes: slNotes, from: "2.1.0", to: "v4.81.6", db: pg("17.7"),
			hops: []string{"2.1.2", "v4.81.6"}, stops: []bool{true, false},
		},
		{
			name: "simplelogin v4 line keeps the v", app: "simplelogin", notes: slNotes, from: "v4.70.0", to: "latest", db: pg("17.7"),
			hops: []string{"v4.81.6"}, stops: []bool{false},
		},
		{
			name: "dify crosses 1.0.0 and 1.9.2 in one hop", app: "dify", notes: difyNotes, from: "0.15.3", to: "1.13.3", db: pg("15.8"),
			hops: []string{"1.13.3"}, stops: []bool{false},
			manual: map[string][]string{"1.13.3": {"extract-plugins", "Weaviate 1.27.0"}}, warnOn: "1.13.3",
		},
		{
			name: "nightingale v5 to v9, pre-releases are no stops", app: "nightingale", notes: n9eNotes, from: "v5.8.0", to: "latest", db: pg("12.20"),
			hops: []string{"v9.1.1"}, stops: []bool{false},
			manual: map[string][]string{"v9.1.1": {"n9e-cli --upgrade", "migrate.sql"}},
		},
		{
			name: "maibot 0.10 to 1.2", app: "maibot", notes: maiNotes, from: "0.10.3", to: "1.2.1", db: DBFacts{Engine: "sqlite"},
			hops: []string{"1.2.1"}, stops: []bool{false},
			manual: map[string][]string{"1.2.1": {"EULA_AGREE", "MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED"}}, warnOn: "1.2.1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, err := PlanPath(appProfile(t, tt.app), tt.notes, tt.from, tt.to, tt.db)
			if err != nil {
				t.Fatal(err)
			}
			if got := hopVersions(path); !slices.Equal(got, tt.hops) {
				t.Fatalf("hops = %v, want %v", got, tt.hops)
			}
			for i, h := range path.Hops {
				if h.RequiredStop != tt.stops[i] {
					t.Errorf("hop %s: required stop %v, want %v", h.Version, h.RequiredStop, tt.stops[i])
				}
				if h.RequiredStop && h.Reason == "" {
					t.Errorf("stop %s has no reason", h.Version)
				}
				for _, want := range tt.manual[h.Version] {
					if !slices.ContainsFunc(h.ManualActions, func(a string) bool { return strings.Contains(a, want) }) {
						t.Errorf("hop %s: no manual action mentioning %q in %q", h.Version, want, h.ManualActions)
					}
				}
				if h.Version == tt.warnOn && len(h.Warnings) == 0 {
					t.Errorf("hop %s carries no warning from its notes", h.Version)
				}
			}
			if path.Blocked != (len(tt.blockers) > 0) || len(path.Blockers) != len(tt.blockers) {
				t.Fatalf("blocked %v, blockers %q, want %q", path.Blocked, path.Blockers, tt.blockers)
			}
			for i, want := range tt.blockers {
				if !strings.Contains(path.Blockers[i], want) {
					t.Errorf("blocker %q does not say %q", path.Blockers[i], want)
				}
			}
		})
	}
}
