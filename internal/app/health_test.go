package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/webhook"
)

var healthStart = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// switchable answers 500 while down, 200 otherwise, and counts requests.
type switchable struct {
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	got  []received
	oks  map[string]bool // webhook-ids answered 200
}

func newSwitchable(t *testing.T) *switchable {
	s := &switchable{oks: make(map[string]bool)}
	s.down.Store(true)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, received{Header: r.Header.Clone(), Body: body})
		if !s.down.Load() {
			s.oks[r.Header.Get("webhook-id")] = true
		}
		s.mu.Unlock()
		if s.down.Load() {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *switchable) URL() string { return s.srv.URL + "/hook" }

func (s *switchable) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *switchable) delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.oks)
}

// healthServer is hookd on a fake clock, with retries every second (so
// that a dead endpoint's deliveries stay due) and the given DisableAfter.
func healthServer(t *testing.T, disableAfter time.Duration) (*server, *clock.Fake) {
	clk := clock.NewFake(healthStart)
	s := start(t, func(c *app.Config) {
		c.Clock = clk
		c.DisableAfter = disableAfter
		c.RetrySchedule = slices.Repeat([]time.Duration{time.Second}, 50)
		c.PollInterval = 20 * time.Millisecond
	})
	return s, clk
}

type endpointHealth struct {
	Enabled             bool       `json:"enabled"`
	DisabledReason      string     `json:"disabled_reason"`
	FailingSince        *time.Time `json:"failing_since"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	Breaker             string     `json:"breaker"`
	NextProbeAt         *time.Time `json:"next_probe_at"`
}

func (s *server) endpointHealth(p project, id string) endpointHealth {
	s.t.Helper()
	var h endpointHealth
	s.must(200, "GET", "/v1/projects/"+p.ID+"/endpoints/"+id, p.Key, nil, &h)
	return h
}

// openBreaker makes the dead endpoint fail until its breaker opens. Each
// step waits until the failure is recorded: the fake clock must not move
// while an attempt is out, or its failure would be dated later.
func openBreaker(t *testing.T, s *server, clk *clock.Fake, p project, dead *switchable, id string) {
	t.Helper()
	f := s.endpointHealth(p, id).ConsecutiveFailures
	s.publish(p, "order.created", map[string]any{"n": 0})
	for {
		waitFor(t, "a failure recorded", func() bool { return s.endpointHealth(p, id).ConsecutiveFailures > f })
		h := s.endpointHealth(p, id)
		if h.Breaker == "open" {
			return
		}
		f = h.ConsecutiveFailures
		clk.Advance(time.Second) // each failure retries a second later
	}
}

// operational returns the types of the events a receiver got, each event
// once, checking their signatures at the fake clock's time.
func operational(t *testing.T, got []received, secret string, now time.Time) []string {
	t.Helper()
	v, err := webhook.NewVerifier([]string{secret}, webhook.WithNow(func() time.Time { return now }), webhook.WithTolerance(24*time.Hour*30))
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	seen := make(map[string]bool)
	for _, r := range got {
		if id := r.Header.Get("webhook-id"); seen[id] {
			continue
		} else {
			seen[id] = true
		}
		var ev struct {
			Type string `json:"type"`
			Data struct {
				EndpointID string `json:"endpoint_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatalf("body %q: %v", r.Body, err)
		}
		if err := v.Verify(r.Body, r.Header); err != nil {
			t.Errorf("%s: signature does not verify: %v", ev.Type, err)
		}
		types = append(types, ev.Type)
	}
	return types
}

// TestFailingEndpointDisabledAfterFiveDays: an endpoint whose attempts fail
// for 5 days is disabled; the project's other endpoint receives
// hookd.endpoint.failing and hookd.endpoint.disabled, signed; the dead
// endpoint never receives its own. One success in between restarts the
// five days.
func TestFailingEndpointDisabledAfterFiveDays(t *testing.T) {
	s, clk := healthServer(t, 5*24*time.Hour)
	p := s.newProject("acme")
	dead := newSwitchable(t)
	deadID := s.newEndpoint(p, dead.URL(), "order.*", "hookd.*")
	watcher := newReceiver(t)
	s.newEndpoint(p, watcher.URL(), "hookd.endpoint.*")

	openBreaker(t, s, clk, p, dead, deadID)
	h := s.endpointHealth(p, deadID)
	if h.FailingSince == nil || !h.FailingSince.Equal(healthStart) || h.ConsecutiveFailures != 20 || h.NextProbeAt == nil { // health.DefaultThreshold attempts, all failed
		t.Fatalf("health once the breaker opened: %+v", h)
	}
	waitFor(t, "the failing event", func() bool { return len(watcher.received()) == 1 })

	// Probes keep failing for three days; then one succeeds.
	probeDays := func(days int) {
		for range days * 2 {
			f := s.endpointHealth(p, deadID).ConsecutiveFailures
			clk.Advance(12 * time.Hour)
			s.publish(p, "order.created", map[string]any{})
			waitFor(t, "a failed probe", func() bool { return s.endpointHealth(p, deadID).ConsecutiveFailures > f })
		}
	}
	probeDays(3)
	if h := s.endpointHealth(p, deadID); !h.Enabled || h.Breaker != "open" {
		t.Fatalf("after three days: %+v", h)
	}
	dead.down.Store(false)
	clk.Advance(12 * time.Hour)
	s.publish(p, "order.created", map[string]any{})
	waitFor(t, "recovery", func() bool { return s.endpointHealth(p, deadID).Breaker == "closed" })
	recoveredAt := clk.Now()
	waitFor(t, "everything delivered", func() bool {
		var l struct{ Items []delivery }
		s.must(200, "GET", "/v1/projects/"+p.ID+"/deliveries?endpoint_id="+deadID+"&status=retrying", p.Key, nil, &l)
		return len(l.Items) == 0
	})
	dead.down.Store(true)

	// Failing again: five more days from the next failure.
	openBreaker(t, s, clk, p, dead, deadID)
	h = s.endpointHealth(p, deadID)
	if h.FailingSince == nil || h.FailingSince.Before(recoveredAt) || h.LastSuccessAt == nil || h.LastSuccessAt.Before(recoveredAt) {
		t.Fatalf("health after failing again: %+v (recovered at %s)", h, recoveredAt)
	}
	probeDays(4)
	if h := s.endpointHealth(p, deadID); !h.Enabled {
		t.Fatalf("disabled four days after the last success: %+v", h)
	}
	for s.endpointHealth(p, deadID).Enabled {
		f := s.endpointHealth(p, deadID).ConsecutiveFailures
		clk.Advance(12 * time.Hour)
		s.publish(p, "order.created", map[string]any{})
		waitFor(t, "a failed probe or the disabling", func() bool {
			h := s.endpointHealth(p, deadID)
			return h.ConsecutiveFailures > f || !h.Enabled
		})
	}
	h = s.endpointHealth(p, deadID)
	if d := clk.Now().Sub(*h.FailingSince); d < 5*24*time.Hour {
		t.Errorf("disabled %s after failing started, want 5 days", clk.Now().Sub(*h.FailingSince))
	}
	if h.DisabledReason == "" {
		t.Errorf("disabled without a reason: %+v", h)
	}

	want := []string{"hookd.endpoint.failing", "hookd.endpoint.recovered", "hookd.endpoint.failing", "hookd.endpoint.disabled"}
	// Delivery is at least once: the fake clock's jumps expire leases, so
	// an event may come twice; operational counts each event once.
	waitFor(t, "the disabled event", func() bool {
		return len(operational(t, watcher.received(), p.Secret, clk.Now())) == len(want)
	})
	if got := operational(t, watcher.received(), p.Secret, clk.Now()); !slices.Equal(got, want) {
		t.Fatalf("the other endpoint received %v, want %v", got, want)
	}
	dead.mu.Lock()
	defer dead.mu.Unlock()
	for _, r := range dead.got {
		var ev struct{ Type string }
		json.Unmarshal(r.Body, &ev)
		if ev.Type != "order.created" {
			t.Fatalf("the failing endpoint received %s", ev.Type)
		}
	}
}

// TestGoneEndpointAnnouncedOnce: an endpoint that answers 410 Gone to
// several deliveries in flight at once is disabled with the 410 as its
// reason, and the project's other endpoint subscribed to hookd.* receives
// exactly one hookd.endpoint.disabled about it, signed; the gone endpoint
// receives none of its own.
func TestGoneEndpointAnnouncedOnce(t *testing.T) {
	s, clk := healthServer(t, 5*24*time.Hour)
	p := s.newProject("acme")
	const inFlight = 8
	var (
		mu     sync.Mutex
		types  []string
		answer = make(chan struct{}) // closed: every request is answered 410
		once   sync.Once
	)
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ Type string }
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &ev)
		mu.Lock()
		types = append(types, ev.Type)
		mu.Unlock()
		<-answer
		w.WriteHeader(http.StatusGone)
	}))
	t.Cleanup(gone.Close)
	t.Cleanup(func() { once.Do(func() { close(answer) }) }) // before Close, which waits for the handlers
	goneID := s.newEndpoint(p, gone.URL+"/hook", "order.*", "hookd.*")
	watcher := newReceiver(t)
	s.newEndpoint(p, watcher.URL(), "hookd.*")

	for i := range inFlight {
		s.publish(p, "order.created", map[string]any{"n": i})
	}
	waitFor(t, "every delivery in flight at the gone endpoint", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(types) == inFlight
	})
	once.Do(func() { close(answer) })
	waitFor(t, "every 410 recorded", func() bool {
		var l struct{ Items []delivery }
		s.must(200, "GET", "/v1/projects/"+p.ID+"/deliveries?endpoint_id="+goneID+"&status=failed", p.Key, nil, &l)
		return len(l.Items) == inFlight
	})
	if h := s.endpointHealth(p, goneID); h.Enabled || !strings.Contains(h.DisabledReason, "410 Gone") {
		t.Fatalf("endpoint after answering 410: %+v", h)
	}
	waitFor(t, "the disabled event", func() bool { return len(watcher.received()) > 0 })
	// Every 410 is recorded; once the engine has settled, every disabling
	// Complete reported has been published: the log below is final.
	waitFor(t, "the engine settled", s.settled)

	if got := operational(t, watcher.received(), p.Secret, clk.Now()); !slices.Equal(got, []string{"hookd.endpoint.disabled"}) {
		t.Fatalf("the other endpoint received %v, want one hookd.endpoint.disabled", got)
	}
	var ev struct {
		Data struct {
			EndpointID     string `json:"endpoint_id"`
			URL            string `json:"url"`
			DisabledReason string `json:"disabled_reason"`
		} `json:"data"`
	}
	if err := json.Unmarshal(watcher.received()[0].Body, &ev); err != nil {
		t.Fatal(err)
	}
	if d := ev.Data; d.EndpointID != goneID || d.URL != gone.URL+"/hook" || !strings.Contains(d.DisabledReason, "410 Gone") {
		t.Errorf("event data %+v, want the gone endpoint and its 410 reason", d)
	}
	var l struct{ Items []struct{ ID string } }
	s.must(200, "GET", "/v1/projects/"+p.ID+"/events?type=hookd.endpoint.disabled", p.Key, nil, &l)
	if len(l.Items) != 1 {
		t.Errorf("%d hookd.endpoint.disabled events in the log, want 1", len(l.Items))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, typ := range types {
		if typ != "order.created" {
			t.Errorf("the gone endpoint received %s", typ)
		}
	}
}

// TestBreakerProbesOnce: a dead endpoint with 500 due deliveries gets one
// probe per probe interval, not hundreds of requests, and once it answers
// every delivery arrives, none counted as more attempts than were made.
func TestBreakerProbesOnce(t *testing.T) {
	s, clk := healthServer(t, 0)
	p := s.newProject("acme")
	dead := newSwitchable(t)
	deadID := s.newEndpoint(p, dead.URL())
	openBreaker(t, s, clk, p, dead, deadID)
	before := dead.count()

	for i := range 500 {
		s.publish(p, "order.created", map[string]any{"n": i + 1})
	}
	clk.Advance(10 * time.Second) // every one of them due
	// Probes: one each time the probe is due, the interval growing to a
	// minute.
	for probe := 1; probe <= 5; probe++ {
		h := s.endpointHealth(p, deadID)
		clk.Set(*h.NextProbeAt)
		waitFor(t, "a failed probe", func() bool { return s.endpointHealth(p, deadID).ConsecutiveFailures > h.ConsecutiveFailures })
		// Requests that must not come would come from a claim made at this
		// probe time after the failure was written: wait for one to have
		// begun after it (the second from now) and for what it took to
		// be sent and recorded.
		claims := s.metric("hookd_delivery_claims_total")
		waitFor(t, "a claim after the failed probe, and the engine settled", func() bool {
			return s.metric("hookd_delivery_claims_total") >= claims+2 && s.settled()
		})
		if got := dead.count(); got != before+probe {
			t.Fatalf("after %d probe times the endpoint got %d requests, want %d", probe, got-before, probe)
		}
	}
	if h := s.endpointHealth(p, deadID); h.NextProbeAt.Sub(clk.Now()) != time.Minute {
		t.Errorf("probe interval after 5 failed probes = %s, want the 1 min cap", h.NextProbeAt.Sub(clk.Now()))
	}

	dead.down.Store(false)
	clk.Set(*s.endpointHealth(p, deadID).NextProbeAt)
	waitFor(t, "every delivery", func() bool {
		if dead.delivered() < 501 {
			clk.Advance(time.Second) // the first event's retries
		}
		return dead.delivered() == 501
	})
	// Held deliveries were never attempted while held: the attempts the
	// log shows are the requests the endpoint got.
	waitFor(t, "every outcome recorded", func() bool { return logAttempts(s, p) == dead.count() })
}

// metric sums the samples of the metric name in hookd's /metrics.
func (s *server) metric(name string) float64 {
	s.t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				s.t.Fatalf("metric line %q: %v", line, err)
			}
			sum += v
		}
	}
	return sum
}

// settled reports whether the delivery engine holds nothing: no delivery
// claimed and not yet recorded, no health observation or operational
// event still to write or publish.
func (s *server) settled() bool {
	return s.metric("hookd_inflight_deliveries") == 0 && s.metric("hookd_health_watch_backlog") == 0
}

// logAttempts sums the attempt counts of the project's deliveries.
func logAttempts(s *server, p project) int {
	attempts := 0
	page := ""
	for {
		var l struct {
			Items      []delivery
			NextCursor string `json:"next_cursor"`
		}
		s.must(200, "GET", "/v1/projects/"+p.ID+"/deliveries?limit=200&cursor="+page, p.Key, nil, &l)
		for _, d := range l.Items {
			attempts += d.AttemptCount
		}
		if l.NextCursor == "" {
			break
		}
		page = l.NextCursor
	}
	return attempts
}
