package delivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/retry"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/webhook"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// fixture is a real SQLite store, a project with a secret, a fake clock
// and an engine sending through a real outbound client.
type fixture struct {
	t      *testing.T
	st     store.Store
	clk    *clock.Fake
	secret string
	pid    string
	eng    *delivery.Engine
	cancel context.CancelFunc
	done   chan error
}

func newFixture(t *testing.T, cfg delivery.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, clk: clock.NewFake(t0), pid: ids.New(ids.Project, t0)}
	if err := st.CreateProject(ctx, store.Project{ID: f.pid, Name: "p", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	f.secret, _ = webhook.NewSecret()
	if err := st.AddSecret(ctx, store.Secret{ID: ids.New(ids.Secret, t0), ProjectID: f.pid, Value: f.secret, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	client, err := outbound.New(outbound.Config{AllowPrivateNetworks: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.CloseIdleConnections)
	cfg.Store, cfg.Sender, cfg.Clock = st, client, f.clk
	cfg.Keys = delivery.NewKeys(st, nil, time.Second)
	if cfg.Retry == nil {
		cfg.Retry = &retry.Schedule{Delays: []time.Duration{5 * time.Second, time.Minute}}
	}
	cfg.PollInterval = 20 * time.Millisecond
	f.eng, err = delivery.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) run() {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() { f.done <- f.eng.Run(ctx) }()
	f.t.Cleanup(f.stop)
}

func (f *fixture) stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	<-f.done
	f.cancel = nil
}

func (f *fixture) endpoint(url string) string {
	f.t.Helper()
	id := ids.New(ids.Endpoint, t0)
	if err := f.st.CreateEndpoint(context.Background(), store.Endpoint{ID: id, ProjectID: f.pid, URL: url, Enabled: true, CreatedAt: t0, UpdatedAt: t0}); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// publish stores an event and returns its deliveries.
func (f *fixture) publish(n int) []store.DeliveryRef {
	f.t.Helper()
	var events []store.Event
	for range n {
		now := f.clk.Now()
		id := ids.New(ids.Event, now)
		events = append(events, store.Event{ID: id, ProjectID: f.pid, Type: "tester.created", Body: []byte(`{"id":"` + id + `"}`), CreatedAt: now})
	}
	res, err := f.st.Publish(context.Background(), events, t0.Add(-24*time.Hour), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	var refs []store.DeliveryRef
	for _, r := range res {
		refs = append(refs, r.Deliveries...)
	}
	f.eng.Wake()
	return refs
}

func (f *fixture) delivery(id string) store.Delivery {
	f.t.Helper()
	d, err := f.st.GetDelivery(context.Background(), f.pid, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// waitFor polls until cond holds; the deadline only bounds a broken run.
func (f *fixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			ds, _ := f.st.ListDeliveries(context.Background(), f.pid, store.DeliveryFilter{}, store.Page{Limit: 500})
			for _, d := range ds {
				f.t.Logf("%s ep=%s status=%s attempts=%d next=%v err=%s", d.ID, d.EndpointID, d.Status, d.AttemptCount, d.NextAttemptAt, d.LastError)
			}
			f.t.Fatalf("timed out waiting for %s", what)
		}
		f.eng.Wake()
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRetryScheduleWithInjectedClock(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	f := newFixture(t, delivery.Config{})
	f.endpoint(srv.URL)
	f.run()
	d := f.publish(1)[0]
	f.waitFor("first attempt", func() bool { return f.delivery(d.ID).Status == store.StatusRetrying })
	got := f.delivery(d.ID)
	if want := t0.Add(5 * time.Second); !got.NextAttemptAt.Equal(want) {
		t.Fatalf("next attempt at %v, want %v (schedule without jitter)", got.NextAttemptAt, want)
	}
	// Not due yet: nothing happens however often the engine looks.
	for range 5 {
		f.eng.Wake()
		time.Sleep(5 * time.Millisecond)
	}
	if calls.Load() != 1 {
		t.Fatalf("retried before it was due: %d calls", calls.Load())
	}
	f.clk.Advance(5 * time.Second)
	f.waitFor("retry", func() bool { return f.delivery(d.ID).Status == store.StatusSucceeded })
	if got := f.delivery(d.ID); got.AttemptCount != 2 || got.LastStatusCode != 204 {
		t.Fatalf("delivery after retry: %+v", got)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	f := newFixture(t, delivery.Config{})
	f.endpoint(srv.URL)
	f.run()
	d := f.publish(1)[0]
	f.waitFor("attempt", func() bool { return f.delivery(d.ID).Status == store.StatusRetrying })
	if got, want := f.delivery(d.ID).NextAttemptAt, t0.Add(120*time.Second); !got.Equal(want) {
		t.Fatalf("next attempt at %v, want %v (Retry-After 120 beats the 5s schedule)", got, want)
	}
}

func TestGoneDisablesEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(410) }))
	defer srv.Close()
	f := newFixture(t, delivery.Config{Workers: 1, PerEndpoint: 1})
	ep := f.endpoint(srv.URL)
	refs := f.publish(3)
	f.run()
	f.waitFor("410 handled", func() bool {
		e, _ := f.st.GetEndpoint(context.Background(), f.pid, ep)
		return !e.Enabled
	})
	e, _ := f.st.GetEndpoint(context.Background(), f.pid, ep)
	if e.DisabledReason == "" {
		t.Error("disabled without a reason")
	}
	f.waitFor("all finished", func() bool {
		for _, r := range refs {
			if s := f.delivery(r.ID).Status; s != store.StatusFailed && s != store.StatusCancelled {
				return false
			}
		}
		return true
	})
	failed := 0
	for _, r := range refs {
		if f.delivery(r.ID).Status == store.StatusFailed {
			failed++
		}
	}
	if failed != 1 {
		t.Fatalf("%d deliveries failed, want 1 (the one that got 410; the rest cancelled)", failed)
	}
}

// TestSlowEndpointCannotStarveOthers: one endpoint that hangs holds at most
// PerEndpoint workers; another endpoint's deliveries all go through.
func TestSlowEndpointCannotStarveOthers(t *testing.T) {
	release := make(chan struct{})
	var inFlight, peak atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	var fast atomic.Int32
	quick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fast.Add(1) }))
	defer quick.Close()

	f := newFixture(t, delivery.Config{Workers: 4, PerEndpoint: 2, ClaimBatch: 50})
	f.endpoint(slow.URL)
	// Many deliveries for the slow endpoint first, so they are the oldest due.
	f.publish(40)
	f.endpoint(quick.URL)
	f.clk.Advance(time.Second)
	f.publish(40) // these go to both endpoints
	f.run()
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	f.waitFor("fast endpoint deliveries", func() bool { return fast.Load() >= 40 })
	if n := peak.Load(); n > 2 {
		t.Errorf("slow endpoint had %d requests in flight, limit 2", n)
	}
	unblock()
	f.stop()
}

// TestExpiredLeaseIsClaimedAgain: a delivery claimed by a node that died is
// delivered once its lease expires.
func TestExpiredLeaseIsClaimedAgain(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	f := newFixture(t, delivery.Config{Lease: time.Minute})
	f.endpoint(srv.URL)
	d := f.publish(1)[0]
	// A "dead node" claims it and never reports back.
	claimed, err := f.st.Claim(context.Background(), store.ClaimParams{Now: f.clk.Now(), Limit: 10, Lease: time.Minute, Owner: "dead"})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %d", err, len(claimed))
	}
	f.run()
	for range 5 {
		f.eng.Wake()
		time.Sleep(5 * time.Millisecond)
	}
	if got.Load() != 0 {
		t.Fatal("delivered while another node's lease was alive")
	}
	f.clk.Advance(time.Minute + time.Second)
	f.waitFor("re-claim after lease", func() bool { return f.delivery(d.ID).Status == store.StatusSucceeded })
	if got.Load() != 1 {
		t.Fatalf("receiver got %d requests, want 1", got.Load())
	}
}

// TestShutdownDrainsInFlight: a request in flight when Run's context ends
// finishes and is recorded.
func TestShutdownDrainsInFlight(t *testing.T) {
	entered := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(entered) })
		time.Sleep(100 * time.Millisecond)
	}))
	defer srv.Close()
	f := newFixture(t, delivery.Config{})
	f.endpoint(srv.URL)
	d := f.publish(1)[0]
	f.run()
	<-entered
	f.stop()
	if got := f.delivery(d.ID); got.Status != store.StatusSucceeded || got.AttemptCount != 1 {
		t.Fatalf("after drain: %+v", got)
	}
}

// TestSignatureVerifies: what the engine sends verifies with the project
// secret, and webhook-id is the event id.
func TestSignatureVerifies(t *testing.T) {
	type req struct {
		h    http.Header
		body []byte
	}
	reqs := make(chan req, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(b)
		reqs <- req{r.Header.Clone(), b}
	}))
	defer srv.Close()
	f := newFixture(t, delivery.Config{})
	f.endpoint(srv.URL)
	d := f.publish(1)[0]
	f.run()
	r := <-reqs
	dl := f.delivery(d.ID)
	if r.h.Get("webhook-id") != dl.EventID {
		t.Errorf("webhook-id %q, want %q", r.h.Get("webhook-id"), dl.EventID)
	}
	v, _ := webhook.NewVerifier([]string{f.secret}, webhook.WithNow(f.clk.Now))
	if err := v.Verify(r.body, r.h); err != nil {
		t.Fatalf("verify: %v", err)
	}
}
