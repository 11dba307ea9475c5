package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/retry"
	"github.com/hookd/hookd/internal/store"
)

// Sender sends one request; *outbound.Client is the real one.
type Sender interface {
	Send(ctx context.Context, r outbound.Request) outbound.Result
}

// Config configures an Engine. Zero fields take the defaults given.
type Config struct {
	Store  store.Store
	Sender Sender
	Keys   *Keys
	Clock  clock.Clock // default clock.Real
	Retry  retry.Policy
	Logger *slog.Logger
	// Metrics: may be nil.
	Metrics *Metrics

	// Workers bounds the requests in flight on this node; default 256.
	Workers int
	// PerEndpoint bounds the requests in flight to one endpoint, so one
	// slow endpoint cannot take every worker; default 32.
	PerEndpoint int
	// Lease is how long a claim stays ours; it must outlast the request
	// timeout plus the wait in the local queue. Default 2 min.
	Lease time.Duration
	// ClaimBatch caps the deliveries taken per claim; default 128.
	ClaimBatch int
	// PollInterval is the longest the engine sleeps with nothing to do
	// before looking again (the fallback when no wake-up arrives, and how
	// a dead node's expired leases are noticed). Default 1s.
	PollInterval time.Duration
	// Owner names this node in claims; default "hookd".
	Owner string
}

// Engine claims due deliveries, sends them with a bounded worker pool and
// records the outcome. Start it with Run.
type Engine struct {
	cfg  Config
	wake chan struct{}
	// room: a full endpoint can take a claim again (see full).
	room chan struct{}
	jobs chan *job
	done chan outcomeMsg

	// mu guards the counts below. A claimed delivery is either running
	// (handed to a worker, until its outcome is committed) or queued
	// (waiting for a slot of its endpoint).
	mu      sync.Mutex
	running map[string]int // by endpoint
	queued  map[string][]store.Claimed
	busy    int // running, all endpoints
	waiting int // queued, all endpoints
	// stopping: Run is draining; queued deliveries are given back, not sent.
	stopping bool
	// wantRoom: the claim loop waits for workers to finish (release
	// wakes it only then).
	wantRoom atomic.Bool
	// gone: endpoints that answered 410, and when. Deliveries of theirs
	// claimed before the store disabled the endpoint are cancelled instead
	// of sent; after a lease every such claim is over, and the mark goes.
	gone map[string]time.Time
}

type job struct {
	c store.Claimed
}

type outcomeMsg struct {
	out      store.Outcome
	endpoint string
}

// New returns an Engine; it does nothing until Run.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Sender == nil || cfg.Keys == nil {
		return nil, errors.New("delivery: Store, Sender and Keys are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Retry == nil {
		cfg.Retry = retry.Default()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 256
	}
	if cfg.PerEndpoint <= 0 {
		cfg.PerEndpoint = 32
	}
	if cfg.PerEndpoint > cfg.Workers {
		cfg.PerEndpoint = cfg.Workers
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.ClaimBatch <= 0 {
		cfg.ClaimBatch = 128
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Owner == "" {
		cfg.Owner = "hookd"
	}
	return &Engine{
		cfg:     cfg,
		wake:    make(chan struct{}, 1),
		room:    make(chan struct{}, 1),
		jobs:    make(chan *job, cfg.Workers),
		done:    make(chan outcomeMsg, cfg.Workers*2),
		running: make(map[string]int),
		gone:    make(map[string]time.Time),
		queued:  make(map[string][]store.Claimed),
	}, nil
}

// Wake tells the engine that new work may be due now. It never blocks.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then drains: it claims nothing more, lets
// the requests in flight finish (each bounded by the request timeout),
// records their outcomes and returns.
func (e *Engine) Run(ctx context.Context) error {
	var workers sync.WaitGroup
	// Sends are not cut short by ctx: shutdown lets them finish, bounded by
	// the client's own timeout, so no receiver sees a half-sent request
	// that we would then count as failed.
	sendCtx := context.WithoutCancel(ctx)
	for range e.cfg.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range e.jobs {
				msg := e.attempt(sendCtx, j.c)
				// The endpoint's slot is free as soon as its response is
				// in: the limit is on concurrent requests to the receiver.
				// The lease covers the delivery until its outcome is
				// committed, so nobody claims it meanwhile.
				e.release(msg.endpoint)
				e.done <- msg
			}
		}()
	}
	completerDone := make(chan struct{})
	go func() {
		defer close(completerDone)
		e.complete()
	}()

	e.dispatch(ctx)

	// Drain: deliveries still queued go back to the pool at once (another
	// node, or this one after a restart, takes them without waiting for the
	// lease); those running finish and are recorded.
	e.mu.Lock()
	e.stopping = true
	var back []store.Outcome
	for ep, q := range e.queued {
		for _, c := range q {
			back = append(back, giveBack(c, e.cfg.Clock.Now()))
		}
		e.waiting -= len(q)
		delete(e.queued, ep)
	}
	e.mu.Unlock()
	if len(back) > 0 {
		e.commit(back)
	}
	close(e.jobs)
	workers.Wait()
	close(e.done)
	<-completerDone
	return nil
}

// dispatch is the claim loop: it keeps the workers fed and sleeps when there
// is nothing due.
func (e *Engine) dispatch(ctx context.Context) {
	backoff := time.Duration(0)
	starved := time.Duration(0) // current wait while every due endpoint is full
	// Each claim is a write transaction; claiming one or two deliveries at
	// a time as single workers free up would spend the database on claims.
	// So while work is running, wait until a quarter of the workers are free.
	minClaim := max(1, min(e.cfg.Workers, e.cfg.ClaimBatch)/4)
	for ctx.Err() == nil {
		free, skip := e.capacity()
		if free <= 0 || (free < minClaim && free < e.cfg.Workers) {
			// Wait for workers to finish: finishes wake us only while we
			// wait for them, so that deliveries handed over by publishes
			// (Deliver) do not cost a futile claim each time one ends.
			e.wantRoom.Store(true)
			if free, _ = e.capacity(); free <= 0 || (free < minClaim && free < e.cfg.Workers) {
				if !e.sleep(ctx, e.cfg.PollInterval) {
					return
				}
			}
			e.wantRoom.Store(false)
			continue
		}
		now := e.cfg.Clock.Now()
		claimed, err := e.cfg.Store.Claim(ctx, store.ClaimParams{
			Now:           now,
			Limit:         min(free, e.claimLimit()),
			Lease:         e.cfg.Lease,
			SkipEndpoints: skip,
			Owner:         e.cfg.Owner,
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(backoff*2, 50*time.Millisecond), 5*time.Second)
			e.cfg.Logger.Warn("claim failed; retrying", "err", err, "in", backoff)
			e.cfg.Metrics.claimError()
			if !e.sleep(ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
		e.cfg.Metrics.took("claim", len(claimed))
		if len(claimed) > 0 {
			starved = 0
		}
		if overflow := e.take(claimed); len(overflow) > 0 {
			e.commit(overflow)
		}
		if len(claimed) > 0 {
			continue
		}
		// Nothing due: sleep until the next retry is due, a wake-up, or
		// the poll interval, whichever is first. When endpoints were
		// skipped, what is due may all be theirs: only a finished request
		// (which wakes us) can change that, so don't poll for it.
		wait := e.cfg.PollInterval
		if len(skip) > 0 {
			// Publishes keep waking us, but only a skipped endpoint
			// making room (or, rarely, new work for another endpoint)
			// changes what a claim would find: wait for the first, and
			// look now and then for the second, instead of spending a
			// write transaction on every wake-up.
			// The look costs a claim that steps over the full endpoints'
			// due work, so it backs off while nothing changes.
			starved = min(max(2*starved, starvedRecheck), e.cfg.PollInterval)
			t := time.NewTimer(starved)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-e.room:
				starved = 0
			case <-t.C:
			}
			t.Stop()
			continue
		}
		if t, ok, err := e.cfg.Store.NextDue(ctx); err == nil && ok {
			if d := t.Sub(e.cfg.Clock.Now()); d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		if !e.sleep(ctx, wait) {
			return
		}
	}
}

// capacity returns how many more deliveries this node can take, and the
// endpoints that have all the deliveries they may have.
func (e *Engine) capacity() (int, []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var skip []string
	for ep := range e.running {
		if e.full(ep) {
			skip = append(skip, ep)
		}
	}
	// Queued deliveries must not use up worker capacity (that would let a
	// slow endpoint starve the rest through its queue), but their number
	// is bounded too: room for the queues of Workers/PerEndpoint slow
	// endpoints, as many as can hold every worker anyway.
	return min(e.cfg.Workers-e.busy, 4*e.cfg.Workers-e.waiting), skip
}

// take hands claimed deliveries to workers, keeping at most PerEndpoint
// running per endpoint and queueCap queued behind them. The rest — one claim
// can return many deliveries of one endpoint — go back to the store as
// outcomes that make them due again at once, so a slow endpoint never holds
// more leases than it can use before they expire.
func (e *Engine) take(claimed []store.Claimed) (overflow []store.Outcome) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range claimed {
		ep := c.Delivery.EndpointID
		// Claims never exceed the free workers, but deliveries claimed by
		// a publish (Deliver) are only estimated to fit, so both limits
		// are checked; a delivery queues only behind a running one of its
		// endpoint, whose finish will start it.
		switch {
		case e.stopping:
			overflow = append(overflow, giveBack(c, e.cfg.Clock.Now()))
		case e.running[ep] < e.cfg.PerEndpoint && e.busy < e.cfg.Workers:
			e.running[ep]++
			e.busy++
			e.jobs <- &job{c: c}
		case e.running[ep] > 0 && len(e.queued[ep]) < e.queueCap():
			e.queued[ep] = append(e.queued[ep], c)
			e.waiting++
		default:
			overflow = append(overflow, giveBack(c, e.cfg.Clock.Now()))
		}
	}
	return overflow
}

// Direct returns the claim a publish batch made at now may make for this
// node (see store.DirectClaim), or nil while the engine is stopping. Take
// accepts what take will be able to place when the batch is delivered: a
// delivery that can start (its endpoint has fewer than PerEndpoint running,
// the node fewer than Workers), or one that can wait behind a running one
// of its endpoint in the first half of its queue — the other half stays
// for Claim, so an endpoint's older due work (retries, a backlog) keeps
// moving while fresh events arrive. A slow endpoint's queue therefore
// never takes the place of other endpoints' running requests.
func (e *Engine) Direct(now time.Time) *store.DirectClaim {
	e.mu.Lock()
	stopping := e.stopping
	e.mu.Unlock()
	if stopping {
		return nil
	}
	// What this batch has taken so far: Take is asked before the batch
	// commits, and nothing reaches the counts below until Deliver.
	toRun := make(map[string]int)
	toQueue := make(map[string]int)
	allRun, allQueue := 0, 0
	return &store.DirectClaim{
		Now:   now,
		Lease: e.cfg.Lease,
		Owner: e.cfg.Owner,
		Take: func(ep string) bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.stopping {
				return false
			}
			if _, ok := e.gone[ep]; ok {
				return false // let Claim and the 410 mark deal with it
			}
			running := e.running[ep] + toRun[ep]
			if running < e.cfg.PerEndpoint && e.busy+allRun < e.cfg.Workers {
				toRun[ep]++
				allRun++
				return true
			}
			if running > 0 && len(e.queued[ep])+toQueue[ep] < e.queueCap()/2 && e.waiting+allQueue < 4*e.cfg.Workers {
				toQueue[ep]++
				allQueue++
				return true
			}
			return false
		},
	}
}

// Deliver takes deliveries that a publish claimed for this node (see
// Direct). Any that no longer fit are given back at once.
func (e *Engine) Deliver(claimed []store.Claimed) {
	e.cfg.Metrics.took("publish", len(claimed))
	if overflow := e.take(claimed); len(overflow) > 0 {
		e.commit(overflow)
		e.Wake()
	}
}

// claimLimit caps one claim: at most ClaimBatch, and no more than half an
// endpoint's queue, so that whatever a claim returns fits behind any
// endpoint that was not skipped (see full) and none has to be given back.
func (e *Engine) claimLimit() int { return max(1, min(e.cfg.ClaimBatch, e.queueCap()/2)) }

// full reports whether endpoint ep cannot take a whole claim more; such
// endpoints are skipped by claims. Called with e.mu held.
func (e *Engine) full(ep string) bool {
	return e.running[ep] >= e.cfg.PerEndpoint && len(e.queued[ep]) > e.queueCap()-e.claimLimit()
}

// starvedRecheck is how soon the engine first looks again for work of other
// endpoints while every endpoint with due work is full (doubling up to the
// poll interval while that lasts).
const starvedRecheck = 50 * time.Millisecond

// queueCap is how many claimed deliveries may wait behind one endpoint's
// running ones. Enough that a fast endpoint always has the next claim's
// worth at hand (claims are write transactions and compete with accepting
// events, so each should carry many deliveries); few enough that a slow
// one (every request taking the timeout) reaches the last of them in 8
// rounds, within the default lease of 10 timeouts.
func (e *Engine) queueCap() int { return 8 * e.cfg.PerEndpoint }

// giveBack is the outcome that returns an unsent claim to the pool as it
// was before the claim, due at once.
func giveBack(c store.Claimed, now time.Time) store.Outcome {
	return store.GiveBack(c.Delivery, now)
}

// release frees a slot of endpoint once its request is answered (or failed)
// and moves the next queued delivery of that endpoint to a worker.
func (e *Engine) release(endpoint string) {
	e.mu.Lock()
	wasFull := e.full(endpoint)
	if q := e.queued[endpoint]; len(q) > 0 && !e.stopping {
		next := q[0]
		e.waiting--
		if len(q) == 1 {
			delete(e.queued, endpoint)
		} else {
			e.queued[endpoint] = q[1:]
		}
		// The running count stays: the slot passes to the next one.
		e.jobs <- &job{c: next}
	} else {
		e.busy--
		if e.running[endpoint]--; e.running[endpoint] <= 0 {
			delete(e.running, endpoint)
			if t, ok := e.gone[endpoint]; ok && e.cfg.Clock.Now().Sub(t) > e.cfg.Lease {
				delete(e.gone, endpoint)
			}
		}
	}
	madeRoom := wasFull && !e.full(endpoint)
	e.mu.Unlock()
	if madeRoom {
		select {
		case e.room <- struct{}{}:
		default:
		}
	}
	if e.wantRoom.Load() {
		e.Wake()
	}
}

func (e *Engine) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-e.wake:
		return true
	case <-t.C:
		return true
	}
}

// attempt sends one claimed delivery and works out what follows.
func (e *Engine) attempt(ctx context.Context, c store.Claimed) outcomeMsg {
	d := c.Delivery
	msg := outcomeMsg{endpoint: d.EndpointID}
	e.mu.Lock()
	goneAt, gone := e.gone[d.EndpointID]
	e.mu.Unlock()
	gone = gone && e.cfg.Clock.Now().Sub(goneAt) <= e.cfg.Lease
	if c.EndpointGone || gone {
		reason := "endpoint disabled"
		if c.EndpointGone {
			reason = "endpoint deleted or disabled"
		}
		msg.out = store.Cancel(d, reason, e.cfg.Clock.Now())
		return msg
	}
	number := d.AttemptCount + 1
	started := e.cfg.Clock.Now()
	signer, err := e.cfg.Keys.Signer(ctx, d.ProjectID, started)
	var res outbound.Result
	if err != nil {
		// No usable secret: an attempt that never left, retried like a
		// network error so that fixing the secret lets it through.
		res = outbound.Result{Err: "signing: " + err.Error()}
	} else {
		res = e.cfg.Sender.Send(ctx, outbound.Request{
			URL:    c.URL,
			Body:   c.Body,
			Header: signer.Headers(d.EventID, started, c.Body),
		})
	}
	finished := e.cfg.Clock.Now()
	a := store.Attempt{
		Number:          number,
		StartedAt:       started,
		Duration:        res.Duration,
		StatusCode:      res.StatusCode,
		Error:           res.Err,
		ResponseHeaders: res.ResponseHeaders,
		ResponseBody:    res.ResponseBody,
	}
	if res.Err != "" {
		res.StatusCode = 0
	}
	var out store.Outcome
	switch retry.Classify(res.StatusCode) {
	case retry.Delivered:
		out = store.Succeeded(d, a, finished)
	case retry.Gone:
		a.Error = "endpoint answered 410 Gone: endpoint disabled"
		out = store.DisableEndpoint(d, a, fmt.Sprintf("endpoint answered 410 Gone at %s", finished.Format(time.RFC3339)), finished)
		e.mu.Lock()
		e.gone[d.EndpointID] = finished
		e.mu.Unlock()
	default:
		if a.Error == "" {
			a.Error = fmt.Sprintf("endpoint answered HTTP %d", res.StatusCode)
		}
		if delay, ok := retry.Delay(e.cfg.Retry, number, res.StatusCode, res.RetryAfter); ok {
			out = store.RetryAt(d, a, finished.Add(delay), finished)
		} else {
			out = store.Failed(d, a, finished)
		}
	}
	e.cfg.Metrics.attempt(out.Status(), res)
	msg.out = out
	return msg
}

// complete records outcomes, many per transaction: while one commit runs the
// next outcomes queue up and go in the next one.
func (e *Engine) complete() {
	batch := make([]store.Outcome, 0, 256)
	for first := range e.done {
		batch = append(batch[:0], first.out)
	fill:
		for len(batch) < cap(batch) {
			select {
			case m, ok := <-e.done:
				if !ok {
					break fill
				}
				batch = append(batch, m.out)
			default:
				break fill
			}
		}
		e.commit(batch)
	}
}

// commit writes a batch of outcomes, retrying while the database is away:
// the attempts happened and the log must say so. If it never comes back the
// leases expire and the deliveries are sent again (at-least-once). Other
// errors are not worth many retries: the batch is logged and left to the
// leases too.
func (e *Engine) commit(batch []store.Outcome) {
	backoff := 50 * time.Millisecond
	for try := 1; ; try++ {
		err := e.cfg.Store.Complete(context.Background(), batch)
		if err == nil {
			return
		}
		limit := 3
		if errors.Is(err, store.ErrUnavailable) {
			limit = 20
		}
		if try >= limit {
			e.cfg.Logger.Error("recording outcomes failed; their deliveries will be retried after the lease", "err", err, "outcomes", len(batch))
			return
		}
		e.cfg.Logger.Warn("recording outcomes failed; retrying", "err", err, "outcomes", len(batch))
		time.Sleep(backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}
