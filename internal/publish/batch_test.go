package publish_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/publish"
	"github.com/hookd/hookd/internal/store"
)

// TestPublishBatchOneCommit: the events of one PublishBatch go into one
// transaction, and each comes back with its own result, in order.
func TestPublishBatchOneCommit(t *testing.T) {
	st, pid := setup(t)
	b := publish.New(publish.Config{Store: st, MaxBatch: 10})
	defer b.Close()
	evs := make([]store.Event, 100)
	for i := range evs {
		evs[i] = event(pid, "")
	}
	res, errs := b.PublishBatch(context.Background(), evs)
	for i := range evs {
		if errs[i] != nil {
			t.Fatalf("event %d: %v", i, errs[i])
		}
		if res[i].Event.ID != evs[i].ID || len(res[i].Deliveries) != 1 {
			t.Fatalf("event %d: result %+v, want event %s with one delivery", i, res[i], evs[i].ID)
		}
	}
	if n := st.calls.Load(); n != 1 {
		t.Fatalf("%d transactions for one batch of 100 (MaxBatch 10), want 1", n)
	}
	for _, e := range evs {
		if _, err := st.GetEvent(context.Background(), pid, e.ID); err != nil {
			t.Fatalf("event %s answered as stored is not: %v", e.ID, err)
		}
	}
}

// TestPublishBatchRefusedFailsAlone: an event the database refuses (of a
// project that does not exist) fails alone; the others of its batch are
// stored, and a replayed idempotency key comes back as the first event.
func TestPublishBatchRefusedFailsAlone(t *testing.T) {
	st, pid := setup(t)
	b := publish.New(publish.Config{Store: st, Clock: clock.NewFake(t0)})
	defer b.Close()
	first, err := b.Publish(context.Background(), event(pid, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	evs := []store.Event{event(pid, ""), event(ids.New(ids.Project, t0), ""), event(pid, "k1"), event(pid, "")}
	res, errs := b.PublishBatch(context.Background(), evs)
	if errs[1] == nil {
		t.Fatal("the event of a missing project was stored")
	}
	if errors.Is(errs[1], store.ErrUnavailable) {
		t.Fatalf("refusal reported as an outage: %v", errs[1])
	}
	for _, i := range []int{0, 2, 3} {
		if errs[i] != nil {
			t.Fatalf("event %d failed with its neighbour: %v", i, errs[i])
		}
	}
	if !res[2].Existing || res[2].Event.ID != first.Event.ID {
		t.Fatalf("replayed key: %+v, want the first event %s", res[2], first.Event.ID)
	}
	for _, i := range []int{0, 3} {
		if _, err := st.GetEvent(context.Background(), pid, evs[i].ID); err != nil {
			t.Fatalf("event %d not stored: %v", i, err)
		}
	}
}

// TestPublishBatchTimeout: a batch no commit takes in time is refused as
// not stored, every event of it, and a later commit does not store it.
func TestPublishBatchTimeout(t *testing.T) {
	st, pid := setup(t)
	clk := clock.NewFake(t0)
	h := &heldStore{Store: st, held: make(chan struct{}), release: make(chan struct{})}
	b := publish.New(publish.Config{Store: h, Clock: clk, Timeout: publish.DefaultTimeout})
	defer b.Close()
	// Hold the committer with a first publish.
	go func() { _, _ = b.Publish(context.Background(), event(pid, "")) }()
	<-h.held
	base := clk.Waiters()
	done := make(chan []error, 1)
	evs := []store.Event{event(pid, ""), event(pid, "")}
	go func() {
		_, errs := b.PublishBatch(context.Background(), evs)
		done <- errs
	}()
	poll(t, "the batch waiting", func() bool { return clk.Waiters() > base })
	clk.Advance(publish.DefaultTimeout)
	errs := <-done
	for i, err := range errs {
		if !errors.Is(err, publish.ErrQueueTimeout) {
			t.Fatalf("event %d: %v, want ErrQueueTimeout (not stored)", i, err)
		}
	}
	close(h.release)
	b.Close()
	for _, e := range evs {
		if _, err := st.GetEvent(context.Background(), pid, e.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("event %s answered not stored was stored (%v)", e.ID, err)
		}
	}
}
