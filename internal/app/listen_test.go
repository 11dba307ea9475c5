package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/listen"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/webhook"
)

// listening is `hookd listen` running against hookd through a proxy the
// test can cut and point at another node.
type listening struct {
	t        *testing.T
	local    *receiver
	clock    *clock.Fake // listen's: its backoff waits on it
	out, log *syncBuffer
	target   atomic.Pointer[httputil.ReverseProxy]
	down     atomic.Bool
	streams  atomic.Int32
	proxy    *httptest.Server
}

// listenTo starts listen with key, through a proxy to base, forwarding to
// a new local receiver; it stops when the test ends.
func listenTo(t *testing.T, base, key string, events ...string) *listening {
	l := &listening{t: t, local: newReceiver(t, 200), clock: clock.NewFake(time.Now()),
		out: &syncBuffer{}, log: &syncBuffer{}}
	l.pointAt(base)
	// The proxy answers 503 while down; cut drops open streams.
	l.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.down.Load() {
			http.Error(w, `{"error":{"code":"unavailable","message":"proxy down"}}`, http.StatusServiceUnavailable)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/events/stream") {
			l.streams.Add(1)
		}
		l.target.Load().ServeHTTP(w, r)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- listen.Run(ctx, listen.Config{
			Server: l.proxy.URL, Key: key, ForwardTo: l.local.URL(), Events: events,
			Out: l.out, Log: l.log, Clock: l.clock,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("listen.Run: %v", err)
		}
		l.proxy.Close()
		if t.Failed() {
			// What listen said is what tells a failed wait for it apart.
			t.Logf("listen's log:\n%s\nstreams opened through the proxy: %d", l.log.String(), l.streams.Load())
		}
	})
	waitFor(t, "listen to connect", func() bool { return strings.Contains(l.log.String(), "ready:") })
	return l
}

func (l *listening) pointAt(base string) {
	u, _ := url.Parse(base)
	l.target.Store(httputil.NewSingleHostReverseProxy(u))
}

// cut drops the stream and keeps hookd unreachable until reconnect; listen
// tries once (refused) after its first backoff.
func (l *listening) cut() {
	l.down.Store(true)
	l.proxy.CloseClientConnections()
	l.backoff(1, listen.DefaultMinBackoff)
}

// reconnect lets listen's second, doubled, backoff end on a reachable hookd.
func (l *listening) reconnect() {
	l.down.Store(false)
	l.backoff(2, 2*listen.DefaultMinBackoff)
}

// backoff waits for listen's nth "connection lost" (it is waiting on the
// clock once it says so) and moves the clock past its backoff d.
func (l *listening) backoff(n int, d time.Duration) {
	l.t.Helper()
	waitFor(l.t, fmt.Sprintf("listen to lose the connection %d times", n), func() bool {
		return strings.Count(l.log.String(), "connection lost") >= n
	})
	l.clock.Advance(d)
}

// received waits for n forwarded events and returns their ids, checking
// each signature with secret.
func (l *listening) received(n int, secret string) []string {
	l.t.Helper()
	waitFor(l.t, fmt.Sprintf("%d forwarded events", n), func() bool { return len(l.local.received()) >= n })
	v, err := webhook.NewVerifier([]string{secret})
	if err != nil {
		l.t.Fatal(err)
	}
	var got []string
	for _, r := range l.local.received() {
		if err := v.Verify(r.Body, r.Header); err != nil {
			l.t.Errorf("signature of %s: %v", r.Header.Get("webhook-id"), err)
		}
		var body struct{ ID, Type string }
		if err := json.Unmarshal(r.Body, &body); err != nil || body.ID != r.Header.Get("webhook-id") {
			l.t.Errorf("body %s does not carry its webhook-id %s", r.Body, r.Header.Get("webhook-id"))
		}
		got = append(got, body.ID)
	}
	return got
}

// TestListen runs `hookd listen` against a running server through a proxy
// the test can cut: events published while it runs reach a local
// receiver with valid signatures, one published while it is cut off
// arrives after it reconnects, and the type filter holds.
func TestListen(t *testing.T) {
	s := start(t, nil)
	p := s.newProject("listen")
	l := listenTo(t, s.base, p.Key, "invoice.*")

	first := s.publish(p, "invoice.paid", map[string]any{"n": 1})
	s.publish(p, "customer.created", map[string]any{"n": 2}) // filtered out
	l.received(1, p.Secret)

	l.cut()
	missed := s.publish(p, "invoice.created", map[string]any{"n": 3})
	l.reconnect()
	l.received(2, p.Secret)
	third := s.publish(p, "invoice.voided", map[string]any{"n": 4})
	gotIDs := l.received(3, p.Secret)

	want := []string{first.ID, missed.ID, third.ID}
	if strings.Join(gotIDs, " ") != strings.Join(want, " ") {
		t.Fatalf("received %v, want %v (each once, customer.created filtered out)", gotIDs, want)
	}
	if n := l.streams.Load(); n != 2 {
		t.Errorf("%d streams opened, want 2 (one reconnect)", n)
	}
	// listen prints its line once the local answer is in.
	waitFor(t, "three printed lines", func() bool { return strings.Count(l.out.String(), "\n") >= 3 })
	lines := strings.Split(strings.TrimSpace(l.out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "invoice.created") || !strings.Contains(lines[1], missed.ID) || !strings.Contains(lines[1], "→ 200") {
		t.Errorf("printed lines:\n%s", l.out.String())
	}
	if !strings.Contains(l.log.String(), "reconnected; resuming after "+first.ID) {
		t.Errorf("log:\n%s", l.log.String())
	}
}

// TestListenAcrossNodes: two hookd nodes on one PostgreSQL database.
// listen, connected to node B, receives what is published on node A (the
// stream reads the database, not the node's memory), and after a
// reconnect to node A it resumes with the event published meanwhile.
func TestListenAcrossNodes(t *testing.T) {
	db := pgtest.NewDatabase(t)
	a := start(t, func(c *app.Config) { c.DB = db })
	b := start(t, func(c *app.Config) { c.DB = db })
	p := a.newProject("two nodes")
	l := listenTo(t, b.base, p.Key)

	first := a.publish(p, "invoice.paid", map[string]any{"n": 1})
	l.received(1, p.Secret)
	l.cut()
	missed := a.publish(p, "invoice.paid", map[string]any{"n": 2})
	l.pointAt(a.base)
	l.reconnect()
	third := b.publish(p, "invoice.paid", map[string]any{"n": 3})
	got := l.received(3, p.Secret)
	if want := []string{first.ID, missed.ID, third.ID}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("received %v, want %v, each once", got, want)
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
