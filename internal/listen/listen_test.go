package listen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/clock"
)

// lines is a Log that hands each write to the test.
type lines chan string

func (l lines) Write(p []byte) (int, error) { l <- string(p); return len(p), nil }

// waitLine waits for a log line containing want.
func waitLine(t *testing.T, log lines, want string) {
	t.Helper()
	for {
		select {
		case line := <-log:
			if strings.Contains(line, want) {
				return
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no log line with %q", want)
		}
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
			// Counted before the test hears of it: it checks the count
			// as soon as the second stream's Last-Event-ID arrived.
			n := streams.Add(1)
			lastIDs <- r.Header.Get("Last-Event-ID")
			w.Header().Set("Content-Type", "text/event-stream")
			if n == 1 {
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

	fake := clock.NewFake(time.Now())
	log := make(lines, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Server: srv.URL, Key: "hk_test", ProjectID: "prj_x", ForwardTo: local.URL, Clock: fake, Log: log})
	}()
	if got := <-lastIDs; got != "" {
		t.Fatalf("first connect sent Last-Event-ID %q", got)
	}
	if got := <-forwarded; got != "evt_1" {
		t.Fatalf("forwarded %q, want evt_1", got)
	}
	fake.Advance(DefaultIdleTimeout) // nothing heard since: the watchdog drops the stream
	waitLine(t, log, "connection lost")
	fake.Advance(DefaultMinBackoff)
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
