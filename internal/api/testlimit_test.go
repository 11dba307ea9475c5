package api_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestTestRateLimited: a Test beyond the endpoint's rate is answered 429
// rate_limited with Retry-After, and does not reach the receiver.
func TestTestRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	var reached atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	t.Cleanup(recv.Close)
	ep := e.endpoint(pid, key, map[string]any{"url": recv.URL, "rate_limit_per_second": 1})
	path := "/v1/projects/" + pid + "/endpoints/" + ep.ID + "/test"
	e.do("POST", path, key, `{}`).decode(t, 200, nil)
	r := e.do("POST", path, key, `{}`)
	r.wantError(t, 429, "rate_limited", "try again in 1 second")
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After %q, want 1", got)
	}
	if reached.Load() != 1 {
		t.Fatalf("reached the receiver %d times, want 1", reached.Load())
	}
	e.clock.Advance(time.Second)
	e.do("POST", path, key, `{}`).decode(t, 200, nil)
}
