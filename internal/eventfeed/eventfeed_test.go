package eventfeed

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
)

var base = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

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
	hub   *Hub
	pid   string
}

func newEnv(t *testing.T) *env {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "feed.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := &env{t: t, s: s, clock: clock.NewFake(base)}
	e.hub, err = New(Config{Store: s, Clock: e.clock})
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

// idle waits until the feed has read and waits on its poll and heartbeat
// (it arms them after each read).
func (e *env) idle() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.clock.Waiters() < 2 {
		if time.Now().After(deadline) {
			e.t.Fatalf("the feed never waited (%d waiting)", e.clock.Waiters())
		}
		time.Sleep(time.Millisecond)
	}
}

// poll moves the clock to the feed's next poll and waits for the read.
func (e *env) poll() {
	e.t.Helper()
	e.idle()
	e.clock.Advance(DefaultPoll)
	e.idle()
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
	e.poll()
	select {
	case got := <-sk.events:
		e.t.Fatalf("unexpected event %s (%s)", got.ID, got.Type)
	default:
	}
}

func TestFollowsWhatIsPublishedFromNowOn(t *testing.T) {
	e := newEnv(t)
	e.publish("old.event", base.Add(-time.Second))
	sk, stop, wait := e.follow(Params{})
	e.idle()

	a := e.publish("invoice.paid", e.clock.Now().Add(time.Millisecond))
	e.hub.Notify()
	e.expect(sk, a)
	b := e.publish("invoice.created", e.clock.Now().Add(time.Second))
	e.poll() // another node's event: found by the poll
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
	e.idle()
	later := e.publish("t.later", e.clock.Now().Add(3*time.Second))
	e.hub.Notify()
	e.expect(sk, later)
	// An id made two seconds earlier, committed only now (a slow batch,
	// another node): the next full read finds it below the newest id.
	early := e.publish("t.early", e.clock.Now().Add(time.Second))
	e.poll()
	e.expect(sk, early)
	e.quiet(sk)
}

func TestResumesAfterTheLastID(t *testing.T) {
	e := newEnv(t)
	e.clock.Advance(time.Minute)
	e.publish("t.x", base) // older than Settle before the last id
	seen := e.publish("t.x", e.clock.Now().Add(-2*time.Second))
	missedEarlier := e.publish("t.x", e.clock.Now().Add(-3*time.Second)) // committed after seen was sent
	missed := e.publish("t.x", e.clock.Now().Add(-time.Second))
	sk, _, _ := e.follow(Params{LastID: seen.ID})
	// Everything within Settle before the last id, and everything after
	// it; never the last id itself, nor what is older than Settle.
	e.expect(sk, missedEarlier, missed)
	e.quiet(sk)
}

func TestFiltersByType(t *testing.T) {
	e := newEnv(t)
	accept := func(typ string) bool { return store.Endpoint{EventTypes: []string{"invoice.*"}}.Accepts(typ) }
	sk, _, _ := e.follow(Params{Accept: accept})
	e.idle()
	e.publish("customer.created", e.clock.Now().Add(time.Millisecond))
	paid := e.publish("invoice.paid", e.clock.Now().Add(time.Millisecond))
	e.hub.Notify()
	e.expect(sk, paid)
	e.quiet(sk)
}

func TestHeartbeatAndClose(t *testing.T) {
	e := newEnv(t)
	sk, _, wait := e.follow(Params{})
	e.idle()
	e.clock.Advance(DefaultHeartbeat)
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
// even while local commits wake the feed all the time (wakes do not
// restart the poll's wait).
func TestWakesDoNotPutOffTheFullRead(t *testing.T) {
	e := newEnv(t)
	sk, _, _ := e.follow(Params{})
	e.idle()
	later := e.publish("t.later", e.clock.Now().Add(3*time.Second))
	e.hub.Notify()
	e.expect(sk, later)
	early := e.publish("t.early", e.clock.Now().Add(time.Second))
	for i := range 5 {
		ev := e.publish("t.busy", e.clock.Now().Add(3*time.Second+time.Duration(i+1)*time.Millisecond))
		e.hub.Notify()
		e.expect(sk, ev)
	}
	e.idle()
	if n := e.clock.Waiters(); n != 2 {
		t.Fatalf("%d waits after 5 wakes, want the poll's and the heartbeat's", n)
	}
	e.clock.Advance(DefaultPoll)
	e.expect(sk, early)
}
