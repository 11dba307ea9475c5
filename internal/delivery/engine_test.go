package delivery_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
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
	"github.com/prometheus/client_golang/prometheus"
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
	path   string // the SQLite file
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
	path := filepath.Join(t.TempDir(), "hookd.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, path: path, clk: clock.NewFake(t0), pid: ids.New(ids.Project, t0)}
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
	if h, ok := cfg.Store.(*hooked); ok {
		h.Store = st // the engine sees the test's hooks; the test reads st
	} else {
		cfg.Store = st
	}
	cfg.Sender, cfg.Clock = client, f.clk
	cfg.Keys = delivery.NewKeys(cfg.Store, nil, time.Second)
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

// publish stores n events and returns their deliveries.
func (f *fixture) publish(n int) []store.DeliveryRef {
	f.t.Helper()
	var refs []store.DeliveryRef
	for _, r := range f.publishWith(nil, n) {
		refs = append(refs, r.Deliveries...)
	}
	f.eng.Wake()
	return refs
}

// publishWith stores n events through the store's Publish with direct.
func (f *fixture) publishWith(direct *store.DirectClaim, n int) []store.PublishResult {
	f.t.Helper()
	var events []store.Event
	for range n {
		now := f.clk.Now()
		id := ids.New(ids.Event, now)
		events = append(events, store.Event{ID: id, ProjectID: f.pid, Type: "tester.created", Body: []byte(`{"id":"` + id + `"}`), CreatedAt: now})
	}
	res, err := f.st.Publish(context.Background(), events, t0.Add(-24*time.Hour), direct)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
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
	h := &hooked{}
	f := newFixture(t, delivery.Config{Store: h})
	f.endpoint(srv.URL)
	f.run()
	d := f.publish(1)[0]
	f.waitFor("first attempt", func() bool { return f.delivery(d.ID).Status == store.StatusRetrying })
	got := f.delivery(d.ID)
	if want := t0.Add(5 * time.Second); !got.NextAttemptAt.Equal(want) {
		t.Fatalf("next attempt at %v, want %v (schedule without jitter)", got.NextAttemptAt, want)
	}
	// Not due yet: nothing happens however often the engine looks.
	f.claimsFindNothing(h, 3)
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

// TestGoneDisablesEndpoint: the first delivery gets the 410 and fails; the
// endpoint is disabled, and this node sends it nothing more: the other
// deliveries, claimed with it, are cancelled unsent.
func TestGoneDisablesEndpoint(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(410)
	}))
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
	checkGone(t, f, refs, &requests)
}

// checkGone checks that exactly one of refs was sent (and failed with the
// 410) and the others were cancelled unsent.
func checkGone(t *testing.T, f *fixture, refs []store.DeliveryRef, requests *atomic.Int32) {
	t.Helper()
	failed := 0
	for _, r := range refs {
		d := f.delivery(r.ID)
		switch d.Status {
		case store.StatusFailed:
			failed++
			if d.AttemptCount != 1 || d.LastStatusCode != 410 {
				t.Errorf("failed delivery %s: %d attempts, last status %d; want the one 410", d.ID, d.AttemptCount, d.LastStatusCode)
			}
		case store.StatusCancelled:
			if d.AttemptCount != 0 || !strings.HasPrefix(d.LastError, "endpoint disabled: ") {
				t.Errorf("cancelled delivery %s: %d attempts, last error %q; want none, endpoint disabled", d.ID, d.AttemptCount, d.LastError)
			}
		default:
			t.Errorf("delivery %s is %s", d.ID, d.Status)
		}
	}
	if failed != 1 || requests.Load() != 1 {
		t.Fatalf("%d deliveries failed, the receiver got %d requests; want 1 and 1 (the 410; the rest cancelled unsent)", failed, requests.Load())
	}
}

// TestGoneHeldUntilRecorded: until the 410's disabling is recorded, the
// node holds back every delivery of the endpoint (the database does not
// know yet, so asking it would let them go): they are given back unsent
// and Direct takes none; once recorded, the give-backs are cancelled.
func TestGoneHeldUntilRecorded(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(410)
	}))
	defer srv.Close()
	release := make(chan struct{})
	h := &hooked{}
	h.complete = func(ctx context.Context, outs []store.Outcome) ([]store.Endpoint, error) {
		for _, o := range outs {
			if _, ok := o.DisablesEndpoint(); ok {
				select {
				case <-release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		return h.Store.Complete(ctx, outs)
	}
	// The first claim takes two: one is sent, one waits behind it and
	// reaches the worker after the 410.
	f := newFixture(t, delivery.Config{Store: h, Workers: 2, PerEndpoint: 1})
	ep := f.endpoint(srv.URL)
	refs := f.publish(3)
	f.run()
	// The 410 waits for the recorder, with the give-back of the one
	// behind it (and of the third, if a claim took it before the 410);
	// nothing else is sent or waits for a worker (claims skip the
	// endpoint meanwhile).
	f.waitFor("the 410 and a give-back waiting to be recorded, and nothing else in flight", func() bool {
		return f.eng.Inflight("recording") >= 2 && f.eng.Inflight("sending") == 0 && f.eng.Inflight("queued") == 0
	})
	if n := requests.Load(); n != 1 {
		t.Fatalf("the receiver got %d requests before the 410 was recorded, want 1", n)
	}
	if f.eng.Direct(f.clk.Now()).Take(ep) {
		t.Error("Take accepted the endpoint whose 410 is not recorded yet")
	}
	if !f.eng.Direct(f.clk.Now()).Take("ep_other") {
		t.Error("Take refused another endpoint")
	}
	close(release)
	f.waitFor("all finished", func() bool {
		for _, r := range refs {
			if s := f.delivery(r.ID).Status; s != store.StatusFailed && s != store.StatusCancelled {
				return false
			}
		}
		return true
	})
	checkGone(t, f, refs, &requests)
}

// TestEnableAfterGoneSends: once the 410's disabling is recorded and the
// endpoint enabled again, nothing this node remembers holds a delivery
// back: what is published next is sent and succeeds.
func TestEnableAfterGoneSends(t *testing.T) {
	var code atomic.Int32
	code.Store(410)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	f := newFixture(t, delivery.Config{})
	ep := f.endpoint(srv.URL)
	f.run()
	d := f.publish(1)[0]
	f.waitFor("410 recorded", func() bool { return f.delivery(d.ID).Status == store.StatusFailed })
	code.Store(200)
	e, err := f.st.GetEndpoint(context.Background(), f.pid, ep)
	if err != nil || e.Enabled {
		t.Fatalf("endpoint after the 410: %+v, %v; want disabled", e, err)
	}
	e.Enabled, e.DisabledReason = true, ""
	e.UpdatedAt = f.clk.Now() // the same instant: the fake clock did not move
	if err := f.st.UpdateEndpoint(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		d := f.publish(1)[0]
		f.waitFor("a delivery after the enable", func() bool { return finished(f.delivery(d.ID)) })
		if got := f.delivery(d.ID); got.Status != store.StatusSucceeded {
			t.Fatalf("delivery after the enable: %s (%s), want succeeded", got.Status, got.LastError)
		}
	}
}

func finished(d store.Delivery) bool {
	switch d.Status {
	case store.StatusSucceeded, store.StatusFailed, store.StatusCancelled:
		return true
	}
	return false
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
	h := &hooked{}
	f := newFixture(t, delivery.Config{Store: h, Lease: time.Minute})
	f.endpoint(srv.URL)
	d := f.publish(1)[0]
	// A "dead node" claims it and never reports back.
	claimed, err := f.st.Claim(context.Background(), store.ClaimParams{Now: f.clk.Now(), Limit: 10, Lease: time.Minute, Owner: "dead"})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %d", err, len(claimed))
	}
	f.run()
	f.claimsFindNothing(h, 3)
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
	entered, proceed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(entered) })
		<-proceed
	}))
	defer srv.Close()
	f := newFixture(t, delivery.Config{})
	f.endpoint(srv.URL)
	d := f.publish(1)[0]
	f.run()
	<-entered
	f.cancel() // Run's context ends while the request is in flight
	close(proceed)
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

// publishDirect stores n events, claiming their deliveries through d as the
// publish batcher does, and returns the claims.
func (f *fixture) publishDirect(d *store.DirectClaim, n int) []store.Claimed {
	f.t.Helper()
	var claimed []store.Claimed
	for _, r := range f.publishWith(d, n) {
		claimed = append(claimed, r.Claimed...)
	}
	return claimed
}

// deliverDirect publishes n events with the engine's Direct and hands
// what they claimed to Deliver, as the publish committer does.
func (f *fixture) deliverDirect(n int) []store.Claimed {
	f.t.Helper()
	d := f.eng.Direct(f.clk.Now())
	claimed := f.publishDirect(d, n)
	f.eng.Deliver(d, claimed)
	return claimed
}

// accepted asks take about ep n times and returns how many it accepted.
func accepted(take func(string) bool, ep string, n int) int {
	got := 0
	for range n {
		if take(ep) {
			got++
		}
	}
	return got
}

// blocker is a receiver that holds every request until released.
type blocker struct {
	srv      *httptest.Server
	release  chan struct{}
	once     sync.Once
	received atomic.Int32
}

func newBlocker(t *testing.T) *blocker {
	t.Helper()
	b := &blocker{release: make(chan struct{})}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.received.Add(1)
		select {
		case <-b.release:
		case <-r.Context().Done():
		}
	}))
	// Cleanups run last first: release, then close (which waits for the
	// handlers).
	t.Cleanup(b.srv.Close)
	t.Cleanup(b.unblock)
	return b
}

func (b *blocker) unblock() { b.once.Do(func() { close(b.release) }) }

// TestDirectTakeLimits: one DirectClaim accepts, per endpoint, PerEndpoint
// running plus half a queue (4*PerEndpoint), and Workers in all, counting
// what it has already accepted. Another DirectClaim asked for before the
// first is delivered (a second publish committer) shares that budget: it
// accepts nothing more. Once the first is delivered, here with nothing
// claimed (its batch did not commit), a new one has the whole budget.
func TestDirectTakeLimits(t *testing.T) {
	type ask struct {
		ep      string
		n, want int
	}
	for _, tc := range []struct {
		name             string
		workers, perEndp int
		asks             []ask
	}{
		// 2 running and 8 (half of 8×2) queued per endpoint.
		{"per endpoint", 100, 2, []ask{{"ep_a", 20, 10}, {"ep_b", 20, 10}, {"ep_a", 1, 0}}},
		// Workers bounds what runs (6 endpoints × 2), not the queues.
		{"workers bound running", 12, 2, []ask{
			{"ep_a", 20, 10}, {"ep_b", 20, 10}, {"ep_c", 20, 10}, {"ep_d", 20, 10}, {"ep_e", 20, 10}, {"ep_f", 20, 10},
			{"ep_g", 5, 0},
		}},
		// 3 workers: A runs 2, B runs 1; queues in all up to 4×3.
		{"workers below one endpoint's share", 3, 2, []ask{{"ep_a", 20, 10}, {"ep_b", 20, 5}, {"ep_c", 5, 0}}},
		// PerEndpoint is capped at Workers: 4 running, 16 queued.
		{"PerEndpoint above Workers", 4, 8, []ask{{"ep_a", 30, 20}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, delivery.Config{Workers: tc.workers, PerEndpoint: tc.perEndp})
			for round := range 2 {
				d := f.eng.Direct(f.clk.Now())
				if d == nil {
					t.Fatal("Direct = nil before Run")
				}
				for _, a := range tc.asks {
					if got := accepted(d.Take, a.ep, a.n); got != a.want {
						t.Errorf("round %d: Take(%s) accepted %d of %d, want %d", round, a.ep, got, a.n, a.want)
					}
				}
				concurrent := f.eng.Direct(f.clk.Now())
				for _, a := range tc.asks {
					if got := accepted(concurrent.Take, a.ep, a.n); got != 0 {
						t.Errorf("round %d: a second committer's Take(%s) accepted %d beyond the first's budget", round, a.ep, got)
					}
				}
				f.eng.Deliver(concurrent, nil)
				f.eng.Deliver(d, nil)
			}
		})
	}
}

// TestDirectTakeCountsEngineLoad: what the engine is running and has
// queued counts against a new DirectClaim, per endpoint and in all.
func TestDirectTakeCountsEngineLoad(t *testing.T) {
	for _, tc := range []struct {
		name         string
		workers      int
		wantA, wantB int // accepted of 20 asks each, after 3 deliveries of A are held
	}{
		// A: 2 running + 1 queued of its 2+8; B is free.
		{"per endpoint", 100, 10 - 3, 10},
		// 6 workers, 2 of them busy with A: B still runs 2 and queues 8.
		{"workers in all", 6, 10 - 3, 10},
		// 2 workers, both busy with A: B cannot start, so nothing may
		// queue behind it.
		{"no worker free", 2, 10 - 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := newBlocker(t)
			f := newFixture(t, delivery.Config{Workers: tc.workers, PerEndpoint: 2, Lease: time.Hour})
			a := f.endpoint(recv.srv.URL)
			f.run()
			held := f.deliverDirect(3)
			if len(held) != 3 {
				t.Fatalf("claimed %d at publish, want 3", len(held))
			}
			d := f.eng.Direct(f.clk.Now())
			if got := accepted(d.Take, a, 20); got != tc.wantA {
				t.Errorf("Take(busy endpoint) accepted %d, want %d", got, tc.wantA)
			}
			if got := accepted(d.Take, "ep_other", 20); got != tc.wantB {
				t.Errorf("Take(other endpoint) accepted %d, want %d", got, tc.wantB)
			}
			f.waitFor("two requests at the receiver", func() bool { return recv.received.Load() == 2 })
			recv.unblock()
			f.waitFor("all sent", func() bool {
				for _, c := range held {
					if f.delivery(c.Delivery.ID).Status != store.StatusSucceeded {
						return false
					}
				}
				return true
			})
			if n := recv.received.Load(); n != 3 {
				t.Errorf("receiver got %d requests, want 3", n)
			}
		})
	}
}

// TestDirectAfterStop: once Run has stopped, Direct offers no claim, and a
// DirectClaim handed out before refuses.
func TestDirectAfterStop(t *testing.T) {
	f := newFixture(t, delivery.Config{})
	f.run()
	before := f.eng.Direct(f.clk.Now())
	if before == nil {
		t.Fatal("Direct = nil while running")
	}
	f.stop()
	if d := f.eng.Direct(f.clk.Now()); d != nil {
		t.Errorf("Direct after stop = %+v, want nil", d)
	}
	if before.Take("ep_a") {
		t.Error("a DirectClaim from before the stop accepted a delivery after it")
	}
}

// TestDeliverSendsDirectClaim: a delivery claimed at publish and handed to
// Deliver is sent once, with its body, and its outcome recorded.
func TestDeliverSendsDirectClaim(t *testing.T) {
	type req struct {
		id   string
		body string
		sig  string
	}
	reqs := make(chan req, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		reqs <- req{r.Header.Get("webhook-id"), string(b), r.Header.Get("webhook-signature")}
	}))
	defer srv.Close()
	// The fake clock never reaches the publish claim's lease expiry, so
	// Claim cannot hand this delivery to the engine: if it is sent, it
	// went through Deliver.
	f := newFixture(t, delivery.Config{Owner: "node-1"})
	f.endpoint(srv.URL)
	f.run()
	claimed := f.deliverDirect(1)
	if len(claimed) != 1 {
		t.Fatalf("claimed %d at publish, want 1", len(claimed))
	}
	c := claimed[0]
	f.waitFor("delivered", func() bool { return f.delivery(c.Delivery.ID).Status == store.StatusSucceeded })
	f.stop()
	r := <-reqs
	if r.id != c.Delivery.EventID || r.body != string(c.Body) || r.sig == "" {
		t.Errorf("receiver got id %q, body %q, signature %q; want %q, %q, one", r.id, r.body, r.sig, c.Delivery.EventID, c.Body)
	}
	if n := len(reqs); n != 0 {
		t.Errorf("receiver got %d more requests, want the one", n)
	}
	d := f.delivery(c.Delivery.ID)
	if d.AttemptCount != 1 || d.LastStatusCode != 200 || d.LeaseToken != "" {
		t.Errorf("delivery after the attempt: %+v", d)
	}
	atts, err := f.st.ListAttempts(context.Background(), f.pid, c.Delivery.ID)
	if err != nil || len(atts) != 1 || atts[0].StatusCode != 200 || atts[0].Signature != r.sig {
		t.Errorf("attempts: %+v, %v; want one answered 200, with the signature sent (%s)", atts, err, r.sig)
	}
}

// TestDeliverGivesBack: deliveries that reach Deliver when they cannot run
// — the engine is stopping, or a concurrent batch's claims took the
// workers — go back to the pool: pending, due at once, no lease.
func TestDeliverGivesBack(t *testing.T) {
	wantBack := func(t *testing.T, f *fixture, cs []store.Claimed) {
		t.Helper()
		for _, c := range cs {
			// The recorder writes give-backs after Deliver returns.
			f.waitFor("given back", func() bool { return f.delivery(c.Delivery.ID).Status != store.StatusDelivering })
			d := f.delivery(c.Delivery.ID)
			if d.Status != store.StatusPending || d.LeaseToken != "" || !d.LeaseExpiresAt.IsZero() ||
				!d.NextAttemptAt.Equal(f.clk.Now()) || d.AttemptCount != 0 {
				t.Errorf("given back: %+v, want pending, due at %v, no lease", d, f.clk.Now())
			}
		}
	}

	t.Run("stopping", func(t *testing.T) {
		// The batch commits while the engine drains (a request in flight
		// holds Run): its claims are given back, and recorded before Run
		// returns.
		recv := newBlocker(t)
		f := newFixture(t, delivery.Config{Lease: time.Hour})
		f.endpoint(recv.srv.URL)
		f.run()
		f.deliverDirect(1)
		f.waitFor("a request in flight", func() bool { return recv.received.Load() == 1 })
		dc := f.eng.Direct(f.clk.Now())
		claimed := f.publishDirect(dc, 2)
		if len(claimed) != 2 {
			t.Fatalf("claimed %d at publish, want 2", len(claimed))
		}
		f.cancel()
		f.waitFor("draining", func() bool { return f.eng.Direct(f.clk.Now()) == nil })
		f.clk.Advance(time.Second)
		f.eng.Deliver(dc, claimed)
		recv.unblock()
		<-f.done
		f.cancel = nil
		wantBack(t, f, claimed)
		if n := recv.received.Load(); n != 1 {
			t.Errorf("receiver got %d requests, want only the one in flight before the stop", n)
		}
	})

	t.Run("no free worker", func(t *testing.T) {
		recv := newBlocker(t)
		f := newFixture(t, delivery.Config{Workers: 2, PerEndpoint: 2, Lease: time.Hour})
		f.endpoint(recv.srv.URL)
		// Two batches ask before either is delivered: each may take both
		// workers (Direct only estimates).
		d1, d2 := f.eng.Direct(f.clk.Now()), f.eng.Direct(f.clk.Now())
		first := f.publishDirect(d1, 2)
		f.clk.Advance(time.Second)
		second := f.publishDirect(d2, 2)
		if len(first) != 2 || len(second) != 2 {
			t.Fatalf("claimed %d and %d at publish, want 2 and 2", len(first), len(second))
		}
		f.run()
		f.eng.Deliver(d1, first)
		// Both workers are held by the receiver: the second batch's
		// deliveries queue behind them (same endpoint, room in its queue).
		f.eng.Deliver(d2, second)
		f.waitFor("two requests at the receiver", func() bool { return recv.received.Load() == 2 })
		for _, c := range second {
			if s := f.delivery(c.Delivery.ID).Status; s != store.StatusDelivering {
				t.Errorf("queued %s: %s, want still delivering (queued behind the running ones)", c.Delivery.ID, s)
			}
		}
		// A third endpoint's delivery has no running one to queue behind
		// and no worker: given back.
		other := f.endpoint(recv.srv.URL)
		d3 := f.eng.Direct(f.clk.Now())
		if d3.Take(other) {
			t.Error("Take accepted with every worker busy")
		}
		forced := f.publishDirect(&store.DirectClaim{Now: f.clk.Now(), Lease: time.Hour, Owner: "hookd",
			Take: func(ep string) bool { return ep == other }}, 1)
		if len(forced) != 1 {
			t.Fatalf("claimed %d for the other endpoint, want 1", len(forced))
		}
		f.eng.Deliver(nil, forced)
		wantBack(t, f, forced)
		recv.unblock()
		f.waitFor("all sent", func() bool {
			for _, c := range slices.Concat(first, second, forced) {
				if f.delivery(c.Delivery.ID).Status != store.StatusSucceeded {
					return false
				}
			}
			return true
		})
	})
}

// TestTakenMetric: hookd_deliveries_taken_total tells deliveries handed
// over by their publish from those found by a claim.
func TestTakenMetric(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	f := newFixture(t, delivery.Config{Metrics: delivery.NewMetrics(reg)})
	f.endpoint(srv.URL)
	f.run()
	direct := f.deliverDirect(3)
	pending := f.publish(2)
	f.waitFor("all sent", func() bool {
		for _, c := range direct {
			if f.delivery(c.Delivery.ID).Status != store.StatusSucceeded {
				return false
			}
		}
		for _, r := range pending {
			if f.delivery(r.ID).Status != store.StatusSucceeded {
				return false
			}
		}
		return true
	})
	got := map[string]float64{}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != "hookd_deliveries_taken_total" {
			continue
		}
		for _, m := range fam.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if got["publish"] != 3 || got["claim"] != 2 {
		t.Errorf("hookd_deliveries_taken_total = %v, want publish 3, claim 2", got)
	}
}

// TestDeliverDoesNoIO: Deliver only hands claims over. Those that do not
// fit are given back by the recorder later: while another connection holds
// the database's write lock, Deliver returns and the give-back waits; once
// the lock goes, it is written.
func TestDeliverDoesNoIO(t *testing.T) {
	recv := newBlocker(t)
	f := newFixture(t, delivery.Config{Workers: 1, PerEndpoint: 1, Lease: time.Hour})
	f.endpoint(recv.srv.URL)
	f.run()
	f.deliverDirect(1)
	f.waitFor("the only worker busy", func() bool { return recv.received.Load() == 1 })
	other := f.endpoint(recv.srv.URL)
	forced := f.publishDirect(&store.DirectClaim{Now: f.clk.Now(), Lease: time.Hour, Owner: "hookd",
		Take: func(ep string) bool { return ep == other }}, 1)
	if len(forced) != 1 {
		t.Fatalf("claimed %d for the other endpoint, want 1", len(forced))
	}

	lock, err := sql.Open("sqlite", f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	conn, err := lock.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	f.eng.Deliver(nil, forced) // no free worker: given back
	if s := f.delivery(forced[0].Delivery.ID).Status; s != store.StatusDelivering {
		t.Errorf("given back while the database was locked: %s", s)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	f.waitFor("the give-back recorded", func() bool {
		return f.delivery(forced[0].Delivery.ID).Status == store.StatusPending
	})
}
