package releases

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeGitHub struct {
	mu          sync.Mutex
	requests    int
	notModified int
	auth        []string
	rateLimited bool
	reset       int64
}

func (f *fakeGitHub) handler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests++
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		if r.URL.Path == "/repos/acme/missing/releases" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found"}`))
			return
		}
		if r.URL.Path != "/repos/acme/app/releases" {
			t.Errorf("unexpected path %s", r.URL.Path)
		}
		if f.rateLimited {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(f.reset, 10))
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"API rate limit exceeded"}`))
			return
		}
		page := r.URL.Query().Get("page")
		if page == "" {
			page = "1"
		}
		etag := `"etag-` + page + `"`
		if r.Header.Get("If-None-Match") == etag {
			f.notModified++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		switch page {
		case "1":
			w.Header().Set("Link", fmt.Sprintf(`<http://%s/repos/acme/app/releases?per_page=100&page=2>; rel="next", <http://%s/repos/acme/app/releases?per_page=100&page=2>; rel="last"`, r.Host, r.Host))
			_, _ = w.Write([]byte(`[{"tag_name":"v1.2.0","name":"1.2.0","body":"## Breaking changes\n- X","html_url":"https://example.invalid/v1.2.0","published_at":"2024-03-01T10:00:00Z"},
			{"tag_name":"v1.3.0","name":"draft","body":"","draft":true}]`))
		default:
			_, _ = w.Write([]byte(`[{"tag_name":"v1.1.0","name":"1.1.0","body":"fixes","published_at":"2024-02-01T10:00:00Z"}]`))
		}
	})
}

func TestGitHubPagingAndCache(t *testing.T) {
	f := &fakeGitHub{}
	srv := httptest.NewServer(f.handler(t))
	defer srv.Close()
	cache := t.TempDir()
	var logs []string
	g := &GitHub{Owner: "acme", Repo: "app", BaseURL: srv.URL, Token: "tok", CacheDir: cache, Log: func(s string) { logs = append(logs, s) }}
	notes, err := g.Notes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 2 || notes[0].Version != "v1.2.0" || notes[0].Date != "2024-03-01" || notes[0].URL == "" || notes[1].Version != "v1.1.0" {
		t.Fatalf("notes = %+v", notes)
	}
	if f.auth[0] != "Bearer tok" {
		t.Errorf("Authorization = %q", f.auth[0])
	}
	// Second run: conditional requests, answered 304 from the cache.
	notes2, err := g.Notes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(notes2) != 2 || f.notModified != 2 {
		t.Errorf("second run: %d notes, %d not-modified answers", len(notes2), f.notModified)
	}
	// Rate limited: the cache is used and the log says so.
	f.rateLimited = true
	f.reset = time.Now().Add(time.Hour).Unix()
	notes3, err := g.Notes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(notes3) != 2 || len(logs) == 0 || !strings.Contains(strings.Join(logs, "\n"), "cached") {
		t.Errorf("rate limited with cache: %d notes, logs %v", len(notes3), logs)
	}
	// Network down: the cache is used.
	srv.Close()
	logs = nil
	notes4, err := g.Notes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(notes4) != 2 || !strings.Contains(strings.Join(logs, "\n"), "cannot reach GitHub") {
		t.Errorf("offline: %d notes, logs %v", len(notes4), logs)
	}
}

func TestGitHubRateLimitMessage(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	f := &fakeGitHub{rateLimited: true, reset: now.Add(12 * time.Minute).Unix()}
	srv := httptest.NewServer(f.handler(t))
	defer srv.Close()
	g := &GitHub{Owner: "acme", Repo: "app", BaseURL: srv.URL, Now: func() time.Time { return now }}
	_, err := g.Notes(context.Background())
	var rl *RateLimitError
	if err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN") || !strings.Contains(err.Error(), "15:12 UTC") || !strings.Contains(err.Error(), "12m") {
		t.Fatalf("err = %v", err)
	}
	if !errors.As(err, &rl) {
		t.Errorf("not a RateLimitError: %T", err)
	}
}

func TestGitHubErrors(t *testing.T) {
	f := &fakeGitHub{}
	srv := httptest.NewServer(f.handler(t))
	g := &GitHub{Owner: "acme", Repo: "missing", BaseURL: srv.URL}
	if _, err := g.Notes(context.Background()); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("404 err = %v", err)
	}
	srv.Close()
	g = &GitHub{Owner: "acme", Repo: "app", BaseURL: srv.URL, CacheDir: t.TempDir()}
	if _, err := g.Notes(context.Background()); err == nil || !strings.Contains(err.Error(), "--notes") {
		t.Errorf("offline without cache err = %v", err)
	}
	if _, err := NewGitHub("nope"); err == nil {
		t.Error("NewGitHub accepted a name without owner")
	}
	t.Setenv("GITHUB_TOKEN", "abc")
	g2, err := NewGitHub("acme/app")
	if err != nil || g2.Token != "abc" {
		t.Errorf("NewGitHub = %+v, %v", g2, err)
	}
}
