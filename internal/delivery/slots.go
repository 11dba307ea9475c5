package delivery

import (
	"sync"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// slots is what this node has taken on: per endpoint, the deliveries
// running (handed to a worker, until their request is answered) and those
// queued (claimed, waiting for a slot of their endpoint), and the endpoints
// that answered 410. It is the only state the engine's goroutines share.
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
	// gone: endpoints that answered 410 on this node, and when. It decides
	// nothing: a delivery of such an endpoint asks the database whether
	// the endpoint is disabled (Engine.stillGone) before it is sent, and
	// Direct leaves it to Claim. An enable (on any node) clears the mark
	// at the first delivery after it; after a lease every claim made
	// before the 410 is over, and the mark goes.
	gone map[string]time.Time
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
		gone:        make(map[string]time.Time),
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
			if t, ok := s.gone[ep]; ok && now.Sub(t) > s.lease {
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

// markGone records that endpoint ep answered 410 at at.
func (s *slots) markGone(ep string, at time.Time) {
	s.mu.Lock()
	s.gone[ep] = at
	s.mu.Unlock()
}

// clearGone forgets the 410 mark of endpoint ep when the endpoint was
// changed (enabled again) after it: at is the endpoint's UpdatedAt.
func (s *slots) clearGone(ep string, at time.Time) {
	s.mu.Lock()
	if t, ok := s.gone[ep]; ok && at.After(t) {
		delete(s.gone, ep)
	}
	s.mu.Unlock()
}

// isGone reports whether endpoint ep answered 410 within a lease of now.
func (s *slots) isGone(ep string, now time.Time) bool {
	s.mu.Lock()
	t, ok := s.gone[ep]
	s.mu.Unlock()
	return ok && now.Sub(t) <= s.lease
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
func (s *slots) admit(ep string, b *directBudget) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping || s.recRoom() <= 0 {
		return false
	}
	if _, ok := s.gone[ep]; ok {
		return false // let Claim and the 410 mark deal with it
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
