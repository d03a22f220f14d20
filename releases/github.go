package releases

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultGitHubAPI is the GitHub REST API base URL.
const DefaultGitHubAPI = "https://api.github.com"

// maxBody bounds one API response (a page of 100 releases is far smaller).
const maxBody = 32 << 20

// GitHub reads release notes from the GitHub Releases API, page by page
// (Link header), with an ETag cache on disk so that repeated runs cost no
// rate limit and work offline.
type GitHub struct {
	Owner, Repo string
	// BaseURL defaults to https://api.github.com (tests use httptest).
	BaseURL string
	// Token is sent as a bearer token when set (GITHUB_TOKEN).
	Token string
	// CacheDir holds one file per fetched page; empty disables the cache.
	CacheDir string
	// Client defaults to a client with a 30s timeout.
	Client *http.Client
	// MaxPages bounds how many pages of 100 releases are read (default 10).
	MaxPages int
	// Log receives one-line notices (cache used offline, releases skipped).
	Log func(string)
	// Now is the clock (tests pin it).
	Now func() time.Time
}

// NewGitHub returns a client for "owner/repo" with GITHUB_TOKEN from the
// environment and the cache under os.UserCacheDir()/upshift/releases.
func NewGitHub(ownerRepo string) (*GitHub, error) {
	owner, repo, ok := strings.Cut(ownerRepo, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("GitHub repository %q: write owner/repo, e.g. langgenius/dify", ownerRepo)
	}
	g := &GitHub{Owner: owner, Repo: repo, Token: os.Getenv("GITHUB_TOKEN")}
	if dir, err := os.UserCacheDir(); err == nil {
		g.CacheDir = filepath.Join(dir, "upshift", "releases")
	}
	return g, nil
}

// RateLimitError says the GitHub API refused because of its rate limit.
type RateLimitError struct {
	Reset         time.Time // zero when unknown
	Authenticated bool
	now           time.Time
}

func (e *RateLimitError) Error() string {
	msg := "GitHub API rate limit reached"
	if !e.Reset.IsZero() {
		wait := e.Reset.Sub(e.now).Round(time.Minute)
		msg += fmt.Sprintf(" (it resets at %s UTC, in %s)", e.Reset.UTC().Format("15:04"), max(wait, time.Minute))
	}
	msg += "; no cached release notes to fall back on. "
	if !e.Authenticated {
		msg += "Set GITHUB_TOKEN to a GitHub token (no scopes needed) to get 5000 requests an hour, or pass --notes FILE|DIR to read release notes offline."
	} else {
		msg += "Wait for the reset, or pass --notes FILE|DIR to read release notes offline."
	}
	return msg
}

type cachedPage struct {
	URL       string          `json:"url"`
	ETag      string          `json:"etag"`
	Next      string          `json:"next,omitempty"`
	FetchedAt time.Time       `json:"fetched_at"`
	Body      json.RawMessage `json:"body"`
}

type ghRelease struct {
	TagName     string `json:"tag_name"`
	Name        string `json:"name"`
	Body        string `json:"body"`
	HTMLURL     string `json:"html_url"`
	PublishedAt string `json:"published_at"`
	Draft       bool   `json:"draft"`
}

func (g *GitHub) logf(format string, args ...any) {
	if g.Log != nil {
		g.Log(fmt.Sprintf(format, args...))
	}
}

func (g *GitHub) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *GitHub) repoName() string { return g.Owner + "/" + g.Repo }

// Notes fetches every release (drafts skipped), newest pages first as
// GitHub returns them. When the network fails or the rate limit is hit,
// cached pages are used and Log says so.
func (g *GitHub) Notes(ctx context.Context) ([]Note, error) {
	base := strings.TrimRight(g.BaseURL, "/")
	if base == "" {
		base = DefaultGitHubAPI
	}
	maxPages := g.MaxPages
	if maxPages <= 0 {
		maxPages = 10
	}
	next := fmt.Sprintf("%s/repos/%s/%s/releases?per_page=100", base, url.PathEscape(g.Owner), url.PathEscape(g.Repo))
	var notes []Note
	for page := 0; next != "" && page < maxPages; page++ {
		body, nextURL, err := g.page(ctx, next, page == 0)
		if err != nil {
			return nil, err
		}
		if body == nil { // offline and this page was never cached
			g.logf("release notes of %s may be incomplete: page %d is not in the cache", g.repoName(), page+1)
			break
		}
		var rels []ghRelease
		if err := json.Unmarshal(body, &rels); err != nil {
			return nil, fmt.Errorf("GitHub releases of %s: unexpected response (%w); is the base URL %s right?", g.repoName(), err, base)
		}
		for _, r := range rels {
			if r.Draft {
				continue
			}
			n := Note{Version: r.TagName, Title: r.Name, Body: r.Body, URL: r.HTMLURL}
			if len(r.PublishedAt) >= 10 {
				n.Date = r.PublishedAt[:10]
			}
			notes = append(notes, n)
		}
		next = nextURL
	}
	if next != "" {
		g.logf("read the newest %d pages of %s releases; older ones were not fetched", maxPages, g.repoName())
	}
	return notes, nil
}

// page returns the body of one page and the next page's URL; body is nil
// when offline without a cached copy of a later page.
func (g *GitHub) page(ctx context.Context, pageURL string, first bool) (json.RawMessage, string, error) {
	cached, _ := g.loadCache(pageURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pageURL, nil)
	if err != nil {
		return nil, "", fmt.Errorf("GitHub releases of %s: %w", g.repoName(), err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "upshift")
	if g.Token != "" {
		req.Header.Set("Authorization", "Bearer "+g.Token)
	}
	if cached != nil && cached.ETag != "" {
		req.Header.Set("If-None-Match", cached.ETag)
	}
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return g.offline(cached, first, fmt.Errorf("cannot reach GitHub: %w", err))
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return g.offline(cached, first, fmt.Errorf("reading the GitHub response failed: %w", err))
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && cached != nil:
		return cached.Body, cached.Next, nil
	case resp.StatusCode == http.StatusOK:
		next := nextLink(resp.Header.Get("Link"))
		if !json.Valid(data) {
			return nil, "", fmt.Errorf("GitHub releases of %s: the response is not JSON (%s); is the base URL right?", g.repoName(), snippet(data))
		}
		g.saveCache(&cachedPage{URL: pageURL, ETag: resp.Header.Get("ETag"), Next: next, FetchedAt: g.now().UTC(), Body: data})
		return data, next, nil
	case (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests) && isRateLimited(resp):
		rl := &RateLimitError{Authenticated: g.Token != "", now: g.now()}
		if s, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			rl.Reset = time.Unix(s, 0)
		} else if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			rl.Reset = g.now().Add(time.Duration(s) * time.Second)
		}
		return g.offline(cached, first, rl)
	case resp.StatusCode == http.StatusNotFound:
		return nil, "", fmt.Errorf("GitHub repository %s was not found (404). Check release_notes.github in the profile, or pass --notes FILE|DIR", g.repoName())
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, "", fmt.Errorf("GitHub rejected the token in GITHUB_TOKEN (401: %s). Fix: unset GITHUB_TOKEN or set a valid token", apiMessage(data))
	case resp.StatusCode >= 500:
		return g.offline(cached, first, fmt.Errorf("GitHub answered %s: %s", resp.Status, apiMessage(data)))
	default:
		return nil, "", fmt.Errorf("GitHub releases of %s: unexpected answer %s: %s", g.repoName(), resp.Status, apiMessage(data))
	}
}

// offline falls back to the cached page when the live request failed.
func (g *GitHub) offline(cached *cachedPage, first bool, cause error) (json.RawMessage, string, error) {
	if cached != nil {
		g.logf("%v; using release notes of %s cached at %s", cause, g.repoName(), cached.FetchedAt.UTC().Format("2006-01-02 15:04 UTC"))
		return cached.Body, cached.Next, nil
	}
	var rl *RateLimitError
	if errors.As(cause, &rl) && first {
		return nil, "", rl
	}
	if first {
		return nil, "", fmt.Errorf("release notes of %s: %w. Nothing is cached yet: retry when online, or pass --notes FILE|DIR", g.repoName(), cause)
	}
	g.logf("%v", cause)
	return nil, "", nil
}

func isRateLimited(resp *http.Response) bool {
	return resp.Header.Get("X-RateLimit-Remaining") == "0" || resp.Header.Get("Retry-After") != ""
}

var linkNextRe = regexp.MustCompile(`<([^>]+)>\s*;\s*rel="?next"?`)

func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		if m := linkNextRe.FindStringSubmatch(part); m != nil {
			return m[1]
		}
	}
	return ""
}

func apiMessage(data []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &m) == nil && m.Message != "" {
		return m.Message
	}
	return snippet(data)
}

func snippet(data []byte) string {
	s := strings.TrimSpace(string(data))
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

func (g *GitHub) cachePath(pageURL string) string {
	sum := sha256.Sum256([]byte(pageURL))
	return filepath.Join(g.CacheDir, safeName(g.Owner)+"_"+safeName(g.Repo), hex.EncodeToString(sum[:8])+".json")
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == '.' && len(s) < 3 {
			return '_'
		}
		return r
	}, s)
}

func (g *GitHub) loadCache(pageURL string) (*cachedPage, error) {
	if g.CacheDir == "" {
		return nil, nil
	}
	data, err := os.ReadFile(g.cachePath(pageURL))
	if err != nil {
		return nil, fmt.Errorf("read release cache: %w", err)
	}
	var c cachedPage
	if err := json.Unmarshal(data, &c); err != nil || c.URL != pageURL {
		return nil, fmt.Errorf("release cache entry for %s is unreadable", pageURL)
	}
	return &c, nil
}

// saveCache writes atomically; a cache that cannot be written only costs
// rate limit next time, so the failure is logged, not returned.
func (g *GitHub) saveCache(c *cachedPage) {
	if g.CacheDir == "" {
		return
	}
	p := g.cachePath(c.URL)
	data, err := json.Marshal(c)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(p), 0o755)
	}
	if err == nil {
		tmp := p + ".tmp"
		if err = os.WriteFile(tmp, data, 0o644); err == nil {
			err = os.Rename(tmp, p)
		}
	}
	if err != nil {
		g.logf("could not cache release notes in %s: %v", g.CacheDir, err)
	}
}
