package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestGet(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("X-Version", "1.2.3")
			_, _ = w.Write([]byte("hello"))
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	t.Run("success", func(t *testing.T) {
		body, err := Get(context.Background(), srv.URL+"/ok", 1024)
		if err != nil || string(body) != "hello" {
			t.Fatalf("Get = %q, %v", body, err)
		}
		r, err := GetResponse(context.Background(), srv.URL+"/ok", 5, time.Second)
		if err != nil || r.Header.Get("X-Version") != "1.2.3" || string(r.Body) != "hello" || r.StatusCode != 200 {
			t.Fatalf("GetResponse = %+v, %v (a body of exactly the limit is fine)", r, err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := Get(context.Background(), srv.URL+"/nope", 1024)
		var he *Error
		if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound {
			t.Fatalf("err = %#v", err)
		}
		if want := "GET " + srv.URL + "/nope: 404 Not Found"; err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
	})
	t.Run("body over the limit", func(t *testing.T) {
		_, err := Get(context.Background(), srv.URL+"/big", 1024)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
		if want := "GET " + srv.URL + "/big: answer larger than 1.0 KiB"; err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
	})
	t.Run("slow server times out", func(t *testing.T) {
		start := time.Now()
		_, err := GetWithTimeout(context.Background(), srv.URL+"/slow", 1024, 200*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("took %s", el)
		}
		if want := "GET " + srv.URL + "/slow: timed out after 200ms"; err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Get(ctx, srv.URL+"/ok", 1024)
		if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "timed out") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		addr := dead.URL
		dead.Close()
		_, err := Get(context.Background(), addr+"/x", 1024)
		if err == nil || !strings.HasPrefix(err.Error(), "GET "+addr+"/x: ") || strings.Count(err.Error(), addr) != 1 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("password hidden", func(t *testing.T) {
		u := strings.Replace(srv.URL, "http://", "http://u:s3cret@", 1) + "/nope"
		_, err := Get(context.Background(), u, 1024)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("Do leaves the status to the caller", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/nope", nil)
		resp, err := Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status = %d", resp.StatusCode)
		}
	})
}
