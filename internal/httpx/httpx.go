// Package httpx is upshift's one HTTP client for calls to the outside
// (release APIs, registries, version and health probes): every request has
// a timeout, every body a size limit, and every error says which URL failed
// and how, in words an admin can act on.
package httpx

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/seed-e7a9fb3b/upshift/internal/human"
)

// DefaultTimeout bounds a whole request (connect, headers and body) made
// through Client, Do, Get and GetResponse with no timeout of their own.
const DefaultTimeout = 30 * time.Second

// Client is the HTTP client for every outside call. Its transport bounds
// each phase too, so a silent peer cannot hold a connection open.
var Client = &http.Client{
	Timeout: DefaultTimeout,
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: DefaultTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          10,
	},
}

// DefaultMaxBytes is the body limit when a caller passes 0 or less.
const DefaultMaxBytes = 8 << 20

// ErrTooLarge means an answer was longer than the caller's limit.
var ErrTooLarge = errors.New("answer too large")

// Error is a failed request: no answer (Err), a timeout (TimedOut after
// Elapsed), or an answer that is not 2xx (StatusCode).
type Error struct {
	Method     string
	URL        string // without the password
	StatusCode int    // 0 when there was no usable answer
	Status     string // "404 Not Found"
	TimedOut   bool
	Elapsed    time.Duration // how long the request ran before it timed out
	Limit      int64         // the byte limit, with ErrTooLarge
	Err        error
}

func (e *Error) Error() string {
	prefix := e.Method + " " + e.URL + ": "
	switch {
	case e.TimedOut:
		return prefix + "timed out after " + human.Duration(e.Elapsed.Round(100*time.Millisecond))
	case errors.Is(e.Err, ErrTooLarge):
		return prefix + "answer larger than " + human.Bytes(e.Limit)
	case e.StatusCode != 0:
		return prefix + e.Status
	case e.Err != nil:
		return prefix + e.Err.Error()
	}
	return prefix + "failed"
}

func (e *Error) Unwrap() error { return e.Err }

// Do sends req with Client. Like http.Client.Do, an answer that is not 2xx
// is not an error; the caller must close the body. Errors are *Error, and
// still match context.DeadlineExceeded or context.Canceled.
func Do(req *http.Request) (*http.Response, error) {
	return do(Client, req)
}

func do(c *http.Client, req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return nil, wrap(req, start, err)
	}
	return resp, nil
}

// Response is a whole answer, read up to a byte limit.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// GetResponse GETs rawURL within timeout (DefaultTimeout when 0) and reads
// at most maxBytes (DefaultMaxBytes when 0 or less) of the body. An answer that is not 2xx is an *Error with
// its StatusCode; a longer body is an *Error matching ErrTooLarge.
func GetResponse(ctx context.Context, rawURL string, maxBytes int64, timeout time.Duration) (*Response, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	c := Client
	if timeout > Client.Timeout {
		cc := *Client
		cc.Timeout = timeout
		c = &cc
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, &Error{Method: http.MethodGet, URL: redactURL(rawURL), Err: err}
	}
	start := time.Now()
	resp, err := do(c, req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		return nil, &Error{Method: req.Method, URL: redactURL(rawURL), StatusCode: resp.StatusCode, Status: resp.Status}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, min(maxBytes, math.MaxInt64-1)+1))
	if err != nil {
		return nil, wrap(req, start, err)
	}
	if int64(len(body)) > maxBytes {
		return nil, &Error{Method: req.Method, URL: redactURL(rawURL), Limit: maxBytes, Err: ErrTooLarge}
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// Get GETs rawURL within DefaultTimeout and returns its body, at most
// maxBytes long. See GetResponse for the errors.
func Get(ctx context.Context, rawURL string, maxBytes int64) ([]byte, error) {
	return GetWithTimeout(ctx, rawURL, maxBytes, DefaultTimeout)
}

// GetWithTimeout is Get with its own timeout for the whole request.
func GetWithTimeout(ctx context.Context, rawURL string, maxBytes int64, timeout time.Duration) ([]byte, error) {
	r, err := GetResponse(ctx, rawURL, maxBytes, timeout)
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// wrap turns a transport error into an *Error, naming timeouts as such.
func wrap(req *http.Request, start time.Time, err error) error {
	e := &Error{Method: req.Method, URL: req.URL.Redacted(), Err: err}
	var ue *url.Error
	if errors.As(err, &ue) {
		e.Err = ue.Err // its text repeats the method and URL
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		e.TimedOut, e.Elapsed = true, time.Since(start)
	}
	return e
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}
