package app_test

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
)

// flaky answers each request by answer(webhook-id, how many requests of
// that id came before) and records which ids it accepted.
type flaky struct {
	srv    *httptest.Server
	mu     sync.Mutex
	tries  map[string]int
	oks    map[string]bool
	answer func(id string, before int) int
}

func newFlaky(t *testing.T, answer func(id string, before int) int) *flaky {
	f := &flaky{tries: map[string]int{}, oks: map[string]bool{}, answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		f.mu.Lock()
		code := f.answer(id, f.tries[id])
		f.tries[id]++
		if code < 300 {
			f.oks[id] = true
		}
		f.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *flaky) delivered() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.oks)
}

// breakerRuleServer is hookd on a fake clock with retries a second apart.
func breakerRuleServer(t *testing.T, retries int) (*server, *clock.Fake) {
	clk := clock.NewFake(healthStart)
	s := start(t, func(c *app.Config) {
		c.Clock = clk
		c.RetrySchedule = slices.Repeat([]time.Duration{time.Second}, retries)
		c.PollInterval = 20 * time.Millisecond
	})
	return s, clk
}

// runClock moves the clock a second at a time, each step once the engine
// has settled, until done or until limit has passed; it returns the
// clock time it took and checks each step with check.
func runClock(t *testing.T, s *server, clk *clock.Fake, limit time.Duration, done func() bool, check func()) time.Duration {
	t.Helper()
	from := clk.Now()
	for !done() {
		if clk.Now().Sub(from) > limit {
			t.Fatalf("not done %s after it began (clock time)", limit)
		}
		waitFor(t, "the engine to settle", s.settled)
		check()
		clk.Advance(time.Second)
	}
	return clk.Now().Sub(from)
}

// TestBreakerLetsFailTwiceReceiverThrough: a receiver that fails each
// message twice, then accepts it, gets all 51 within 60 s: the breaker may
// open on the first attempts (they all fail), but its probe is the message
// closest to succeeding, and it closes when that one is accepted.
func TestBreakerLetsFailTwiceReceiverThrough(t *testing.T) {
	s, clk := breakerRuleServer(t, 3) // 1s,1s,1s
	p := s.newProject("acme")
	rc := newFlaky(t, func(_ string, before int) int {
		if before < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	s.newEndpoint(p, rc.srv.URL+"/hook")
	for i := range 51 {
		s.publish(p, "order.created", map[string]any{"n": i})
	}
	took := runClock(t, s, clk, time.Minute, func() bool { return rc.delivered() == 51 }, func() {})
	t.Logf("all 51 delivered after %s of clock time", took)
}

// TestBreakerLeavesHalfFailingAlone: a receiver answering a random half of
// its requests 503 gets every one of 300 events published at 50 a second
// within 60 s of the last publish, and its breaker never opens.
func TestBreakerLeavesHalfFailingAlone(t *testing.T) {
	s, clk := breakerRuleServer(t, 40) // enough that no event runs out of retries
	p := s.newProject("acme")
	rng := rand.New(rand.NewPCG(18, 2))
	rc := newFlaky(t, func(string, int) int {
		if rng.IntN(2) == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	id := s.newEndpoint(p, rc.srv.URL+"/hook")
	open := func() {
		if h := s.endpointHealth(p, id); h.Breaker != "closed" {
			t.Fatalf("breaker %s at %s: %+v", h.Breaker, clk.Now().Sub(healthStart), h)
		}
	}
	for sec := range 6 {
		for i := range 50 {
			s.publish(p, "order.created", map[string]any{"n": sec*50 + i})
		}
		waitFor(t, "the engine to settle", s.settled)
		open()
		clk.Advance(time.Second)
	}
	took := runClock(t, s, clk, time.Minute, func() bool { return rc.delivered() == 300 }, open)
	t.Logf("all 300 delivered %s after the last publish (clock time)", took)
	open()
}
