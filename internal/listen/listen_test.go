package listen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// timers is an After whose timers the test fires.
type timers struct {
	mu      sync.Mutex
	pending map[time.Duration][]chan time.Time
}

func (tm *timers) After(d time.Duration) <-chan time.Time {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	c := make(chan time.Time, 1)
	tm.pending[d] = append(tm.pending[d], c)
	return c
}

// fire fires every timer of d that is waiting, once one is.
func (tm *timers) fire(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tm.mu.Lock()
		cs := tm.pending[d]
		tm.pending[d] = nil
		tm.mu.Unlock()
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

// TestSilentStreamIsDropped: a stream that stays open but says nothing (a
// connection that died without a word) is dropped after IdleTimeout and
// listen connects again, resuming after the last event it got.
func TestSilentStreamIsDropped(t *testing.T) {
	var streams atomic.Int32
	lastIDs := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/secret"):
			fmt.Fprint(w, `{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`)
		case strings.HasSuffix(r.URL.Path, "/events/stream"):
			lastIDs <- r.Header.Get("Last-Event-ID")
			w.Header().Set("Content-Type", "text/event-stream")
			if streams.Add(1) == 1 {
				fmt.Fprint(w, "id: evt_1\nevent: t\ndata: {}\n\n")
			}
			w.(http.Flusher).Flush()
			<-r.Context().Done() // then silence
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	forwarded := make(chan string, 10)
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded <- r.Header.Get("webhook-id")
	}))
	defer local.Close()

	tm := &timers{pending: map[time.Duration][]chan time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Server: srv.URL, Key: "hk_test", ProjectID: "prj_x", ForwardTo: local.URL, After: tm.After})
	}()
	if got := <-lastIDs; got != "" {
		t.Fatalf("first connect sent Last-Event-ID %q", got)
	}
	if got := <-forwarded; got != "evt_1" {
		t.Fatalf("forwarded %q, want evt_1", got)
	}
	tm.fire(t, DefaultIdleTimeout) // nothing heard since: the watchdog drops the stream
	tm.fire(t, DefaultMinBackoff)
	if got := <-lastIDs; got != "evt_1" {
		t.Fatalf("reconnect sent Last-Event-ID %q, want evt_1", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := streams.Load(); n != 2 {
		t.Fatalf("%d streams, want 2", n)
	}
}
