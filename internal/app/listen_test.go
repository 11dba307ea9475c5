package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/listen"
	"github.com/hookd/hookd/webhook"
)

// waits is an After whose timers the test fires, so listen's reconnect
// backoff never runs on the wall clock.
type waits struct {
	mu      sync.Mutex
	pending map[time.Duration][]chan time.Time
}

func (w *waits) After(d time.Duration) <-chan time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := make(chan time.Time, 1)
	w.pending[d] = append(w.pending[d], c)
	return c
}

// fireWhenWaiting waits until something waits for d, then fires it.
func (w *waits) fireWhenWaiting(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		w.mu.Lock()
		cs := w.pending[d]
		w.pending[d] = nil
		w.mu.Unlock()
		for _, c := range cs {
			c <- time.Time{}
		}
		if len(cs) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing waited for %v", d)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestListen runs `hookd listen` against a running server through a proxy
// the test can cut: events published while it runs reach a local
// receiver with valid signatures, one published while it is cut off
// arrives after it reconnects, and the type filter holds.
func TestListen(t *testing.T) {
	s := start(t, nil)
	p := s.newProject("listen")
	local := newReceiver(t, 200)

	// The proxy answers 503 while down and drops open streams when cut.
	target, _ := url.Parse(s.base)
	rp := httputil.NewSingleHostReverseProxy(target)
	var down atomic.Bool
	var streams atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, `{"error":{"code":"unavailable","message":"proxy down"}}`, http.StatusServiceUnavailable)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/events/stream") {
			streams.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	w := &waits{pending: map[time.Duration][]chan time.Time{}}
	out, log := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- listen.Run(ctx, listen.Config{
			Server: proxy.URL, Key: p.Key, ForwardTo: local.URL(), Events: []string{"invoice.*"},
			Out: out, Log: log, After: w.After,
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("listen.Run: %v", err)
		}
	}()
	waitFor(t, "listen to connect", func() bool { return strings.Contains(log.String(), "ready:") })

	first := s.publish(p, "invoice.paid", map[string]any{"n": 1})
	s.publish(p, "customer.created", map[string]any{"n": 2}) // filtered out
	waitFor(t, "the first event", func() bool { return len(local.received()) == 1 })

	// Cut the stream and keep the server unreachable: listen backs off.
	down.Store(true)
	proxy.CloseClientConnections()
	w.fireWhenWaiting(t, listen.DefaultMinBackoff) // first reconnect: refused
	missed := s.publish(p, "invoice.created", map[string]any{"n": 3})
	down.Store(false)
	w.fireWhenWaiting(t, 2*listen.DefaultMinBackoff) // the backoff doubled
	waitFor(t, "the event published while disconnected", func() bool { return len(local.received()) == 2 })
	third := s.publish(p, "invoice.voided", map[string]any{"n": 4})
	waitFor(t, "an event after the reconnect", func() bool { return len(local.received()) == 3 })

	v, err := webhook.NewVerifier([]string{p.Secret})
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, r := range local.received() {
		if err := v.Verify(r.Body, r.Header); err != nil {
			t.Errorf("signature of %s: %v", r.Header.Get("webhook-id"), err)
		}
		var body struct{ ID, Type string }
		if err := json.Unmarshal(r.Body, &body); err != nil || body.ID != r.Header.Get("webhook-id") {
			t.Errorf("body %s does not carry its webhook-id %s", r.Body, r.Header.Get("webhook-id"))
		}
		gotIDs = append(gotIDs, body.ID)
	}
	want := []string{first.ID, missed.ID, third.ID}
	if strings.Join(gotIDs, " ") != strings.Join(want, " ") {
		t.Fatalf("received %v, want %v (each once, customer.created filtered out)", gotIDs, want)
	}
	if n := streams.Load(); n != 2 {
		t.Errorf("%d streams opened, want 2 (one reconnect)", n)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "invoice.created") || !strings.Contains(lines[1], missed.ID) || !strings.Contains(lines[1], "→ 200") {
		t.Errorf("printed lines:\n%s", out.String())
	}
	if !strings.Contains(log.String(), "reconnected; resuming after "+first.ID) {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestListenRefusesAWrongKey: a key the server refuses ends listen with
// the reason instead of reconnecting forever.
func TestListenRefusesAWrongKey(t *testing.T) {
	s := start(t, nil)
	p := s.newProject("listen")
	err := listen.Run(context.Background(), listen.Config{
		Server: s.base, Key: "hk_wrong", ProjectID: p.ID, ForwardTo: "http://127.0.0.1:1/hook",
	})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("listen with a wrong key: %v, want a 401 error", err)
	}
}

// waitFor polls cond; the deadline only bounds a broken run.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
