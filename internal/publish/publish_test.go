package publish_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/publish"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// countingStore counts Publish calls (transactions) around a real store.
type countingStore struct {
	store.Store
	calls  atomic.Int32
	events atomic.Int32
	fail   atomic.Pointer[error]
}

func (c *countingStore) Publish(ctx context.Context, evs []store.Event, cutoff time.Time, direct *store.DirectClaim) ([]store.PublishResult, error) {
	if err := c.fail.Load(); err != nil {
		return nil, *err
	}
	c.calls.Add(1)
	c.events.Add(int32(len(evs)))
	return c.Store.Publish(ctx, evs, cutoff, direct)
}

func setup(t *testing.T) (*countingStore, string) {
	t.Helper()
	st, pid, _ := setupFile(t)
	return st, pid
}

// setupFile is setup that also returns the path of the SQLite file.
func setupFile(t *testing.T) (*countingStore, string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hookd.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pid := ids.New(ids.Project, t0)
	if err := db.CreateProject(context.Background(), store.Project{ID: pid, Name: "p", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	ep := store.Endpoint{ID: ids.New(ids.Endpoint, t0), ProjectID: pid, URL: "https://example.com/h", Enabled: true, CreatedAt: t0, UpdatedAt: t0}
	if err := db.CreateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	return &countingStore{Store: db}, pid, path
}

func event(pid, key string) store.Event {
	id := ids.New(ids.Event, t0)
	return store.Event{ID: id, ProjectID: pid, Type: "t.a", Body: []byte(`{"id":"` + id + `"}`), IdempotencyKey: key, CreatedAt: t0}
}

// publishTwice publishes an event with idempotency key and then another
// with the same key, which must come back as a replay of the first.
func publishTwice(t *testing.T, b *publish.Batcher, pid, key string) (first, again store.PublishResult) {
	t.Helper()
	first, err := b.Publish(context.Background(), event(pid, key))
	if err != nil {
		t.Fatal(err)
	}
	again, err = b.Publish(context.Background(), event(pid, key))
	if err != nil || !again.Existing || again.Event.ID != first.Event.ID {
		t.Fatalf("replay of key %q: %+v, %v; want the first event (%s) back", key, again, err, first.Event.ID)
	}
	return first, again
}

// TestGroupCommit: many concurrent publishes share transactions, every
// caller gets its own result only after the commit, and the engine is woken.
func TestGroupCommit(t *testing.T) {
	st, pid := setup(t)
	var wakes atomic.Int32
	b := publish.New(publish.Config{Store: st, Clock: clock.NewFake(t0), OnCommit: func() { wakes.Add(1) }})
	defer b.Close()
	const n = 200
	var wg sync.WaitGroup
	results := make([]store.PublishResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = b.Publish(context.Background(), event(pid, ""))
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("publish %d: %v", i, errs[i])
		}
		if results[i].Existing || len(results[i].Deliveries) != 1 {
			t.Fatalf("publish %d: %+v", i, results[i])
		}
		if _, err := st.GetEvent(context.Background(), pid, results[i].Event.ID); err != nil {
			t.Fatalf("event %d not stored after Publish returned: %v", i, err)
		}
	}
	if got := st.events.Load(); got != n {
		t.Fatalf("store saw %d events, want %d", got, n)
	}
	t.Logf("%d publishes in %d transactions", n, st.calls.Load())
	if st.calls.Load() > n {
		t.Fatalf("%d transactions for %d events", st.calls.Load(), n)
	}
	if wakes.Load() == 0 {
		t.Fatal("OnCommit never called")
	}
}

// TestIdempotencyWindow: the batcher applies the 24 h window with its clock.
func TestIdempotencyWindow(t *testing.T) {
	st, pid := setup(t)
	clk := clock.NewFake(t0)
	b := publish.New(publish.Config{Store: st, Clock: clk})
	defer b.Close()
	first, _ := publishTwice(t, b, pid, "k")
	clk.Advance(publish.IdempotencyWindow + time.Second)
	later, err := b.Publish(context.Background(), event(pid, "k"))
	if err != nil || later.Existing || later.Event.ID == first.Event.ID {
		t.Fatalf("after the window: %+v, %v", later, err)
	}
}

// TestErrorsReachEveryCaller: a failed commit fails every publish in it
// with the store's error (ErrUnavailable stays recognisable for a 503).
func TestErrorsReachEveryCaller(t *testing.T) {
	st, pid := setup(t)
	down := error(store.ErrUnavailable)
	st.fail.Store(&down)
	b := publish.New(publish.Config{Store: st})
	defer b.Close()
	if _, err := b.Publish(context.Background(), event(pid, "")); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestClosed(t *testing.T) {
	st, pid := setup(t)
	b := publish.New(publish.Config{Store: st})
	b.Close()
	if _, err := b.Publish(context.Background(), event(pid, "")); !errors.Is(err, publish.ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

// engineSide plays the delivery engine's part in a batcher with direct
// claims: it hands out DirectClaims whose Take follows take (nil Direct when
// stopping is set), and records what reaches Deliver and OnCommit. Deliver
// checks that each claim is already committed, as the engine relies on.
type engineSide struct {
	t        testing.TB
	st       store.Store
	pid      string
	take     func(endpointID string) bool
	stopping bool

	mu        sync.Mutex
	directs   []time.Time // now of each Direct call
	delivered []store.Claimed
	delivers  int // Deliver calls with claims
	releases  int // Deliver calls with none (nothing claimed, or no commit)
	wakes     atomic.Int32
}

func (e *engineSide) direct(now time.Time) *store.DirectClaim {
	e.mu.Lock()
	e.directs = append(e.directs, now)
	e.mu.Unlock()
	if e.stopping {
		return nil
	}
	return &store.DirectClaim{Now: now, Lease: time.Minute, Owner: "node-1", Take: e.take}
}

func (e *engineSide) deliver(direct *store.DirectClaim, cs []store.Claimed) {
	if direct == nil {
		e.t.Error("Deliver got no DirectClaim")
	}
	if len(cs) == 0 {
		e.mu.Lock()
		e.releases++
		e.mu.Unlock()
		return
	}
	for _, c := range cs {
		// Runs on the committer's goroutine while the publisher waits, so
		// reporting through e.t is safe.
		d, err := e.st.GetDelivery(context.Background(), e.pid, c.Delivery.ID)
		if err != nil || d.Status != store.StatusDelivering || d.LeaseToken != c.Delivery.LeaseToken {
			e.t.Errorf("Deliver got %s before it was committed as claimed: %+v, %v", c.Delivery.ID, d, err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.delivers++
	e.delivered = append(e.delivered, cs...)
}

// config is a batcher config wired to e.
func (e *engineSide) config(st store.Store, clk clock.Clock) publish.Config {
	return publish.Config{Store: st, Clock: clk, Direct: e.direct, Deliver: e.deliver, OnCommit: func() { e.wakes.Add(1) }}
}

// deliveredIDs counts how often each delivery reached Deliver.
func (e *engineSide) deliveredIDs() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for _, c := range e.delivered {
		out[c.Delivery.ID]++
	}
	return out
}

func takeAll(string) bool { return true }

// addEndpoint gives the project of setup one more endpoint.
func addEndpoint(t testing.TB, st store.Store, pid string) string {
	t.Helper()
	id := ids.New(ids.Endpoint, t0)
	ep := store.Endpoint{ID: id, ProjectID: pid, URL: "https://example.com/h2", Enabled: true, CreatedAt: t0, UpdatedAt: t0}
	if err := st.CreateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestDirectClaimsReachDeliver: with Direct and Deliver set, every delivery
// a batch claims reaches Deliver exactly once, after its commit; callers
// see their deliveries but not the claims, and with nothing left to claim
// the engine is not woken.
func TestDirectClaimsReachDeliver(t *testing.T) {
	st, pid := setup(t)
	e := &engineSide{t: t, st: st, pid: pid, take: takeAll}
	clk := clock.NewFake(t0)
	b := publish.New(e.config(st, clk))
	defer b.Close()
	const n = 100
	var wg sync.WaitGroup
	results := make([]store.PublishResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = b.Publish(context.Background(), event(pid, "")) })
	}
	wg.Wait()
	got := e.deliveredIDs()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("publish %d: %v", i, errs[i])
		}
		r := results[i]
		if r.Claimed != nil {
			t.Errorf("publish %d: caller sees claims %+v", i, r.Claimed)
		}
		if len(r.Deliveries) != 1 {
			t.Fatalf("publish %d: deliveries %v, want 1", i, r.Deliveries)
		}
		if c := got[r.Deliveries[0].ID]; c != 1 {
			t.Errorf("delivery %s reached Deliver %d times, want once", r.Deliveries[0].ID, c)
		}
	}
	if len(got) != n {
		t.Errorf("Deliver got %d deliveries, want %d", len(got), n)
	}
	e.mu.Lock()
	directs, delivers := len(e.directs), e.delivers
	for _, now := range e.directs {
		if !now.Equal(t0) {
			t.Errorf("Direct asked at %v, want the batcher's clock, %v", now, t0)
		}
	}
	e.mu.Unlock()
	// One DirectClaim and one Deliver per transaction.
	if calls := int(st.calls.Load()); directs != calls || delivers != calls {
		t.Errorf("%d transactions, %d Direct calls, %d Deliver calls; want them equal", calls, directs, delivers)
	}
	// OnCommit runs after the callers are answered; Close waits for it.
	b.Close()
	if w := e.wakes.Load(); w != 0 {
		t.Errorf("OnCommit called %d times with every delivery claimed", w)
	}
}

// TestDirectClaimOnCommit: OnCommit wakes the engine exactly when a batch
// leaves a new delivery for Claim; Deliver gets only what was claimed.
func TestDirectClaimOnCommit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		take      func(endpointID string) bool
		stopping  bool // Direct returns nil
		noDeliver bool // Config.Deliver unset: Direct must not be used
		wantSent  int  // deliveries that reach Deliver
		wantWakes int32
	}{
		{name: "all claimed", take: takeAll, wantSent: 2},
		{name: "none claimed", take: func(string) bool { return false }, wantWakes: 1},
		{name: "one of two claimed", take: nil /* set below: the first endpoint */, wantSent: 1, wantWakes: 1},
		{name: "Direct nil", take: takeAll, stopping: true, wantWakes: 1},
		{name: "no Deliver", take: takeAll, noDeliver: true, wantWakes: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, pid := setup(t)
			second := addEndpoint(t, st, pid)
			take := tc.take
			if take == nil {
				take = func(ep string) bool { return ep != second }
			}
			e := &engineSide{t: t, st: st, pid: pid, take: take, stopping: tc.stopping}
			cfg := e.config(st, clock.NewFake(t0))
			if tc.noDeliver {
				cfg.Deliver = nil
			}
			b := publish.New(cfg)
			defer b.Close()
			res, err := b.Publish(context.Background(), event(pid, ""))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Deliveries) != 2 || res.Claimed != nil {
				t.Fatalf("result: deliveries %v, claimed %v; want 2 deliveries, no claims", res.Deliveries, res.Claimed)
			}
			// OnCommit runs after the callers are answered; Close waits
			// for it.
			b.Close()
			sent := e.deliveredIDs()
			if len(sent) != tc.wantSent {
				t.Errorf("Deliver got %d deliveries, want %d", len(sent), tc.wantSent)
			}
			e.mu.Lock()
			if tc.noDeliver && len(e.directs) != 0 {
				t.Errorf("Direct asked %d times without a Deliver to hand the claims to", len(e.directs))
			}
			if len(sent) == 0 && e.delivers != 0 {
				t.Errorf("Deliver called %d times with nothing claimed", e.delivers)
			}
			if directs := len(e.directs); !tc.stopping && e.delivers+e.releases != directs {
				t.Errorf("%d DirectClaims, %d Deliver calls: want one each, to end what it reserved", directs, e.delivers+e.releases)
			}
			e.mu.Unlock()
			if w := e.wakes.Load(); w != tc.wantWakes {
				t.Errorf("OnCommit called %d times, want %d", w, tc.wantWakes)
			}
			// What was not sent is pending, for Claim.
			for _, r := range res.Deliveries {
				d, err := st.GetDelivery(context.Background(), pid, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				want := store.StatusPending
				if sent[r.ID] > 0 {
					want = store.StatusDelivering
				}
				if d.Status != want {
					t.Errorf("delivery %s: %s, want %s", r.ID, d.Status, want)
				}
			}
		})
	}
}

// TestDirectClaimReplay: a replayed idempotency key creates nothing, so
// nothing reaches Deliver and the engine is not woken.
func TestDirectClaimReplay(t *testing.T) {
	st, pid := setup(t)
	e := &engineSide{t: t, st: st, pid: pid, take: takeAll}
	b := publish.New(e.config(st, clock.NewFake(t0)))
	defer b.Close()
	first, again := publishTwice(t, b, pid, "k")
	if again.Claimed != nil || len(again.Deliveries) != 1 {
		t.Errorf("replay result: deliveries %v, claimed %v; want the original's delivery, no claims", again.Deliveries, again.Claimed)
	}
	b.Close() // OnCommit runs after the callers are answered
	if got := e.deliveredIDs(); len(got) != 1 || got[first.Deliveries[0].ID] != 1 {
		t.Errorf("Deliver got %v, want the first publish's delivery once", got)
	}
	if w := e.wakes.Load(); w != 0 {
		t.Errorf("OnCommit called %d times; nothing was left to claim", w)
	}
}

// TestDirectClaimStoreFails: when the store's Publish fails, every caller
// gets the error and nothing reaches Deliver (the claims were never
// committed) or wakes the engine.
func TestDirectClaimStoreFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		// breakIt makes the next Publish of ev fail, and returns the error
		// expected.
		breakIt func(t *testing.T, st *countingStore, ev store.Event) error
	}{
		{"unavailable", func(t *testing.T, st *countingStore, ev store.Event) error {
			down := error(store.ErrUnavailable)
			st.fail.Store(&down)
			return store.ErrUnavailable
		}},
		{"conflict", func(t *testing.T, st *countingStore, ev store.Event) error {
			// The event id is taken: the real store rejects the batch.
			if _, err := st.Store.Publish(context.Background(), []store.Event{ev}, time.Time{}, nil); err != nil {
				t.Fatal(err)
			}
			return store.ErrConflict
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, pid := setup(t)
			e := &engineSide{t: t, st: st, pid: pid, take: takeAll}
			b := publish.New(e.config(st, clock.NewFake(t0)))
			defer b.Close()
			ev := event(pid, "")
			want := tc.breakIt(t, st, ev)
			if _, err := b.Publish(context.Background(), ev); !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			b.Close()
			e.mu.Lock()
			delivers, releases, directs := e.delivers, e.releases, len(e.directs)
			e.mu.Unlock()
			if delivers != 0 {
				t.Errorf("Deliver called %d times with claims after a failed commit", delivers)
			}
			if releases != directs {
				t.Errorf("%d DirectClaims, %d Deliver calls without claims after the failed commit: want one each", directs, releases)
			}
			if w := e.wakes.Load(); w != 0 {
				t.Errorf("OnCommit called %d times after a failed commit", w)
			}
		})
	}
}

// TestOnEventsNamesTheProjects: every commit that stored new events
// tells their projects, once each — also when it made no delivery (a
// project without endpoints, or every delivery claimed at once), which
// OnCommit does not: streams follow events, not deliveries. A replay of
// an idempotency key stores nothing and tells nothing.
func TestOnEventsNamesTheProjects(t *testing.T) {
	st, pid := setup(t)
	bare := ids.New(ids.Project, t0.Add(time.Millisecond))
	if err := st.CreateProject(context.Background(), store.Project{ID: bare, Name: "no endpoints", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var told [][]string
	b := publish.New(publish.Config{Store: st, Clock: clock.NewFake(t0), OnEvents: func(projects []string) {
		mu.Lock()
		told = append(told, slices.Sorted(slices.Values(projects)))
		mu.Unlock()
	}})
	defer b.Close()
	if _, err := b.Publish(context.Background(), event(bare, "k")); err != nil {
		t.Fatal(err)
	}
	if _, errs := b.PublishBatch(context.Background(), []store.Event{event(pid, ""), event(bare, ""), event(pid, "")}); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	if res, err := b.Publish(context.Background(), event(bare, "k")); err != nil || !res.Existing {
		t.Fatalf("replay: %+v, %v", res, err)
	}
	b.Close()
	mu.Lock()
	defer mu.Unlock()
	want := [][]string{{bare}, slices.Sorted(slices.Values([]string{pid, bare}))}
	if !slices.EqualFunc(told, want, slices.Equal) {
		t.Fatalf("OnEvents told %v, want %v", told, want)
	}
}
