package publish_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/publish"
	"github.com/hookd/hookd/internal/store"
)

// lockWrites holds the write lock of the SQLite file at path from another
// connection, as a stalled disk looks to hookd: every write waits (up to
// the store's busy timeout, 10 s of real time, which the test stays well
// within). The returned func releases it.
func lockWrites(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return func() {
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Error(err)
		}
		conn.Close()
	}
}

// timeouts returns hookd_publish_timeouts_total by its stored label.
func timeouts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "hookd_publish_timeouts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return got
}

// poll waits for cond; the deadline only bounds a broken run.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTimeout: while the database's writes stall, a publish waits at most
// the timeout on the batcher's clock. The one whose commit had started is
// told its event may still be stored; those queued behind it, and the one
// that found the queue full, that theirs were not. Once the stall ends the
// first event is committed (a retry with its key gets it back), the others
// never are, and the batcher reports the stall while it lasts.
func TestTimeout(t *testing.T) {
	st, pid, path := setupFile(t)
	clk := clock.NewFake(t0)
	reg := prometheus.NewRegistry()
	// A queue of two: the fourth publish finds it full.
	b := publish.New(publish.Config{Store: st, Clock: clk, MaxBatch: 2, Timeout: time.Second, Metrics: publish.NewMetrics(reg)})
	defer b.Close()

	release := lockWrites(t, path)
	type answer struct {
		res store.PublishResult
		err error
	}
	events := make([]store.Event, 4)
	answers := make([]chan answer, 4)
	send := func(i int) {
		events[i] = event(pid, string(rune('a'+i)))
		answers[i] = make(chan answer, 1)
		go func() {
			res, err := b.Publish(context.Background(), events[i])
			answers[i] <- answer{res, err}
		}()
	}
	send(0)
	poll(t, "the first commit started", func() bool { return st.calls.Load() == 1 })
	for i := 1; i < 4; i++ {
		send(i)
	}
	poll(t, "every publish waiting", func() bool { return b.Queued() == 2 && clk.Waiters() == 4 })
	if d, stalled := b.Stalled(); stalled {
		t.Fatalf("stalled after %v, before the timeout", d)
	}
	clk.Advance(time.Second)
	if d, stalled := b.Stalled(); !stalled || d != time.Second {
		t.Fatalf("Stalled() = %v, %v at the timeout; want 1s, true", d, stalled)
	}
	for i, want := range []error{publish.ErrCommitTimeout, publish.ErrQueueTimeout, publish.ErrQueueTimeout, publish.ErrQueueTimeout} {
		if a := <-answers[i]; !errors.Is(a.err, want) {
			t.Errorf("publish %d: %+v, %v; want %v", i, a.res, a.err, want)
		}
	}
	if got := timeouts(t, reg); got["unknown"] != 1 || got["no"] != 3 {
		t.Errorf("hookd_publish_timeouts_total = %v, want unknown 1, no 3", got)
	}

	release()
	poll(t, "the late commit", func() bool {
		_, err := st.GetEvent(context.Background(), pid, events[0].ID)
		return err == nil
	})
	poll(t, "the stall over", func() bool { _, stalled := b.Stalled(); return !stalled })
	// FIFO: once this one is answered, the abandoned ones were dequeued.
	if _, err := b.Publish(context.Background(), event(pid, "after")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 4; i++ {
		if _, err := st.GetEvent(context.Background(), pid, events[i].ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("publish %d was answered \"not stored\", but its event is there (%v)", i, err)
		}
	}
	if n := st.events.Load(); n != 2 {
		t.Errorf("the store was given %d events, want 2 (the late one and the last)", n)
	}
	again, err := b.Publish(context.Background(), event(pid, "a"))
	if err != nil || !again.Existing || again.Event.ID != events[0].ID {
		t.Fatalf("retry with the key of the late commit: %+v, %v; want its event %s", again, err, events[0].ID)
	}
}

// TestCancelledBeforeTaken: a publisher that leaves before any commit took
// its event leaves nothing stored.
func TestCancelledBeforeTaken(t *testing.T) {
	st, pid, path := setupFile(t)
	b := publish.New(publish.Config{Store: st, Clock: clock.NewFake(t0)})
	defer b.Close()
	release := lockWrites(t, path)
	first := make(chan error, 1)
	go func() {
		_, err := b.Publish(context.Background(), event(pid, ""))
		first <- err
	}()
	poll(t, "the first commit started", func() bool { return st.calls.Load() == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	e := event(pid, "")
	go func() {
		_, err := b.Publish(ctx, e)
		left <- err
	}()
	poll(t, "the second queued", func() bool { return b.Queued() == 1 })
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled publish: %v", err)
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(context.Background(), event(pid, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetEvent(context.Background(), pid, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the event of a publisher that left before its commit was stored (%v)", err)
	}
}
