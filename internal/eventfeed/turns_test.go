package eventfeed

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// manualHolds makes t's holds end only when the test says so.
func manualHolds(t *turns) chan func() {
	fired := make(chan func(), 16)
	t.afterFunc = func(_ time.Duration, f func()) func() bool {
		fired <- f
		return func() bool { return true }
	}
	return fired
}

// next is the hold a turn started.
func next(t *testing.T, holds chan func()) func() {
	t.Helper()
	select {
	case f := <-holds:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("a turn started no hold")
		return nil
	}
}

func TestTurnsBoundAndHold(t *testing.T) {
	tr := newTurns(1, time.Hour)
	holds := manualHolds(tr)
	ctx := t.Context()

	aIn, aOut := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() { aDone <- tr.do(ctx, func() error { close(aIn); <-aOut; return nil }) }()
	<-aIn
	aHold := next(t, holds)

	// B waits for the one turn; a cancelled C gives up with its cause.
	bIn, bOut := make(chan struct{}), make(chan struct{})
	bDone := make(chan error, 1)
	go func() { bDone <- tr.do(ctx, func() error { close(bIn); <-bOut; return nil }) }()
	cctx, cancel := context.WithCancelCause(ctx)
	cause := errors.New("client left")
	cancel(cause)
	if err := tr.do(cctx, func() error { t.Error("C ran without a turn"); return nil }); !errors.Is(err, cause) {
		t.Fatalf("a cancelled wait: %v, want its cause", err)
	}
	select {
	case <-bIn:
		t.Fatal("B ran while A had the only turn")
	default:
	}

	// A's hold ends while A still runs (a write to a client that reads
	// nothing): B gets the turn.
	aHold()
	<-bIn
	next(t, holds)
	// A ends: it must not give back B's turn a second time.
	close(aOut)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	if len(tr.slots) != 1 {
		t.Fatalf("%d turns taken while B runs, want 1", len(tr.slots))
	}
	close(bOut)
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	if len(tr.slots) != 0 {
		t.Fatalf("%d turns taken after all ended, want 0", len(tr.slots))
	}
}

// blockingSink takes events one at a time as the test lets it, counting
// how many of its feeds are inside Event at once.
type blockingSink struct {
	in      chan struct{} // one per Event entered
	release chan struct{}
	now     *atomic.Int32
	most    *atomic.Int32
}

func (s *blockingSink) Event(ctx context.Context, _ store.Event) error {
	n := s.now.Add(1)
	for {
		m := s.most.Load()
		if n <= m || s.most.CompareAndSwap(m, n) {
			break
		}
	}
	s.in <- struct{}{}
	defer s.now.Add(-1)
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (s *blockingSink) Heartbeat(context.Context) error { return nil }

// The streams woken by one commit write in turns, Turns at a time, not
// all at once.
func TestFeedsWriteInTurns(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Turns, c.TurnHold = 1, time.Hour })
	const feeds = 8
	var now, most atomic.Int32
	sk := &blockingSink{in: make(chan struct{}, feeds), release: make(chan struct{}), now: &now, most: &most}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for range feeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = e.hub.Follow(ctx, Params{ProjectID: e.pid, Since: base}, sk)
		}()
	}
	e.waiters(2 * feeds)
	e.publish("a", base.Add(time.Millisecond))
	e.hub.Notify(e.pid)
	for i := range feeds {
		<-sk.in
		// A second feed in Event now would be a broken bound; give one
		// the time to show up (a correct run only ever waits it out).
		select {
		case <-sk.in:
			t.Fatalf("%d feeds wrote at once (after %d writes), want 1 with Turns 1", most.Load(), i)
		case <-time.After(20 * time.Millisecond):
		}
		sk.release <- struct{}{}
	}
}

// A stream whose client reads nothing keeps its turn only for TurnHold:
// the other streams go on.
func TestStalledFeedGivesItsTurnBack(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Turns, c.TurnHold = 1, time.Millisecond })
	var now, most atomic.Int32
	stalled := &blockingSink{in: make(chan struct{}, 1), release: make(chan struct{}), now: &now, most: &most}
	sctx, stop := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() { _ = e.hub.Follow(sctx, Params{ProjectID: e.pid, Since: base}, stalled); close(stopped) }()
	t.Cleanup(func() { stop(); <-stopped })
	e.waiters(2)
	e.publish("a", base.Add(time.Millisecond))
	e.hub.Notify(e.pid)
	<-stalled.in // it writes, and never returns

	live, _, _ := e.follow(Params{Since: base})
	select {
	case ev := <-live.events:
		if ev.Type != "a" {
			t.Fatalf("got %q", ev.Type)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a live stream waited behind one whose client reads nothing")
	}
}

// The streams' checks of their key are not taken in turns: they share
// reads that began after they asked, and checks let in one at a time
// would each begin a read of their own. Ten checks are under way at once
// with one turn, held for as long as a turn may be.
func TestChecksAreNotTakenInTurns(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Turns, c.TurnHold = 1, time.Hour })
	const feeds = 10
	var in atomic.Int32
	all := make(chan struct{})
	check := func(ctx context.Context) error {
		if in.Add(1) == feeds {
			close(all)
		}
		select {
		case <-all:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for range feeds {
		e.follow(Params{Check: check})
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d of %d checks under way at once", in.Load(), feeds)
	}
}
