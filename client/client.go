// Package client is a Go client for hookd's HTTP API, for publishers: publish
// events (with an idempotency key and retries that never make a second event),
// manage endpoints, look at deliveries and recover an endpoint after an outage. It
// imports only the Go standard library.
//
// Every method takes a context; its deadline bounds the whole call, retries
// included. Errors the API answered are *Error, with the API's code, message and
// HTTP status.
package client

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of the retry policy (see WithRetry).
const (
	DefaultMaxAttempts = 8
	DefaultMinBackoff  = 200 * time.Millisecond
	DefaultMaxBackoff  = 10 * time.Second
	// DefaultMaxRetryAfter caps how long a Retry-After is honoured.
	DefaultMaxRetryAfter = time.Minute
)

// Client calls one hookd server with one API key. It is safe for concurrent use.
type Client struct {
	base        *url.URL
	key         string
	hc          *http.Client
	maxAttempts int
	minBackoff  time.Duration
	maxBackoff  time.Duration
	after       func(time.Duration) <-chan time.Time
	userAgent   string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the http.Client requests go through (default: one with a
// 30-second timeout per request).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithRetry sets how often and how patiently retryable failures are retried:
// at most attempts tries in all (1 turns retries off), waiting from min doubling
// up to max between them (with jitter), or longer when the server's Retry-After
// asks. The context's deadline ends retries earlier: a wait that would pass it
// is not started.
func WithRetry(attempts int, min, max time.Duration) Option {
	return func(c *Client) { c.maxAttempts, c.minBackoff, c.maxBackoff = attempts, min, max }
}

// WithAfter replaces time.After for the waits between retries, for tests that
// run on a fake clock.
func WithAfter(after func(time.Duration) <-chan time.Time) Option {
	return func(c *Client) { c.after = after }
}

// New returns a Client for the hookd at baseURL (such as "https://hookd.example")
// using key (an "hk_…" project key or the admin key).
func New(baseURL, key string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL must be http(s)://host[:port], got %q", baseURL)
	}
	c := &Client{
		base:        u,
		key:         key,
		hc:          &http.Client{Timeout: 30 * time.Second},
		maxAttempts: DefaultMaxAttempts,
		minBackoff:  DefaultMinBackoff,
		maxBackoff:  DefaultMaxBackoff,
		after:       time.After,
		userAgent:   "hookd-go-client",
	}
	for _, opt := range opts {
		opt(c)
	}
	c.maxAttempts = max(c.maxAttempts, 1)
	if c.minBackoff <= 0 {
		c.minBackoff = DefaultMinBackoff
	}
	c.maxBackoff = max(c.maxBackoff, c.minBackoff)
	return c, nil
}

// Error is an error answer of the API: {"error":{"code","message"}} and its status.
type Error struct {
	StatusCode int
	Code       string // such as "invalid_argument", "not_found", "unavailable"
	Message    string // names the field it is about as "field: message"
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("hookd: %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// Temporary reports whether the same request may succeed later: 429 and 503.
func (e *Error) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusServiceUnavailable
}

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// request is one API call; body is marshalled once and re-sent on each try.
type request struct {
	method, path string
	query        url.Values
	body         any
	header       http.Header
	retry        bool // safe to repeat: a GET, or a publish with its idempotency key
}

// do sends req, retrying retryable failures, and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, req request, out any) (http.Header, error) {
	if strings.Contains(req.path+"/", "//") {
		return nil, fmt.Errorf("client: %s %s: an id is empty", req.method, req.path)
	}
	var payload []byte
	if req.body != nil {
		var err error
		if payload, err = json.Marshal(req.body); err != nil {
			return nil, fmt.Errorf("client: encoding the request: %w", err)
		}
	}
	u := *c.base
	u.Path += req.path
	u.RawQuery = req.query.Encode()
	attempts := 1
	if req.retry {
		attempts = c.maxAttempts
	}
	var lastErr error
	for try := 0; try < attempts; try++ {
		if try > 0 {
			wait := c.backoff(try, lastErr)
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
				return nil, lastErr // the deadline would end the wait: give up now
			}
			select {
			case <-ctx.Done():
				return nil, lastErr
			case <-c.after(wait):
			}
		}
		h, retryable, err := c.once(ctx, req, u.String(), payload, out)
		if err == nil {
			return h, nil
		}
		if ctx.Err() != nil {
			if lastErr == nil || retryable {
				lastErr = err
			}
			return nil, lastErr
		}
		lastErr = err
		if !retryable {
			return nil, err
		}
	}
	return nil, lastErr
}

// once makes one try. retryable: a network error or a 429/503.
func (c *Client) once(ctx context.Context, req request, u string, payload []byte, out any) (http.Header, bool, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, false, fmt.Errorf("client: %w", err)
	}
	for name, vs := range req.header {
		hr.Header[name] = vs
	}
	hr.Header.Set("Authorization", "Bearer "+c.key)
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, true, fmt.Errorf("client: %s %s: %w", req.method, req.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, true, fmt.Errorf("client: %s %s: reading the answer: %w", req.method, req.path, err)
	}
	if resp.StatusCode >= 300 {
		e := &Error{StatusCode: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
		var eb struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			e.Code, e.Message = eb.Error.Code, eb.Error.Message
		} else {
			// Not hookd's error shape: a proxy or load balancer answered.
			e.Code, e.Message = "http_"+strconv.Itoa(resp.StatusCode), strings.TrimSpace(string(data[:min(len(data), 200)]))
		}
		return nil, e.Temporary(), e
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, false, fmt.Errorf("client: %s %s: decoding the answer: %w", req.method, req.path, err)
		}
	}
	return resp.Header, false, nil
}

// backoff is the wait before try (1-based count of retries so far): exponential
// with full jitter in its upper half, and at least the server's Retry-After.
func (c *Client) backoff(try int, lastErr error) time.Duration {
	d := c.minBackoff << min(try-1, 30)
	if d <= 0 || d > c.maxBackoff {
		d = c.maxBackoff
	}
	d = d/2 + rand.N(d/2+1)
	var e *Error
	if errors.As(lastErr, &e) && e.RetryAfter > d {
		d = min(e.RetryAfter, DefaultMaxRetryAfter)
	}
	return d
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or invalid.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, int64(DefaultMaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// NewIdempotencyKey returns a random key, what Publish uses when none is given.
func NewIdempotencyKey() string {
	b := make([]byte, 16)
	crand.Read(b) // never fails
	return "idem_" + hex.EncodeToString(b)
}

func projectPath(projectID string, parts ...string) string {
	p := "/v1/projects/" + url.PathEscape(projectID)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}
