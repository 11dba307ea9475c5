package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

// hooked is a store whose chosen methods a test replaces; the others are
// the wrapped store's (newFixture sets it).
type hooked struct {
	store.Store
	complete      func(ctx context.Context, outs []store.Outcome) ([]store.Endpoint, error)
	takeSlot      func(ctx context.Context, s store.SendSlot) (bool, time.Time, error)
	freeSlot      func(ctx context.Context, ep, token string, rateUntil, concUntil time.Time) error
	activeSecrets func(ctx context.Context, pid string, now time.Time) ([]store.Secret, error)
	// claims counts the Claims answered: empty, and those that took
	// something (see countClaims).
	claims struct{ empty, took atomic.Int32 }
}

func (h *hooked) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claimed, error) {
	c, err := h.Store.Claim(ctx, p)
	switch {
	case err != nil:
	case len(c) == 0:
		h.claims.empty.Add(1)
	default:
		h.claims.took.Add(1)
	}
	return c, err
}

// claimsFindNothing waits until the engine has made n more claims that
// found nothing, and fails if any claim took something meanwhile: what
// was not claimable at the fake clock's now stays unsent, since nothing
// is sent unclaimed (the proof of a negative, without sleeping).
func (f *fixture) claimsFindNothing(h *hooked, n int32) {
	f.t.Helper()
	took := h.claims.took.Load()
	until := h.claims.empty.Load() + n
	f.waitFor(fmt.Sprintf("%d claims that find nothing", n), func() bool { return h.claims.empty.Load() >= until })
	if got := h.claims.took.Load(); got != took {
		f.t.Fatalf("a claim took %d deliveries' worth meanwhile", got-took)
	}
}

func (h *hooked) Complete(ctx context.Context, outs []store.Outcome) ([]store.Endpoint, error) {
	if h.complete != nil {
		return h.complete(ctx, outs)
	}
	return h.Store.Complete(ctx, outs)
}

func (h *hooked) TakeSlot(ctx context.Context, s store.SendSlot) (bool, time.Time, error) {
	if h.takeSlot != nil {
		return h.takeSlot(ctx, s)
	}
	return h.Store.TakeSlot(ctx, s)
}

func (h *hooked) FreeSlot(ctx context.Context, ep, token string, rateUntil, concUntil time.Time) error {
	if h.freeSlot != nil {
		return h.freeSlot(ctx, ep, token, rateUntil, concUntil)
	}
	return h.Store.FreeSlot(ctx, ep, token, rateUntil, concUntil)
}

func (h *hooked) ActiveSecrets(ctx context.Context, pid string, now time.Time) ([]store.Secret, error) {
	if h.activeSecrets != nil {
		return h.activeSecrets(ctx, pid, now)
	}
	return h.Store.ActiveSecrets(ctx, pid, now)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// counter is a receiver that answers 204 and counts requests.
func counter(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(204)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestRecorderBacklogBoundsAdmission: while the database does not finish
// recording outcomes, the recorder's backlog fills and the engine admits
// no more work: the dispatcher waits for the recorder, Direct takes
// nothing, and the requests sent stop at the backlog's bound plus what
// the workers held. Once the database answers, everything is delivered.
func TestRecorderBacklogBoundsAdmission(t *testing.T) {
	release := make(chan struct{})
	h := &hooked{}
	h.complete = func(ctx context.Context, outs []store.Outcome) ([]store.Endpoint, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return h.Store.Complete(ctx, outs)
	}
	const workers, backlog = 2, 3
	srv, sent := counter(t)
	f := newFixture(t, delivery.Config{Store: h, Workers: workers, PerEndpoint: workers, MaxBacklog: backlog, Lease: time.Hour})
	ep := f.endpoint(srv.URL)
	refs := f.publish(30)
	f.run()
	f.waitFor("the dispatcher waiting for the recorder", f.eng.WaitingForRecorder)
	if n := sent.Load(); n > backlog+workers {
		t.Errorf("%d requests sent while nothing could be recorded, want at most %d", n, backlog+workers)
	}
	d := f.eng.Direct(f.clk.Now())
	if d.Take(ep) {
		t.Error("Direct took a delivery while the recorder's backlog was full")
	}
	f.eng.Deliver(d, nil)
	close(release)
	f.waitFor("every delivery", func() bool {
		for _, r := range refs {
			if f.delivery(r.ID).Status != store.StatusSucceeded {
				return false
			}
		}
		return true
	})
}

// TestRunReturnsPartErrors: Run says what its drain left undone.
func TestRunReturnsPartErrors(t *testing.T) {
	t.Run("request cut short at the shutdown deadline", func(t *testing.T) {
		recv := newBlocker(t)
		f := newFixture(t, delivery.Config{ShutdownTimeout: 100 * time.Millisecond, Lease: time.Hour})
		f.endpoint(recv.srv.URL)
		f.run()
		f.deliverDirect(1)
		f.waitFor("a request in flight", func() bool { return recv.received.Load() == 1 })
		f.cancel()
		err := <-f.done
		f.cancel = nil
		if err == nil || !strings.Contains(err.Error(), "workers") {
			t.Fatalf("Run = %v, want the workers' request cut short", err)
		}
	})
	t.Run("outcomes not recorded", func(t *testing.T) {
		var tries atomic.Int32
		h := &hooked{complete: func(context.Context, []store.Outcome) ([]store.Endpoint, error) {
			tries.Add(1)
			return nil, errors.New("refused")
		}}
		srv, _ := counter(t)
		f := newFixture(t, delivery.Config{Store: h, ShutdownTimeout: 100 * time.Millisecond, Lease: time.Hour})
		f.endpoint(srv.URL)
		f.run()
		f.deliverDirect(1)
		// The recorder's retries wait on the fake clock, which does not
		// move: the shutdown deadline ends them.
		f.waitFor("a try to record", func() bool { return tries.Load() > 0 })
		f.cancel()
		err := <-f.done
		f.cancel = nil
		if err == nil || !strings.Contains(err.Error(), "recorder") || !strings.Contains(err.Error(), "not recorded") {
			t.Fatalf("Run = %v, want the recorder's outcomes not recorded", err)
		}
	})
}

// limitEndpoint gives endpoint id max_concurrency 1.
func (f *fixture) limitEndpoint(id string) {
	f.t.Helper()
	ep, err := f.st.GetEndpoint(context.Background(), f.pid, id)
	if err != nil {
		f.t.Fatal(err)
	}
	ep.MaxConcurrency = 1
	if err := f.st.UpdateEndpoint(context.Background(), ep); err != nil {
		f.t.Fatal(err)
	}
}

// TestShutdownCutsTakeSlot: a TakeSlot that does not return (the database
// hangs) does not hold up shutdown; the delivery waiting for it is given
// back, unsent.
func TestShutdownCutsTakeSlot(t *testing.T) {
	var asked atomic.Int32
	h := &hooked{takeSlot: func(ctx context.Context, _ store.SendSlot) (bool, time.Time, error) {
		asked.Add(1)
		<-ctx.Done()
		return false, time.Time{}, ctx.Err()
	}}
	srv, sent := counter(t)
	f := newFixture(t, delivery.Config{Store: h, Lease: time.Hour})
	f.limitEndpoint(f.endpoint(srv.URL))
	ref := f.publish(1)[0]
	f.run()
	f.waitFor("a TakeSlot", func() bool { return asked.Load() > 0 })
	f.cancel()
	select {
	case err := <-f.done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(20 * time.Second): // bounds a broken run only
		t.Fatal("Run did not return while TakeSlot hung")
	}
	f.cancel = nil
	if d := f.delivery(ref.ID); d.Status != store.StatusPending || d.AttemptCount != 0 || d.LeaseToken != "" {
		t.Errorf("after shutdown: %+v, want given back, unsent", d)
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("receiver got %d requests", n)
	}
}

// TestFreeSlotRetried: a FreeSlot that fails is tried again (on the
// clock), so the endpoint's only concurrency slot does not stay taken
// until its lease ends and the next delivery goes.
func TestFreeSlotRetried(t *testing.T) {
	var frees atomic.Int32
	h := &hooked{}
	h.freeSlot = func(ctx context.Context, ep, token string, rateUntil, concUntil time.Time) error {
		if frees.Add(1) == 1 {
			return store.ErrUnavailable
		}
		return h.Store.FreeSlot(ctx, ep, token, rateUntil, concUntil)
	}
	srv, sent := counter(t)
	f := newFixture(t, delivery.Config{Store: h, Lease: time.Hour})
	f.limitEndpoint(f.endpoint(srv.URL))
	refs := f.publish(2)
	f.run()
	f.waitFor("both delivered", func() bool {
		if f.clk.Waiters() > 0 {
			f.clk.Advance(time.Second) // the free's backoff
		}
		return f.delivery(refs[0].ID).Status == store.StatusSucceeded && f.delivery(refs[1].ID).Status == store.StatusSucceeded
	})
	if n := sent.Load(); n != 2 {
		t.Errorf("receiver got %d requests, want 2", n)
	}
	if n := frees.Load(); n < 3 {
		t.Errorf("FreeSlot called %d times, want the failed one tried again and the second delivery's", n)
	}
}

// TestSigningKeyUnderAttemptDeadline: reading the signing key is part of
// the attempt: when the database does not answer, the attempt ends at its
// deadline as a failure to sign, retried, and its worker is free again.
func TestSigningKeyUnderAttemptDeadline(t *testing.T) {
	h := &hooked{activeSecrets: func(ctx context.Context, _ string, _ time.Time) ([]store.Secret, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	srv, _ := counter(t)
	f := newFixture(t, delivery.Config{Store: h, Timeout: 50 * time.Millisecond, Lease: time.Hour})
	f.endpoint(srv.URL)
	ref := f.publish(1)[0]
	f.run()
	f.waitFor("the attempt recorded", func() bool { return f.delivery(ref.ID).AttemptCount == 1 })
	if d := f.delivery(ref.ID); d.Status != store.StatusRetrying || !strings.Contains(d.LastError, "signing") {
		t.Errorf("after the key read timed out: %+v, want retrying with a signing error", d)
	}
}

// gauge reads hookd_oldest_inflight_seconds by stage.
func gauge(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	return byLabel(t, reg, "hookd_oldest_inflight_seconds")
}

// byLabel reads the gauge or counter name by its one label's value.
func byLabel(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
		for _, m := range fam.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return got
}

// TestOldestInflightGauge: a send that does not end shows in
// hookd_oldest_inflight_seconds{stage="sending"} as its age since the
// claim, a delivery queued behind it in stage "queued"; once answered and
// recorded, every stage is back to 0.
func TestOldestInflightGauge(t *testing.T) {
	recv := newBlocker(t)
	reg := prometheus.NewRegistry()
	f := newFixture(t, delivery.Config{Metrics: delivery.NewMetrics(reg), Workers: 1, PerEndpoint: 1, Lease: time.Hour})
	f.endpoint(recv.srv.URL)
	f.run()
	claimed := f.deliverDirect(2)
	if len(claimed) != 2 {
		t.Fatalf("claimed %d, want 2", len(claimed))
	}
	f.waitFor("a request in flight", func() bool { return recv.received.Load() == 1 })
	f.clk.Advance(30 * time.Second)
	want := map[string]float64{"queued": 30, "paced": 0, "sending": 30, "recording": 0}
	if got := gauge(t, reg); len(got) != len(want) || got["queued"] != 30 || got["sending"] != 30 || got["paced"] != 0 || got["recording"] != 0 {
		t.Errorf("hookd_oldest_inflight_seconds = %v, want %v", got, want)
	}
	if got := byLabel(t, reg, "hookd_inflight_deliveries"); got["queued"] != 1 || got["sending"] != 1 || got["paced"] != 0 || got["recording"] != 0 {
		t.Errorf("hookd_inflight_deliveries = %v, want 1 queued, 1 sending", got)
	}
	recv.unblock()
	f.waitFor("both recorded", func() bool {
		return f.delivery(claimed[0].Delivery.ID).Status == store.StatusSucceeded &&
			f.delivery(claimed[1].Delivery.ID).Status == store.StatusSucceeded
	})
	f.waitFor("nothing in flight", func() bool {
		for _, v := range gauge(t, reg) {
			if v != 0 {
				return false
			}
		}
		return true
	})
}

// TestStaleClaimGivenBack: a delivery that waited in the queue until too
// little of its lease is left for an attempt and its recording is not
// sent on that claim: it goes back, and a new claim sends it.
func TestStaleClaimGivenBack(t *testing.T) {
	recv := newBlocker(t)
	reg := prometheus.NewRegistry()
	f := newFixture(t, delivery.Config{Metrics: delivery.NewMetrics(reg), Workers: 1, PerEndpoint: 1, Lease: time.Minute})
	f.endpoint(recv.srv.URL)
	f.run()
	claimed := f.deliverDirect(2)
	if len(claimed) != 2 {
		t.Fatalf("claimed %d, want 2", len(claimed))
	}
	f.waitFor("a request in flight", func() bool { return recv.received.Load() == 1 })
	f.clk.Advance(55 * time.Second) // the second's lease nearly over
	recv.unblock()
	f.waitFor("both delivered", func() bool {
		return f.delivery(claimed[0].Delivery.ID).Status == store.StatusSucceeded &&
			f.delivery(claimed[1].Delivery.ID).Status == store.StatusSucceeded
	})
	if d := f.delivery(claimed[1].Delivery.ID); d.AttemptCount != 1 {
		t.Errorf("second delivery: %d attempts, want 1", d.AttemptCount)
	}
	reclaimed := byLabel(t, reg, "hookd_deliveries_taken_total")["claim"]
	if reclaimed != 1 {
		t.Errorf("deliveries taken by a claim = %v, want 1: the stale one given back and claimed again", reclaimed)
	}
}

// TestRecorderGivesUpAtLease: the recorder tries a batch again only while
// its deliveries' leases last, not twenty times regardless, and Stop says
// what it dropped.
func TestRecorderGivesUpAtLease(t *testing.T) {
	var tries atomic.Int32
	h := &hooked{complete: func(context.Context, []store.Outcome) ([]store.Endpoint, error) {
		tries.Add(1)
		return nil, store.ErrUnavailable
	}}
	clk := clock.NewFake(t0)
	rec, err := delivery.NewRecorder(delivery.RecorderConfig{Store: h, Clock: clk, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	rec.Start()
	d := store.Delivery{ID: "dlv_1", EndpointID: "ep_1", Status: store.StatusDelivering, LeaseToken: "tok", LeaseExpiresAt: t0.Add(100 * time.Millisecond)}
	rec.AddLeased(t0, d.LeaseExpiresAt, store.GiveBack(d, t0))
	deadline := time.Now().Add(20 * time.Second) // bounds a broken run only
	for tries.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d tries", tries.Load())
		}
		if clk.Waiters() > 0 {
			clk.Advance(50 * time.Millisecond)
		}
		time.Sleep(time.Millisecond)
	}
	err = rec.Stop(context.Background())
	if err == nil || !strings.Contains(err.Error(), "1 outcomes not recorded") {
		t.Errorf("Stop = %v, want 1 outcome not recorded", err)
	}
	if n := tries.Load(); n != 2 {
		t.Errorf("%d tries, want 2: the second at 50 ms, the third would be after the lease", n)
	}
}
