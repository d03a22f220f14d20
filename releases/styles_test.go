package releases

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestStyles reads notes written for upshift in the formats real projects
// use (RST, MyST, Docusaurus, MkDocs, MDX, GitHub alerts, <details>,
// Towncrier, Keep a Changelog, Conventional Commits, setext changelogs)
// and checks what reaches the admin: each expected warning (kind and a
// phrase of its headline), nothing more, and no decoy in any text.
func TestStyles(t *testing.T) {
	type want struct {
		kind Kind
		head string
	}
	tests := []struct {
		file, version string
		want          []want
		decoys        []string
	}{
		{"rst-changelog.rst", "4.2.0", []want{
			{KindBreaking, "`CACHE_BACKEND` setting has been renamed"},
			{KindManualAction, "run the database migrations"},
			{KindRequiredStop, "upgrade to 4.1.3 first"},
		}, []string{"direct upgrade", "dark theme", "empty PO files"}},
		{"myst-attention.md", "11.0.0", []want{
			{KindBreaking, "`FileSettings.MaxImageResolution` setting is removed"},
		}, []string{"job scheduler", "websocket", "earlier than v10.5"}},
		{"docusaurus.mdx", "3.0.0", []want{
			{KindManualAction, "rewrites the `events` table"},
			{KindManualAction, "`LEGACY_AUTH` environment variable is no longer read"},
		}, []string{"audit log", "follow the migration", "Thanks"}},
		{"mkdocs-admonition.md", "4.0.0", []want{
			{KindRequirement, "requires PostgreSQL 14"},
			{KindManualAction, "`DEFAULT_DASHBOARD` parameter must now be set"},
		}, []string{"20 objects", "grouped"}},
		{"github-alerts.md", "2.0.0", []want{
			{KindBreaking, "`/api/v1/export` endpoint has been removed"},
			{KindManualAction, "Back up the `data` volume"},
			{KindManualAction, "Stop the stack"},
			{KindManualAction, "Pull the new images"},
		}, []string{"Faster search", "icon set", "typo"}},
		{"conventional.md", "2.2.10", []want{
			{KindBreaking, "Remove Pocket integration"},
			{KindDeprecation, "Remove deprecated config options"},
			{KindManualAction, "drops the `icon_url`"},
			{KindBreaking, "`LISTEN_ADDR` option no longer accepts"},
		}, []string{"sidebar icons", "golang.org/x/net", "simplify"}},
		{"setext-changelog.md", "2.2.10", []want{
			{KindDeprecation, "deprecated `SERVER_TIMING_HEADER` option"},
		}, []string{"keyboard shortcut"}},
		{"admin-steps.md", "3.0.0", []want{
			{KindManualAction, "requires the `charset` param"},
			{KindManualAction, "Configuration changes needed"},
			{KindRequiredStop, "first upgrade to 2.1.2"},
			{KindRequiredStop, "must be on 2.0 or later before"},
			{KindRequirement, "requires PHP 8.2"},
			{KindRequirement, "Redis 7 and later"},
		}, []string{"French"}},
		{"negation.md", "1.5.0", nil, []string{"No breaking changes", "Reverted", "no action is required", "registerHook", "legacyFetch", "知识库", "接口不变"}},
		{"scope.md", "5.0.0", []want{
			{KindManualAction, "`SESSION_SECRET` key must be set"},
			{KindBreaking, "`GET /api/items` now returns at most 100"},
			{KindBreaking, "`theme` query parameter is gone"},
			{KindBreaking, "Search index: Rebuilt on first start"},
		}, []string{"dashboard loads faster", "editor supports tables", "Dark mode", "Markdown preview"}},
		{"keepachangelog.md", "3.1.0", []want{
			{KindDeprecation, "`legacy-ui` option"},
			{KindDeprecation, "Support for SQLite databases"},
		}, []string{"CSV", "Time zones"}},
		{"subject-headings.md", "4.0.0", []want{
			{KindBreaking, "`GET /api/v4/users/search`: Now returns at most 100 results"},
			{KindBreaking, "`ServiceSettings.SiteURL`: Is now required"},
			{KindDeprecation, "`POST /api/v4/hooks/incoming`: Removed the deprecated `channel_name` field"},
		}, []string{"pinned posts"}},
		{"towncrier", "1.9.0", []want{
			{KindDeprecation, "`federation_domain_whitelist` option is removed"},
			{KindDeprecation, "`--config-path` flag"},
		}, []string{"event cache", "typo"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			notes, err := ReadNotes(filepath.Join("testdata", "styles", tt.file), tt.version)
			if err != nil {
				t.Fatal(err)
			}
			var ws []Warning
			for _, n := range notes {
				ws = append(ws, Extract(n)...)
			}
			for _, w := range tt.want {
				found := false
				for _, g := range ws {
					if strings.Contains(g.Headline, w.head) {
						found = true
						if g.Kind != w.kind {
							t.Errorf("%q: kind %s, want %s", g.Headline, g.Kind, w.kind)
						}
					}
				}
				if !found {
					t.Errorf("no headline with %q", w.head)
				}
			}
			if len(ws) != len(tt.want) {
				t.Errorf("%d warnings, want %d", len(ws), len(tt.want))
			}
			for _, g := range ws {
				if runeLen(g.Headline) > HeadlineMax || strings.TrimSpace(g.Headline) == "" {
					t.Errorf("headline %q: empty or over %d characters", g.Headline, HeadlineMax)
				}
				for _, d := range tt.decoys {
					if strings.Contains(g.Text, d) {
						t.Errorf("decoy %q reported in %s %q", d, g.Kind, g.Text)
					}
				}
			}
			if t.Failed() {
				for _, g := range ws {
					t.Logf("got %s %q %v", g.Kind, g.Headline, g.Section)
				}
			}
		})
	}
}
