package detect

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/seed-e7a9fb3b/upshift/profile"
)

func TestGetVersion(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			_, _ = w.Write([]byte(`{"version":"1.4.2"}`))
		case "/header":
			w.Header().Set("X-Version", "v2.0.1")
		case "/text":
			_, _ = w.Write([]byte("MyApp 3.1.0 (build 7)\n"))
		case "/word":
			_, _ = w.Write([]byte("latest"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name    string
		path    string
		src     profile.VersionSource
		want    string
		wantErr string
	}{
		{"json field", "/json", profile.VersionSource{JSON: "version"}, "1.4.2", ""},
		{"header", "/header", profile.VersionSource{Header: "X-Version"}, "v2.0.1", ""},
		{"body with regexp", "/text", profile.VersionSource{Regexp: `MyApp (\S+)`}, "3.1.0", ""},
		{"not a version", "/word", profile.VersionSource{}, "", "not a version"},
		{"not found", "/missing", profile.VersionSource{}, "", "404 Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := getVersion(context.Background(), srv.URL+tc.path, tc.src)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("getVersion = %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}
