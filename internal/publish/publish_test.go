package publish_test

import (
	"context"
	"errors"
	"path/filepath"
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
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookd.db"))
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
	return &countingStore{Store: db}, pid
}

func event(pid, key string) store.Event {
	id := ids.New(ids.Event, t0)
	return store.Event{ID: id, ProjectID: pid, Type: "t.a", Body: []byte(`{"id":"` + id + `"}`), IdempotencyKey: key, CreatedAt: t0}
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
	first, err := b.Publish(context.Background(), event(pid, "k"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.Publish(context.Background(), event(pid, "k"))
	if err != nil || !again.Existing || again.Event.ID != first.Event.ID {
		t.Fatalf("replay within the window: %+v, %v", again, err)
	}
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
