package eventfeed

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

func (s *sink) Event(_ context.Context, e store.Event) error { s.events <- e; return nil }
func (s *sink) Heartbeat(context.Context) error              { s.heartbeats <- struct{}{}; return nil }

type env struct {
	t     *testing.T
	s     store.Store
	clock *clock.Fake
	hub   *Hub
	pid   string
}

func newEnv(t *testing.T, opts ...func(*Config)) *env {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "feed.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := &env{t: t, s: s, clock: clock.NewFake(base)}
	cfg := Config{Store: s, Clock: e.clock}
	for _, o := range opts {
		o(&cfg)
	}
	e.hub, err = New(cfg)
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

// waiters waits until n timers wait on the clock (each idle feed arms
// two), on a deadline that only ends a broken run.
func (e *env) waiters(n int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.clock.Waiters() < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d timers wait, want %d", e.clock.Waiters(), n)
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

// pages is a store that tells what each page a feed read held.
type pages struct {
	store.Store
	mu   sync.Mutex
	read []int // events per page
	max  []int // the maxBytes asked for
}

func (p *pages) EventsAfter(ctx context.Context, projectID, after string, limit, maxBytes int) ([]store.Event, error) {
	evs, err := p.Store.EventsAfter(ctx, projectID, after, limit, maxBytes)
	p.mu.Lock()
	p.read, p.max = append(p.read, len(evs)), append(p.max, maxBytes)
	p.mu.Unlock()
	return evs, err
}

func (p *pages) events() (n int, max []int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.read {
		n += r
	}
	return n, slices.Clone(p.max)
}

// stalled is a sink whose client reads nothing: Event waits until ctx
// ends, as a write to a full socket would until the stream gives up.
type stalled struct{ got chan store.Event }

func (s *stalled) Event(ctx context.Context, e store.Event) error {
	s.got <- e
	<-ctx.Done()
	return context.Cause(ctx)
}
func (s *stalled) Heartbeat(ctx context.Context) error { <-ctx.Done(); return context.Cause(ctx) }

// TestABacklogIsReadAPageAtATime: a client resuming far back while it
// reads nothing makes the feed hold one page of PageBytes, not the
// backlog; a reading client gets all of it, page by page.
func TestABacklogIsReadAPageAtATime(t *testing.T) {
	st := &pages{}
	const pageBytes = 100 << 10
	e := newEnv(t, func(c *Config) { st.Store = c.Store; c.Store = st; c.PageBytes = pageBytes })
	first := e.publish("t.first", base.Add(-time.Minute))
	var want []store.Event
	for i := range 20 {
		ev := store.Event{ID: ids.New(ids.Event, base.Add(time.Duration(i)*time.Millisecond)), ProjectID: e.pid, Type: "t.big", CreatedAt: base}
		ev.Body = fmt.Appendf(nil, `{"id":%q,"data":%q}`, ev.ID, strings.Repeat("x", 40<<10))
		if _, err := e.s.Publish(t.Context(), []store.Event{ev}, time.Time{}, nil); err != nil {
			t.Fatal(err)
		}
		want = append(want, ev)
	}

	sk := &stalled{got: make(chan store.Event, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.hub.Follow(ctx, Params{ProjectID: e.pid, LastID: first.ID}, sk) }()
	<-sk.got
	n, max := st.events()
	// The last id read again, then 40 KB events to a 100 KB page: three
	// of them reach it.
	if n > 4 || len(max) != 1 || max[0] != pageBytes {
		t.Errorf("a stalled client's feed read %d events in pages of at most %v bytes, want one page of at most 4 (%d bytes)", n, max, pageBytes)
	}
	cancel()
	<-done

	sk2, _, _ := e.follow(Params{LastID: first.ID})
	e.expect(sk2, want...)
	if n, max := st.events(); len(max) < 8 {
		t.Errorf("a reading client got 20 events of 40 KB in %d pages (%d events read), want one per 100 KB", len(max), n)
	}
}

func TestAcquireLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxStreams, c.MaxProjectStreams = 3, 2 })
	r1, err := e.hub.Acquire("p1")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := e.hub.Acquire("p1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.hub.Acquire("p1"); !errors.Is(err, ErrTooManyProjectStreams) {
		t.Fatalf("a third stream of p1: %v, want ErrTooManyProjectStreams", err)
	}
	r3, err := e.hub.Acquire("p2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.hub.Acquire("p3"); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("a fourth stream on the node: %v, want ErrTooManyStreams", err)
	}
	r1()
	r1() // a second release gives back nothing more
	if node, proj := e.hub.Open("p1"); node != 2 || proj != 1 {
		t.Fatalf("after one release: %d open, %d of p1; want 2 and 1", node, proj)
	}
	if _, err := e.hub.Acquire("p3"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	r2()
	r3()
}

// TestCloseEndsAStalledSink: a sink blocked on a client that reads
// nothing does not hold up shutdown: Close ends its context.
func TestCloseEndsAStalledSink(t *testing.T) {
	e := newEnv(t)
	first := e.publish("t.first", base.Add(-time.Second))
	e.publish("t.second", base)
	sk := &stalled{got: make(chan store.Event, 1)}
	done := make(chan error, 1)
	go func() { done <- e.hub.Follow(t.Context(), Params{ProjectID: e.pid, LastID: first.ID}, sk) }()
	<-sk.got
	e.hub.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Follow after Close: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled sink held Follow up after Close")
	}
}

// TestCheckEndsTheFeed: the check (a revoked key) ends a quiet feed at
// its next poll, and comes before any event is sent.
func TestCheckEndsTheFeed(t *testing.T) {
	e := newEnv(t)
	var revoked atomic.Bool
	errRevoked := errors.New("revoked")
	sk, _, wait := e.follow(Params{Check: func(context.Context) error {
		if revoked.Load() {
			return errRevoked
		}
		return nil
	}})
	e.idle()
	a := e.publish("t.a", e.clock.Now().Add(time.Millisecond))
	e.hub.Notify()
	e.expect(sk, a)
	revoked.Store(true)
	e.publish("t.b", e.clock.Now().Add(2*time.Millisecond))
	e.hub.Notify()
	if err := wait(); !errors.Is(err, errRevoked) {
		t.Fatalf("Follow after the check failed: %v", err)
	}
	select {
	case got := <-sk.events:
		t.Fatalf("event %s sent after the check failed", got.Type)
	default:
	}

	revoked.Store(false)
	// The ended feed's timers still count as waiting on the fake clock:
	// wait for the new feed's own two.
	stale := e.clock.Waiters()
	sk, _, wait = e.follow(Params{Check: func(context.Context) error {
		if revoked.Load() {
			return errRevoked
		}
		return nil
	}})
	e.waiters(stale + 2)
	revoked.Store(true)
	e.clock.Advance(DefaultPoll) // nothing published: the poll checks
	if err := wait(); !errors.Is(err, errRevoked) {
		t.Fatalf("a quiet Follow after the check failed: %v", err)
	}
}

// TestFollowFromWhenTheStreamWasAccepted: a new client gets what is
// published from the moment its stream was accepted (Params.Since), even
// when the feed itself starts later. A front end answers 200 before it
// runs Follow; a client that publishes on hearing it (on another node,
// or before this goroutine is scheduled) must still get that event. The
// feed used to start from the time Follow began and lost it for ever.
func TestFollowFromWhenTheStreamWasAccepted(t *testing.T) {
	e := newEnv(t)
	accepted := e.clock.Now()
	e.clock.Advance(time.Millisecond)
	early := e.publish("t.early", e.clock.Now()) // after the 200, before Follow runs
	e.clock.Advance(50 * time.Millisecond)
	sk, _, _ := e.follow(Params{Since: accepted})
	e.idle()
	late := e.publish("t.late", e.clock.Now())
	e.hub.Notify()
	e.expect(sk, early, late)
}

// TestFollowSinceSkipsOlderEvents: Since is also the floor: an event from
// before it is not sent, even within Settle.
func TestFollowSinceSkipsOlderEvents(t *testing.T) {
	e := newEnv(t)
	e.publish("t.old", e.clock.Now())
	e.clock.Advance(time.Second)
	sk, _, _ := e.follow(Params{Since: e.clock.Now()})
	e.idle()
	next := e.publish("t.next", e.clock.Now())
	e.poll()
	e.expect(sk, next)
}

// TestNotifyWakesOnlyTheProjectsPublished: a commit wakes the feeds of
// the projects it holds events of, not every feed of the node: with
// 1,000 streams over 20 projects each commit would make 1,000 reads.
func TestNotifyWakesOnlyTheProjectsPublished(t *testing.T) {
	e := newEnv(t)
	mine, _, _ := e.follow(Params{})
	e.idle()
	if n := e.hub.Notify("prj_other"); n != 0 {
		t.Fatalf("Notify of another project woke %d feeds", n)
	}
	a := e.publish("t.a", e.clock.Now().Add(time.Millisecond))
	if n := e.hub.Notify("prj_other", e.pid); n != 1 {
		t.Fatalf("Notify of its project woke %d feeds, want 1", n)
	}
	e.expect(mine, a)
}

// TestAPollReadsNoBodyTwice: the full read of every poll looks Settle
// back; what it sent already, it learns from ids alone, so a quiet
// stream's polls read no event bodies — at 1,000 streams of 200 KB
// events they took the publishers' CPU.
func TestAPollReadsNoBodyTwice(t *testing.T) {
	st := &gets{}
	e := newEnv(t, func(c *Config) { st.Store = c.Store; c.Store = st })
	sk, _, _ := e.follow(Params{})
	e.idle()
	a := e.publish("t.a", e.clock.Now().Add(time.Millisecond))
	e.hub.Notify()
	e.expect(sk, a)
	e.idle()
	before := st.n.Load()
	for range 3 {
		e.poll()
	}
	if after := st.n.Load(); after != before {
		t.Fatalf("three polls with nothing new read %d event bodies", after-before)
	}
	// A late commit within Settle is still found, and only it is read.
	late := e.publish("t.late", e.clock.Now().Add(-2*time.Second))
	e.poll()
	e.expect(sk, late)
	if after := st.n.Load(); after-before != 1 {
		t.Fatalf("the poll that found one late event read %d bodies", after-before)
	}
}

// gets is a store that counts the bodies feeds read, one event or a page
// at a time.
type gets struct {
	store.Store
	n     atomic.Int64
	lists atomic.Int64 // id listings
	// onList, when set, runs before each listing.
	onList func()
}

func (g *gets) ListEventRefs(ctx context.Context, projectID string, from, until time.Time, after string, limit int) ([]store.EventRef, error) {
	g.lists.Add(1)
	if g.onList != nil {
		g.onList()
	}
	return g.Store.ListEventRefs(ctx, projectID, from, until, after, limit)
}

func (g *gets) GetEvent(ctx context.Context, projectID, id string) (store.Event, error) {
	g.n.Add(1)
	return g.Store.GetEvent(ctx, projectID, id)
}

func (g *gets) EventsAfter(ctx context.Context, projectID, after string, limit, maxBytes int) ([]store.Event, error) {
	evs, err := g.Store.EventsAfter(ctx, projectID, after, limit, maxBytes)
	g.n.Add(int64(len(evs)))
	return evs, err
}

// followCounted starts n feeds of a project on a store that counts the
// bodies they read.
func followCounted(t *testing.T, n int) (*gets, *env, []*sink) {
	st := &gets{}
	e := newEnv(t, func(c *Config) { st.Store = c.Store; c.Store = st })
	var sinks []*sink
	for range n {
		sk, _, _ := e.follow(Params{})
		sinks = append(sinks, sk)
	}
	return st, e, sinks
}

// TestAProjectsStreamsReadEachBodyOnce: ten streams of a project woken
// by one commit read its event's body from the store once among them
// (the Hub's body cache), and a stream whose filter refuses the type
// reads none.
func TestAProjectsStreamsReadEachBodyOnce(t *testing.T) {
	st, e, sinks := followCounted(t, 10)
	other, _, _ := e.follow(Params{Accept: func(typ string) bool { return typ == "t.other" }})
	e.waiters(2 * 11) // every feed read once and waits
	before := st.n.Load()
	a := e.publish("t.a", e.clock.Now().Add(time.Millisecond))
	if n := e.hub.Notify(e.pid); n != 11 {
		t.Fatalf("Notify woke %d feeds, want 11", n)
	}
	for _, sk := range sinks {
		e.expect(sk, a)
	}
	e.waiters(2 * 11)
	if n := st.n.Load() - before; n != 1 {
		t.Fatalf("11 streams read %d bodies of one new event, want 1", n)
	}
	select {
	case got := <-other.events:
		t.Fatalf("the filtered stream got %s", got.Type)
	default:
	}
	if got := e.hub.bodies.bytes(); got != len(a.Body) {
		t.Fatalf("the cache holds %d bytes, want the one body (%d)", got, len(a.Body))
	}
}

// TestBodyCacheIsBounded: the cache keeps at most its budget, dropping
// the oldest bodies first, and never keeps one larger than the budget.
func TestBodyCacheIsBounded(t *testing.T) {
	c := newBodies(100)
	load := func(id string, n int) func() (store.Event, error) {
		return func() (store.Event, error) { return store.Event{ID: id, Body: make([]byte, n)}, nil }
	}
	for i, n := range []int{40, 40, 40, 500} {
		id := fmt.Sprint("evt_", i)
		if ev, err := c.get(t.Context(), id, load(id, n)); err != nil || len(ev.Body) != n {
			t.Fatalf("get %s: %d bytes, %v", id, len(ev.Body), err)
		}
		if c.bytes() > 100 {
			t.Fatalf("after %s the cache holds %d bytes, over its 100", id, c.bytes())
		}
	}
	if c.bytes() != 80 {
		t.Fatalf("the cache holds %d bytes, want the last two 40-byte bodies", c.bytes())
	}
	calls := 0
	if _, err := c.get(t.Context(), "evt_2", func() (store.Event, error) { calls++; return store.Event{}, nil }); err != nil || calls != 0 {
		t.Fatalf("a cached body was loaded again (%d, %v)", calls, err)
	}
}

// TestAProjectsStreamsPollsReadEachBodyOnce: an event that no local
// commit announced (published on another node, or committed after a wake
// read past it) is found by the streams' polls, and they too read its body
// from the store once among them. Each poll read it on its own, a page
// with bodies per stream: at 1,000 streams of 200 KB events it was a third
// of the node's CPU in the second after the streams opened, and the
// publishes of that second waited.
func TestAProjectsStreamsPollsReadEachBodyOnce(t *testing.T) {
	st, e, sinks := followCounted(t, 10)
	e.waiters(2 * 10)
	before := st.n.Load()
	a := e.publish("t.a", e.clock.Now().Add(time.Millisecond)) // no Notify
	e.clock.Advance(DefaultPoll)
	for _, sk := range sinks {
		e.expect(sk, a)
	}
	e.waiters(2 * 10)
	if n := st.n.Load() - before; n != 1 {
		t.Fatalf("the polls of 10 streams read %d bodies of one new event, want 1", n)
	}
	// The next polls find nothing new and read no body.
	e.clock.Advance(DefaultPoll)
	e.waiters(2 * 10)
	if n := st.n.Load() - before; n != 1 {
		t.Fatalf("after a second poll %d bodies were read, want still 1", n)
	}
}

// TestAProjectsStreamsShareTheirListings: ten streams of a project woken
// by one commit list the new ids twice among them — the first one's
// listing, and the one that begins when it ends for the nine that asked
// meanwhile (a listing that began before a stream asked could miss what
// woke it) — and each gets the event.
func TestAProjectsStreamsShareTheirListings(t *testing.T) {
	st, e, sinks := followCounted(t, 10)
	e.waiters(2 * 10)
	started, open := holdFirstListing(t, st)
	before := st.lists.Load()
	a := e.publish("t.a", e.clock.Now().Add(time.Millisecond))
	e.hub.Notify(e.pid)
	<-started
	e.listingWaiters(refsKey{e.pid, base.UnixMilli()}, 9)
	open()
	for _, sk := range sinks {
		e.expect(sk, a)
	}
	e.waiters(2 * 10)
	if n := st.lists.Load() - before; n != 2 {
		t.Fatalf("10 streams woken by one commit listed ids %d times, want 2", n)
	}
}

// TestIdleStreamsPollsShareListings: streams opened at different times
// poll on the same ticks, and their polls list a project's ids twice among
// them — not once a stream a second: 1,000 idle streams took a quarter of
// a core listing nothing.
func TestIdleStreamsPollsShareListings(t *testing.T) {
	st, e, _ := followCounted(t, 0)
	for i := range 10 {
		e.follow(Params{})
		e.waiters(2 * (i + 1))
		e.clock.Advance(50 * time.Millisecond) // to base+500ms, before any poll
	}
	started, open := holdFirstListing(t, st)
	before := st.lists.Load()
	e.clock.Advance(500 * time.Millisecond) // the tick: every stream polls
	<-started
	// Each lists from Settle before its last full read (its first, at
	// base to base+450ms), on a whole Poll: the same for all.
	e.listingWaiters(refsKey{e.pid, base.Add(-DefaultSettle).UnixMilli()}, 9)
	open()
	e.waiters(2 * 10)
	if n := st.lists.Load() - before; n != 2 {
		t.Fatalf("the polls of 10 streams listed ids %d times, want 2", n)
	}
}

// holdFirstListing makes the first listing on st wait, once started says
// it began, until open is called (at the latest when the test ends, before
// the feeds' cleanups wait for them).
func holdFirstListing(t *testing.T, st *gets) (started chan struct{}, open func()) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	open = func() { once.Do(func() { close(release) }) }
	t.Cleanup(open)
	var first atomic.Bool
	st.onList = func() {
		if first.CompareAndSwap(false, true) {
			started <- struct{}{}
			<-release
		}
	}
	return started, open
}

// listingWaiters waits until n feeds wait for the next listing of key.
func (e *env) listingWaiters(key refsKey, n int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.hub.refs.Waiting(key) < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d feeds wait for the next listing, want %d", e.hub.refs.Waiting(key), n)
		}
		time.Sleep(time.Millisecond)
	}
}
