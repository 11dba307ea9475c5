package delivery

import (
	"sync"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// slots is what this node has taken on: per endpoint, the deliveries
// running (handed to a worker, until their request is answered) and those
// queued (claimed, waiting for a slot of their endpoint), and the endpoints
// that answered 410 (goneMark). It is the only state the engine's
// goroutines share.
//
// Its mutex is held only to count: never across I/O, a call out of the
// package or a channel operation that can block. So every goroutine may
// use it — the dispatcher, the workers, the publish committer (Deliver),
// and Direct's Take, which runs inside the store's write transaction.
type slots struct {
	workers     int
	perEndpoint int
	lease       time.Duration
	// jobs feeds the workers. Its capacity is workers and at most workers
	// deliveries are running (busy), so a send on it never blocks.
	jobs chan store.Claimed

	mu       sync.Mutex
	running  map[string]int // by endpoint
	queued   map[string][]store.Claimed
	busy     int // running, all endpoints
	waiting  int // queued, all endpoints
	stopping bool
	// gone: endpoints that answered 410 on this node whose disabling may
	// not yet be known to every delivery this node holds (see goneMark).
	// It only ever holds a delivery back or makes it ask the database; it
	// never cancels one, and nothing claimed after the disabling was
	// recorded consults it — so nothing of it outlives an enable.
	gone map[string]goneMark
	// reserved: what Direct's takes accepted for batches not yet
	// delivered, over every publish committer (see directBudget).
	reserved    map[*store.DirectClaim]*directBudget
	resRun      map[string]int
	resQueue    map[string]int
	resAllRun   int
	resAllQueue int
	// recRoom is the recorder's Room (an atomic read): admit takes
	// nothing while it is not positive.
	recRoom func() int
}

func newSlots(workers, perEndpoint int, lease time.Duration) *slots {
	return &slots{
		workers:     workers,
		perEndpoint: perEndpoint,
		lease:       lease,
		jobs:        make(chan store.Claimed, workers),
		running:     make(map[string]int),
		queued:      make(map[string][]store.Claimed),
		gone:        make(map[string]goneMark),
		reserved:    make(map[*store.DirectClaim]*directBudget),
		resRun:      make(map[string]int),
		resQueue:    make(map[string]int),
		recRoom:     func() int { return 1 },
	}
}

// queueCap is how many claimed deliveries may wait behind one endpoint's
// running ones. Enough that a fast endpoint always has the next claim's
// worth at hand (claims are write transactions and compete with accepting
// events, so each should carry many deliveries); few enough that a slow
// one (every request taking the timeout) reaches the last of them in 8
// rounds, within the default lease of 10 timeouts.
func (s *slots) queueCap() int { return 8 * s.perEndpoint }

// maxWaiting bounds the queued deliveries of all endpoints: room for the
// queues of workers/perEndpoint slow endpoints, as many as can hold every
// worker anyway.
func (s *slots) maxWaiting() int { return 4 * s.workers }

// full reports whether endpoint ep cannot take a whole claim of
// claimLimit more; such endpoints are skipped by claims. s.mu is held.
func (s *slots) full(ep string, claimLimit int) bool {
	return s.running[ep] >= s.perEndpoint && len(s.queued[ep]) > s.queueCap()-claimLimit
}

// capacity returns how many more deliveries this node can take, and the
// endpoints that cannot take a claim of claimLimit.
func (s *slots) capacity(claimLimit int) (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var skip []string
	for ep := range s.running {
		if s.full(ep, claimLimit) {
			skip = append(skip, ep)
		}
	}
	// Queued deliveries must not use up worker capacity (that would let a
	// slow endpoint starve the rest through its queue), but their number
	// is bounded too.
	return min(s.workers-s.busy, s.maxWaiting()-s.waiting), skip
}

// take hands claimed deliveries to workers, keeping at most perEndpoint
// running per endpoint and queueCap queued behind them. The rest — one claim
// can return many deliveries of one endpoint, and a publish's claims are
// only estimated to fit — are returned, to be given back: a slow endpoint
// never holds more leases than it can use before they expire.
func (s *slots) take(claimed []store.Claimed) (back []store.Claimed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range claimed {
		ep := c.Delivery.EndpointID
		// A delivery queues only behind a running one of its endpoint,
		// whose finish will start it.
		switch {
		case s.stopping:
			back = append(back, c)
		case s.running[ep] < s.perEndpoint && s.busy < s.workers:
			s.running[ep]++
			s.busy++
			s.jobs <- c
		case s.running[ep] > 0 && len(s.queued[ep]) < s.queueCap():
			s.queued[ep] = append(s.queued[ep], c)
			s.waiting++
		default:
			back = append(back, c)
		}
	}
	return back
}

// release frees a slot of endpoint ep once its request is answered (or
// failed) and passes it to the next queued delivery of ep, if any. It
// reports whether ep could not take a claim of claimLimit before and can
// now.
func (s *slots) release(ep string, claimLimit int, now time.Time) (madeRoom bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wasFull := s.full(ep, claimLimit)
	if q := s.queued[ep]; len(q) > 0 && !s.stopping {
		next := q[0]
		s.waiting--
		if len(q) == 1 {
			delete(s.queued, ep)
		} else {
			s.queued[ep] = q[1:]
		}
		// The running count stays: the slot passes to the next one.
		s.jobs <- next
	} else {
		s.busy--
		if s.running[ep]--; s.running[ep] <= 0 {
			delete(s.running, ep)
			if m, ok := s.gone[ep]; ok && m.over(now, s.lease) {
				delete(s.gone, ep)
			}
		}
	}
	return wasFull && !s.full(ep, claimLimit)
}

// stop makes take refuse everything from now on and returns the queued
// deliveries, which are not to be sent: the caller gives them back.
func (s *slots) stop() []store.Claimed {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	var back []store.Claimed
	for ep, q := range s.queued {
		back = append(back, q...)
		s.waiting -= len(q)
		delete(s.queued, ep)
	}
	return back
}

func (s *slots) stopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// counts returns the deliveries handed to workers (running or about to)
// and those queued behind them.
func (s *slots) counts() (c struct{ busy, waiting int }) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.busy, c.waiting = s.busy, s.waiting
	return c
}

// goneMark is what this node knows of a 410 it got from an endpoint.
//
// From the answer until the outcome that disables the endpoint is
// recorded (recorded zero), the database does not know yet: every
// delivery of the endpoint that reaches a worker here is given back
// unsent, and the store cancels it when it records the give-back after
// the disabling (an outcome that leaves a delivery waiting on a disabled
// endpoint cancels it). So this node sends the endpoint nothing after its
// 410. Should that outcome never be recorded, the mark ends as well, and
// so does the mark after a lease (the recorder gives up on an outcome by
// then): what was held back is sent, and is answered 410 again.
//
// Once recorded, the database knows, and decides: a delivery claimed
// after that is handed out with EndpointGone, or not at all; one claimed
// at or before it may have been claimed while the endpoint was enabled,
// so it asks the database whether the endpoint is still disabled
// (Engine.stillGone) — an enable since lets it go. The mark ends when the
// database says enabled, or once every such claim's lease is over.
type goneMark struct {
	at       time.Time // the 410's answer
	recorded time.Time // when its disabling was recorded; zero until then
}

// over reports whether the mark has nothing left to do at now.
func (m goneMark) over(now time.Time, lease time.Duration) bool {
	if m.recorded.IsZero() {
		return now.Sub(m.at) > lease
	}
	return now.Sub(m.recorded) > lease
}

// What goneCheck tells a worker to do with a delivery.
const (
	goneSend = iota // nothing known: send it
	goneHold        // the 410's disabling is not recorded yet: give it back unsent
	goneAsk         // claimed before the disabling was recorded: ask the database
)

// markGone records that endpoint ep answered 410 at at. A mark already
// there is replaced: the endpoint was enabled again and answered 410 anew,
// or this is a second 410 of a disabling not recorded yet (the earliest
// answer is kept then).
func (s *slots) markGone(ep string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.gone[ep]; ok && m.recorded.IsZero() && m.at.Before(at) {
		return
	}
	s.gone[ep] = goneMark{at: at}
}

// goneRecorded: the outcome of endpoint ep's 410 answered at at (its
// disabling) was recorded at now, or dropped (ok false: the mark goes).
func (s *slots) goneRecorded(ep string, at, now time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, found := s.gone[ep]
	if !found || !m.recorded.IsZero() || at.Before(m.at) {
		return
	}
	if !ok {
		delete(s.gone, ep)
		return
	}
	m.recorded = now
	s.gone[ep] = m
}

// clearGone forgets the 410 mark of endpoint ep once the database says it
// is enabled (after its disabling was recorded).
func (s *slots) clearGone(ep string) {
	s.mu.Lock()
	if m, ok := s.gone[ep]; ok && !m.recorded.IsZero() {
		delete(s.gone, ep)
	}
	s.mu.Unlock()
}

// goneCheck tells a worker what to do with a delivery of endpoint ep
// claimed at claimedAt (see goneMark).
func (s *slots) goneCheck(ep string, claimedAt, now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.gone[ep]
	switch {
	case !ok:
		return goneSend
	case m.over(now, s.lease):
		delete(s.gone, ep)
		return goneSend
	case m.recorded.IsZero():
		return goneHold
	case claimedAt.After(m.recorded):
		return goneSend
	}
	return goneAsk
}

// goneHeld lists the endpoints whose 410 is not recorded yet at now:
// claims skip them, as their deliveries would only be given back.
func (s *slots) goneHeld(now time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for ep, m := range s.gone {
		switch {
		case m.over(now, s.lease):
			delete(s.gone, ep)
		case m.recorded.IsZero():
			out = append(out, ep)
		}
	}
	return out
}

// directBudget is what one DirectClaim has accepted so far: its Take is
// asked before the batch commits, and nothing reaches the counts of slots
// until Deliver. Until then its takes are reserved in slots (resRun,
// resQueue), so that the batches of every publish committer together
// accept no more than one could. Only that DirectClaim's Take adds to it,
// on one publish committer's goroutine, under s.mu.
type directBudget struct {
	toRun, toQueue   map[string]int
	allRun, allQueue int
}

// reserve registers the budget of direct until unreserve.
func (s *slots) reserve(direct *store.DirectClaim, b *directBudget) {
	s.mu.Lock()
	s.reserved[direct] = b
	s.mu.Unlock()
}

// unreserve ends what direct's takes reserved (its batch was delivered,
// or did not commit). Unknown or nil direct: nothing.
func (s *slots) unreserve(direct *store.DirectClaim) {
	if direct == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.reserved[direct]
	if !ok {
		return
	}
	delete(s.reserved, direct)
	for ep, n := range b.toRun {
		if s.resRun[ep] -= n; s.resRun[ep] <= 0 {
			delete(s.resRun, ep)
		}
	}
	for ep, n := range b.toQueue {
		if s.resQueue[ep] -= n; s.resQueue[ep] <= 0 {
			delete(s.resQueue, ep)
		}
	}
	s.resAllRun -= b.allRun
	s.resAllQueue -= b.allQueue
}

// admit tells Direct's Take whether to claim a delivery of ep (see
// Engine.Direct), counting it in b and in the reservations when it does.
func (s *slots) admit(ep string, now time.Time, b *directBudget) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping || s.recRoom() <= 0 {
		return false
	}
	if m, ok := s.gone[ep]; ok && m.recorded.IsZero() && !m.over(now, s.lease) {
		return false // its 410 is not recorded yet: it would only be held back
	}
	running := s.running[ep] + s.resRun[ep]
	if running < s.perEndpoint && s.busy+s.resAllRun < s.workers {
		b.toRun[ep]++
		b.allRun++
		s.resRun[ep]++
		s.resAllRun++
		return true
	}
	if running > 0 && len(s.queued[ep])+s.resQueue[ep] < s.queueCap()/2 && s.waiting+s.resAllQueue < s.maxWaiting() {
		b.toQueue[ep]++
		b.allQueue++
		s.resQueue[ep]++
		s.resAllQueue++
		return true
	}
	return false
}

// oldestQueued is when the oldest delivery waiting for a worker was
// claimed (as lease, see Engine.lease, tells).
func (s *slots) oldestQueued(lease func(store.Claimed) (time.Time, time.Time)) (since time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.queued {
		if len(q) == 0 {
			continue
		}
		if t, _ := lease(q[0]); !ok || t.Before(since) {
			since, ok = t, true
		}
	}
	return since, ok
}
