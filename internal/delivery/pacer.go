package delivery

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// pacer sends the deliveries of limited endpoints (rate_limit_per_second,
// max_concurrency) no faster than their limits allow, over every node
// together: before each request it takes a send slot from the store
// (Store.TakeSlot, shared through the database on PostgreSQL).
//
// A rate slot is held from the moment the request is let go until a second
// after its answer, a concurrency slot until the answer. So any second, at
// the receiver, sees at most rate_limit_per_second requests arrive: every
// request that arrives in a given second holds its rate slot through that
// second's end.
//
// Claimed deliveries of a limited endpoint wait in the pacer's queue of
// that endpoint, not in the workers: while they wait they take no worker,
// and the queue is bounded (see paceCap), so a limited endpoint never
// slows the others. One goroutine per endpoint with waiting deliveries
// takes slots and hands them to workers, one at a time.
type pacer struct {
	e *Engine

	mu     sync.Mutex
	queues map[string]*paceQueue
	tokens map[string]string // delivery id → slot token, while sending
	// stopping: Run is draining; nothing more is started.
	stopping bool
	running  sync.WaitGroup
	// ctx ends when Stop begins: a TakeSlot in progress is cut short.
	ctx    context.Context
	cancel context.CancelFunc
	// freeing: frees of slots tried again after an error (see free);
	// quit ends their waits when Stop's deadline passes.
	freeing sync.WaitGroup
	quit    chan struct{}
}

type paceQueue struct {
	waiting []store.Claimed
	// freed wakes the endpoint's goroutine when this node frees a slot.
	freed chan struct{}
}

func newPacer(e *Engine) *pacer {
	ctx, cancel := context.WithCancel(context.Background())
	return &pacer{e: e, queues: make(map[string]*paceQueue), tokens: make(map[string]string),
		ctx: ctx, cancel: cancel, quit: make(chan struct{})}
}

// limited reports whether c's endpoint has limits: the pacer sends it.
func limited(c store.Claimed) bool { return c.RateLimitPerSecond > 0 || c.MaxConcurrency > 0 }

// paceCap is how many deliveries of a limited endpoint may wait on this
// node: about 30 seconds at its rate, 8 rounds at its concurrency, and
// never more than any endpoint's queue. Their leases must outlast the
// wait.
func (p *pacer) paceCap(c store.Claimed) int {
	n := p.e.slots.queueCap()
	if c.RateLimitPerSecond > 0 {
		n = min(n, max(1, 30*c.RateLimitPerSecond))
	}
	if c.MaxConcurrency > 0 {
		n = min(n, 8*c.MaxConcurrency)
	}
	return n
}

// split takes the deliveries of limited endpoints out of claimed into their
// queues and returns the rest, and those that did not fit (to give back).
func (p *pacer) split(claimed []store.Claimed) (rest, back []store.Claimed) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range claimed {
		if !limited(c) {
			rest = append(rest, c)
			continue
		}
		ep := c.Delivery.EndpointID
		q := p.queues[ep]
		if p.stopping || (q != nil && len(q.waiting) >= p.paceCap(c)) {
			back = append(back, c)
			continue
		}
		if q == nil {
			q = &paceQueue{freed: make(chan struct{}, 1)}
			p.queues[ep] = q
			p.running.Add(1)
			go p.run(ep, q)
		}
		q.waiting = append(q.waiting, c)
	}
	return rest, back
}

// full lists the limited endpoints that cannot take a whole claim of n
// more: claims skip them.
func (p *pacer) full(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for ep, q := range p.queues {
		if len(q.waiting) > 0 && len(q.waiting)+n > p.paceCap(q.waiting[0]) {
			out = append(out, ep)
		}
	}
	return out
}

// run paces endpoint ep until its queue is empty.
func (p *pacer) run(ep string, q *paceQueue) {
	defer p.running.Done()
	ctx := p.ctx
	for {
		p.mu.Lock()
		if p.stopping || len(q.waiting) == 0 {
			delete(p.queues, ep)
			p.mu.Unlock()
			return
		}
		c := q.waiting[0]
		p.mu.Unlock()

		now := p.e.cfg.Clock.Now()
		token := rand.Text()
		ok, retryAt, err := p.e.cfg.Store.TakeSlot(ctx, store.SendSlot{
			EndpointID: ep, Rate: c.RateLimitPerSecond, Concurrency: c.MaxConcurrency,
			Now: now, Until: now.Add(p.e.cfg.Lease), Token: token,
		})
		switch {
		case err != nil && ctx.Err() != nil:
			continue // stopping
		case err != nil:
			p.e.cfg.Logger.Warn("taking a send slot failed; retrying", "endpoint", ep, "err", err)
			p.wait(q, time.Second)
			continue
		case !ok:
			// The wait is a poll on the wall clock, bounded so that slots
			// other nodes free are noticed; what is allowed is decided by
			// TakeSlot at the injected clock's now.
			p.wait(q, min(max(retryAt.Sub(now), time.Millisecond), 250*time.Millisecond))
			continue
		}
		// Hand it over under p.mu, so that stop, which gives back what
		// waits, never gives back a delivery that a worker also has.
		for {
			p.mu.Lock()
			if p.stopping || len(q.waiting) == 0 || q.waiting[0].Delivery.ID != c.Delivery.ID {
				p.mu.Unlock()
				p.free(ep, token, now, now, now.Add(p.e.cfg.Lease))
				break
			}
			started := p.e.slots.startPaced(c)
			if started {
				q.waiting = q.waiting[1:]
				p.tokens[c.Delivery.ID] = token
			}
			p.mu.Unlock()
			if started {
				break
			}
			// Every worker is busy: wait for one.
			p.wait(q, 10*time.Millisecond)
		}
	}
}

// wait sleeps up to d, or until this node frees a slot of q's endpoint.
func (p *pacer) wait(q *paceQueue, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-q.freed:
	case <-t.C:
	case <-p.ctx.Done():
	}
}

func (p *pacer) isStopping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopping
}

// done ends the slots of c's request, answered at answered.
func (p *pacer) done(c store.Claimed, answered time.Time) {
	ep := c.Delivery.EndpointID
	p.mu.Lock()
	token, ok := p.tokens[c.Delivery.ID]
	delete(p.tokens, c.Delivery.ID)
	q := p.queues[ep]
	p.mu.Unlock()
	if !ok {
		return
	}
	_, until := p.e.lease(c)
	p.free(ep, token, answered.Add(time.Second), answered, until)
	if q != nil {
		select {
		case q.freed <- struct{}{}:
		default:
		}
	}
}

// free ends the send slot token of ep (see Store.FreeSlot). A failure is
// tried again in the background, on the injected clock, until the slot's
// own bound (its lease, until) or Stop's deadline: a slot left taken on
// PostgreSQL would hold the endpoint's limit until then.
func (p *pacer) free(ep, token string, end, now, until time.Time) {
	if p.freeOnce(ep, token, end, now) == nil {
		return
	}
	p.freeing.Add(1)
	go func() {
		defer p.freeing.Done()
		backoff := recordMinBackoff
		for try := 2; ; try++ {
			select {
			case <-p.e.cfg.Clock.After(backoff):
			case <-p.quit:
				p.e.cfg.Logger.Warn("a send slot left taken at shutdown; it ends with its lease", "endpoint", ep, "until", until)
				return
			}
			err := p.freeOnce(ep, token, end, p.e.cfg.Clock.Now())
			if err == nil {
				return
			}
			if !p.e.cfg.Clock.Now().Add(backoff).Before(until) {
				p.e.cfg.Logger.Error("freeing a send slot failed; it ends with its lease", "endpoint", ep, "err", err, "tries", try, "until", until)
				return
			}
			backoff = min(2*backoff, recordMaxBackoff)
		}
	}()
}

// freeOnce tries FreeSlot once, bounded by freeTimeout.
func (p *pacer) freeOnce(ep, token string, end, now time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), freeTimeout)
	defer cancel()
	err := p.e.cfg.Store.FreeSlot(ctx, ep, token, end, now)
	if err != nil {
		p.e.cfg.Logger.Warn("freeing a send slot failed; trying again", "endpoint", ep, "err", err)
	}
	return err
}

// freeTimeout bounds one FreeSlot.
const freeTimeout = 5 * time.Second

func (p *pacer) Start() {}

// Stop starts nothing more, gives back the waiting deliveries once every
// endpoint's goroutine has ended (a TakeSlot in progress is cut short),
// and waits until ctx ends for slot frees being tried again.
func (p *pacer) Stop(ctx context.Context) error {
	p.mu.Lock()
	p.stopping = true
	var back []store.Claimed
	for _, q := range p.queues {
		back = append(back, q.waiting...)
		q.waiting = nil
	}
	p.mu.Unlock()
	p.cancel()
	p.running.Wait()
	p.e.giveBack(back)
	done := make(chan struct{})
	go func() {
		p.freeing.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	close(p.quit)
	<-done
	return fmt.Errorf("send slots left taken until their leases end: %w", ctx.Err())
}

// count is how many deliveries wait in the pacer.
func (p *pacer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, q := range p.queues {
		n += len(q.waiting)
	}
	return n
}

// oldest is when the oldest delivery waiting in the pacer was claimed.
func (p *pacer) oldest() (since time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, q := range p.queues {
		if len(q.waiting) == 0 {
			continue
		}
		if t, _ := p.e.lease(q.waiting[0]); !ok || t.Before(since) {
			since, ok = t, true
		}
	}
	return since, ok
}

// startPaced hands c, whose send slot the pacer holds, to a worker when
// one is free and its endpoint has fewer than perEndpoint running.
func (s *slots) startPaced(c store.Claimed) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ep := c.Delivery.EndpointID
	if s.stopping || s.busy >= s.workers || s.running[ep] >= s.perEndpoint {
		return false
	}
	s.running[ep]++
	s.busy++
	s.jobs <- c
	return true
}
