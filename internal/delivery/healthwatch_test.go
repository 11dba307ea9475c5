package delivery

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/health"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
)

var w0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// TestHealthWatch: failures open the breaker (one failing event), held
// endpoints are known locally, a successful probe recovers it (one
// recovered event), and a healthy endpoint's successes are written once a
// minute, not once each.
func TestHealthWatch(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pid := ids.New(ids.Project, w0)
	if err := st.CreateProject(ctx, store.Project{ID: pid, Name: "p", CreatedAt: w0}); err != nil {
		t.Fatal(err)
	}
	ep := store.Endpoint{ID: ids.New(ids.Endpoint, w0), ProjectID: pid, URL: "https://x.example/", Enabled: true, CreatedAt: w0, UpdatedAt: w0}
	if err := st.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []string
	policy := health.Default()
	policy.Threshold = 5 // five attempts, all failed, open the breaker
	h := newHealthWatch(st, policy, slog.New(slog.DiscardHandler), func(_ context.Context, about store.Endpoint, typ string, _ []byte) error {
		mu.Lock()
		events = append(events, typ+" "+about.ID)
		mu.Unlock()
		return nil
	})
	claimed := func(h store.EndpointHealth) store.Claimed {
		return store.Claimed{Delivery: store.Delivery{ID: "dlv_x", EndpointID: ep.ID}, Health: h}
	}
	get := func() store.EndpointHealth {
		e, err := st.GetEndpoint(ctx, pid, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		return e.Health
	}

	for i := range 5 {
		h.attempted(claimed(store.EndpointHealth{}), false, w0.Add(time.Duration(i)*time.Second))
	}
	h.flush()
	hl := get()
	if !hl.BreakerOpen() || hl.Failures != 5 {
		t.Fatalf("health after 5 failures = %+v", hl)
	}
	if until, ok := h.heldUntil(ep.ID, w0.Add(5*time.Second), w0); !ok || !until.Equal(hl.ProbeAt) {
		t.Fatalf("heldUntil = %v %v, want %v", until, ok, hl.ProbeAt)
	}
	// A delivery claimed after the failure that opened the breaker was
	// handed out by a store that had closed it since (an enable, another
	// node's probe): it is not held, or it would be given back and claimed
	// again at once until the probe time.
	if _, ok := h.heldUntil(ep.ID, w0.Add(5*time.Second), w0.Add(5*time.Second)); ok {
		t.Fatal("a delivery claimed after the breaker opened is held by this node's stale view")
	}
	// A probe succeeds.
	probe := claimed(hl)
	probe.Probe = true
	h.attempted(probe, true, w0.Add(time.Minute))
	h.flush()
	if hl := get(); !hl.Healthy() || !hl.LastSuccessAt.Equal(w0.Add(time.Minute)) {
		t.Fatalf("health after the probe = %+v", hl)
	}
	if _, ok := h.heldUntil(ep.ID, w0.Add(time.Minute), w0); ok {
		t.Fatal("still held after recovering")
	}
	want := []string{health.EventFailing + " " + ep.ID, health.EventRecovered + " " + ep.ID}
	if !slices.Equal(events, want) {
		t.Fatalf("events %v, want %v", events, want)
	}

	// Healthy successes within the minute queue nothing, even when their
	// claims read the health from before the recovery.
	for i := range 100 {
		h.attempted(claimed(hl), true, w0.Add(time.Minute+time.Duration(i)*100*time.Millisecond))
	}
	h.mu.Lock()
	queued := len(h.queue)
	h.mu.Unlock()
	if queued != 0 {
		t.Fatalf("%d successes of a healthy endpoint queued, want none", queued)
	}
	h.attempted(claimed(store.EndpointHealth{LastSuccessAt: w0.Add(time.Minute)}), true, w0.Add(2*time.Minute))
	h.flush()
	if hl := get(); !hl.LastSuccessAt.Equal(w0.Add(2 * time.Minute)) {
		t.Fatalf("last success = %v, want refreshed after a minute", hl.LastSuccessAt)
	}
	h.Start()
	h.Stop(context.Background())
}
