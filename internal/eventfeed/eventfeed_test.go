package eventfeed

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
)

var base = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// timers is an After whose channels the test fires.
type timers struct {
	mu      sync.Mutex
	pending map[time.Duration][]chan time.Time
}

func (tm *timers) After(d time.Duration) <-chan time.Time {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	c := make(chan time.Time, 1)
	tm.pending[d] = append(tm.pending[d], c)
	return c
}

// fire fires every waiting timer of duration d.
func (tm *timers) fire(d time.Duration) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	for _, c := range tm.pending[d] {
		c <- time.Time{}
	}
	tm.pending[d] = nil
}

type sink struct {
	events     chan store.Event
	heartbeats chan struct{}
}

func (s *sink) Event(e store.Event) error { s.events <- e; return nil }
func (s *sink) Heartbeat() error          { s.heartbeats <- struct{}{}; return nil }

type env struct {
	t     *testing.T
	s     store.Store
	clock *clock.Fake
	tm    *timers
	hub   *Hub
	pid   string
}

func newEnv(t *testing.T) *env {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "feed.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := &env{t: t, s: s, clock: clock.NewFake(base), tm: &timers{pending: map[time.Duration][]chan time.Time{}}}
	e.hub, err = New(Config{Store: s, Clock: e.clock, After: e.tm.After})
	if err != nil {
		t.Fatal(err)
	}
	e.pid = ids.New(ids.Project, base)
	if err := s.CreateProject(t.Context(), store.Project{ID: e.pid, Name: "p", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	return e
}

// publish stores an event of type typ made at the given time.
func (e *env) publish(typ string, at time.Time) store.Event {
	id := ids.New(ids.Event, at)
	ev := store.Event{ID: id, ProjectID: e.pid, Type: typ, CreatedAt: at,
		Body: fmt.Appendf(nil, `{"id":%q,"type":%q,"data":{}}`, id, typ)}
	if _, err := e.s.Publish(e.t.Context(), []store.Event{ev}, at.Add(-time.Hour), nil); err != nil {
		e.t.Fatal(err)
	}
	return ev
}

// follow starts a feed and returns its sink, a function that stops it,
// and a function that waits for what Follow returned.
func (e *env) follow(p Params) (*sink, func(), func() error) {
	p.ProjectID = e.pid
	sk := &sink{events: make(chan store.Event, 100), heartbeats: make(chan struct{}, 100)}
	ctx, cancel := context.WithCancel(e.t.Context())
	done := make(chan struct{})
	var err error
	go func() { err = e.hub.Follow(ctx, p, sk); close(done) }()
	wait := func() error { <-done; return err }
	e.t.Cleanup(func() { cancel(); <-done })
	return sk, cancel, wait
}

// expect waits for the next events, in order.
func (e *env) expect(sk *sink, want ...store.Event) {
	e.t.Helper()
	for _, w := range want {
		select {
		case got := <-sk.events:
			if got.ID != w.ID {
				e.t.Fatalf("got event %s (%s), want %s (%s)", got.ID, got.Type, w.ID, w.Type)
			}
		case <-time.After(10 * time.Second):
			e.t.Fatalf("event %s did not arrive", w.ID)
		}
	}
}

// quiet checks that nothing more arrives once the feed has read again.
func (e *env) quiet(sk *sink) {
	e.t.Helper()
	// Two full reads: after the second starts, the first has finished.
	for range 2 {
		e.waitPending(DefaultPoll)
		e.tm.fire(DefaultPoll)
	}
	e.waitPending(DefaultPoll)
	select {
	case got := <-sk.events:
		e.t.Fatalf("unexpected event %s (%s)", got.ID, got.Type)
	default:
	}
}

// waitPending waits until the feed waits on a timer of duration d.
func (e *env) waitPending(d time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.tm.mu.Lock()
		n := len(e.tm.pending[d])
		e.tm.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the feed never waited for %v", d)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFollowsWhatIsPublishedFromNowOn(t *testing.T) {
	e := newEnv(t)
	e.publish("old.event", base.Add(-time.Second))
	sk, stop, wait := e.follow(Params{})
	e.waitPending(DefaultPoll)

	e.clock.Advance(time.Second)
	a := e.publish("invoice.paid", e.clock.Now())
	e.hub.Notify()
	e.expect(sk, a)
	e.clock.Advance(time.Second)
	b := e.publish("invoice.created", e.clock.Now())
	e.waitPending(DefaultPoll)
	e.tm.fire(DefaultPoll) // another node's event: found by the poll
	e.expect(sk, b)
	e.quiet(sk)
	stop()
	if err := wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow after its context ended: %v", err)
	}
}

func TestAnEventThatCommitsLateIsStillSent(t *testing.T) {
	e := newEnv(t)
	sk, _, _ := e.follow(Params{})
	e.waitPending(DefaultPoll)
	e.clock.Advance(3 * time.Second)
	later := e.publish("t.later", e.clock.Now())
	e.hub.Notify()
	e.expect(sk, later)
	// An id made two seconds earlier, committed only now (a slow batch,
	// another node): the next full read finds it below the newest id.
	early := e.publish("t.early", e.clock.Now().Add(-2*time.Second))
	e.waitPending(DefaultPoll)
	e.tm.fire(DefaultPoll)
	e.expect(sk, early)
	e.quiet(sk)
}

func TestResumesAfterTheLastID(t *testing.T) {
	e := newEnv(t)
	e.clock.Advance(time.Minute)
	old := e.publish("t.x", base)
	seen := e.publish("t.x", e.clock.Now().Add(-2*time.Second))
	missedEarlier := e.publish("t.x", e.clock.Now().Add(-3*time.Second)) // committed after seen was sent
	missed := e.publish("t.x", e.clock.Now().Add(-time.Second))
	sk, _, _ := e.follow(Params{LastID: seen.ID})
	// Everything within Settle before the last id, and everything after
	// it; never the last id itself, nor what is older than Settle.
	e.expect(sk, missedEarlier, missed)
	_ = old
	e.quiet(sk)
}

func TestFiltersByType(t *testing.T) {
	e := newEnv(t)
	accept := func(typ string) bool { return store.Endpoint{EventTypes: []string{"invoice.*"}}.Accepts(typ) }
	sk, _, _ := e.follow(Params{Accept: accept})
	e.waitPending(DefaultPoll)
	e.clock.Advance(time.Second)
	e.publish("customer.created", e.clock.Now())
	paid := e.publish("invoice.paid", e.clock.Now())
	e.hub.Notify()
	e.expect(sk, paid)
	e.quiet(sk)
}

func TestHeartbeatAndClose(t *testing.T) {
	e := newEnv(t)
	sk, _, wait := e.follow(Params{})
	e.waitPending(DefaultHeartbeat)
	e.tm.fire(DefaultHeartbeat)
	select {
	case <-sk.heartbeats:
	case <-time.After(10 * time.Second):
		t.Fatal("no heartbeat")
	}
	e.hub.Close()
	if err := wait(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Follow after Close: %v, want ErrClosed", err)
	}
	// A feed started after Close ends at once.
	_, _, wait = e.follow(Params{})
	if err := wait(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Follow on a closed hub: %v, want ErrClosed", err)
	}
}

// TestWakesDoNotPutOffTheFullRead: a late commit is found by the next poll
// even while local commits wake the feed all the time (the poll timer is
// not restarted by wakes).
func TestWakesDoNotPutOffTheFullRead(t *testing.T) {
	e := newEnv(t)
	sk, _, _ := e.follow(Params{})
	e.waitPending(DefaultPoll)
	e.clock.Advance(3 * time.Second)
	later := e.publish("t.later", e.clock.Now())
	e.hub.Notify()
	e.expect(sk, later)
	early := e.publish("t.early", e.clock.Now().Add(-2*time.Second))
	for range 5 {
		e.clock.Advance(time.Millisecond)
		ev := e.publish("t.busy", e.clock.Now())
		e.hub.Notify()
		e.expect(sk, ev)
	}
	e.tm.mu.Lock()
	polls := len(e.tm.pending[DefaultPoll])
	e.tm.mu.Unlock()
	if polls != 1 {
		t.Fatalf("%d poll timers waiting after 5 wakes, want the one", polls)
	}
	e.tm.fire(DefaultPoll)
	e.expect(sk, early)
}
