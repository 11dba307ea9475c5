package delivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/health"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/retry"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/webhook"
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

	// Workers bounds the requests in flight on this node; default
	// DefaultWorkers.
	Workers int
	// PerEndpoint bounds the requests in flight to one endpoint, so one
	// slow endpoint cannot take every worker; default DefaultPerEndpoint.
	PerEndpoint int
	// Lease is how long a claim stays ours; it must outlast the request
	// timeout plus the wait in the local queue. Default
	// DefaultLease(outbound.DefaultTimeout), as app would choose for a
	// client at the default timeout.
	Lease time.Duration
	// ClaimBatch caps the deliveries taken per claim; default
	// DefaultClaimBatch.
	ClaimBatch int
	// PollInterval is the longest the engine sleeps with nothing to do
	// before looking again (the fallback when no wake-up arrives, and how
	// a dead node's expired leases are noticed). Default
	// DefaultPollInterval.
	PollInterval time.Duration
	// Owner names this node in claims; default "hookd".
	Owner string
	// Timeout bounds one attempt: reading the signing key and sending
	// (the client has its own timeout too). Default outbound.DefaultTimeout.
	Timeout time.Duration
	// ShutdownTimeout bounds Run's drain once its context ends: requests
	// still running then are cut short and outcomes not yet written are
	// left to their leases. Default DefaultShutdownTimeout(Timeout).
	ShutdownTimeout time.Duration
	// MaxBacklog bounds the outcomes waiting to be recorded before the
	// engine admits no new work (RecorderConfig.MaxBacklog); default
	// DefaultMaxBacklog.
	MaxBacklog int

	// Health is how attempts move an endpoint's health (breaker, probes,
	// disabling); zero fields take health.Default's values, except
	// DisableAfter, where 0 means never.
	Health health.Policy
	// Notify publishes the operational events of health changes and of
	// endpoints disabled by a 410; nil: none are published.
	Notify Notify
}

// Engine claims due deliveries, sends them with a bounded worker pool and
// records the outcomes. Start it with Run.
//
// Who does what (and owns what):
//   - The dispatcher (Run's goroutine) claims due work: it is the only
//     caller of Store.Claim and Store.NextDue.
//   - The publish committer hands over what a publish claimed for this
//     node: Direct's Take decides inside the store's write transaction,
//     Deliver hands the committed claims over. Neither does I/O or waits.
//   - The workers send; each outcome goes to the recorder.
//   - The recorder (its own goroutine, see Recorder) is the only caller of
//     Store.Complete; give-backs of work that did not fit go to it too.
//   - slots holds what they share: what runs and waits per endpoint, and
//     the endpoints that answered 410 until the database knows (goneMark),
//     behind a mutex held only to count.
//
// Every delivery in flight has a deadline derived from its lease
// (Delivery.LeaseExpiresAt): it is sent only while there is time for the
// attempt and its recording before the lease ends (sendBy), its attempt
// — signing key and request — runs under that deadline and the Timeout,
// and the recorder gives up on it once the lease has ended. The recorder's
// backlog bounds what is admitted: while it is full (Recorder.Room) the
// dispatcher claims nothing and Direct takes nothing, so a slow database
// slows intake instead of growing a queue. hookd_oldest_inflight_seconds
// shows, per stage, the oldest delivery in it.
//
// The parts with goroutines of their own (pacer, workers, recorder, health
// watch) start and stop through one interface (part); Run stops them in
// order under ShutdownTimeout and returns what each reports.
//
// wake, room and wantRoom only carry wake-ups to the dispatcher.
type Engine struct {
	cfg   Config
	slots *slots
	rec   *Recorder
	wake  chan struct{}
	// room: a full endpoint can take a claim again (see slots.full).
	room chan struct{}
	// wantRoom: the dispatcher waits for workers to finish (a finished
	// request wakes it only then).
	wantRoom atomic.Bool
	// watch turns attempts into endpoint health and operational events;
	// pacer sends the deliveries of limited endpoints.
	watch *healthWatch
	pacer *pacer
	pool  *workers
	// recFull: the dispatcher waits for the recorder's backlog to shrink
	// (each recorded batch wakes it only then).
	recFull atomic.Bool
}

// part is a piece of the engine with goroutines of its own. Stop returns
// once they have ended, or ctx has (the part then cuts short what it was
// doing); its error says what was left undone.
type part interface {
	Start()
	Stop(ctx context.Context) error
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
	cfg.Workers = cmp.Or(max(cfg.Workers, 0), DefaultWorkers)
	cfg.PerEndpoint = min(cmp.Or(max(cfg.PerEndpoint, 0), DefaultPerEndpoint), cfg.Workers)
	cfg.Lease = cmp.Or(max(cfg.Lease, 0), DefaultLease(outbound.DefaultTimeout))
	cfg.ClaimBatch = cmp.Or(max(cfg.ClaimBatch, 0), DefaultClaimBatch)
	cfg.PollInterval = cmp.Or(max(cfg.PollInterval, 0), DefaultPollInterval)
	cfg.Timeout = cmp.Or(max(cfg.Timeout, 0), outbound.DefaultTimeout)
	cfg.ShutdownTimeout = cmp.Or(max(cfg.ShutdownTimeout, 0), DefaultShutdownTimeout(cfg.Timeout))
	cfg.MaxBacklog = cmp.Or(max(cfg.MaxBacklog, 0), DefaultMaxBacklog)
	if cfg.Owner == "" {
		cfg.Owner = "hookd"
	}
	e := &Engine{
		cfg:   cfg,
		slots: newSlots(cfg.Workers, cfg.PerEndpoint, cfg.Lease),
		wake:  make(chan struct{}, 1),
		room:  make(chan struct{}, 1),
	}
	rec, err := NewRecorder(RecorderConfig{
		Store:      cfg.Store,
		Clock:      cfg.Clock,
		Logger:     cfg.Logger,
		MaxBacklog: cfg.MaxBacklog,
		Recorded: func(outs []store.Outcome, disabled []store.Endpoint) {
			if e.recFull.Load() {
				e.Wake()
			}
			// Committed: an endpoint a 410 disabled is announced now (the
			// store reports each disabling once, across every node).
			e.watch.disabled(disabled)
			// A 410's disabling is in the database now: this node's
			// deliveries of the endpoint stop being held back (goneMark).
			now := cfg.Clock.Now()
			for _, o := range outs {
				if _, ok := o.DisablesEndpoint(); ok {
					e.slots.goneRecorded(o.EndpointID(), o.UpdatedAt(), now, true)
				}
			}
			// A give-back is due at once, and a delivery with an
			// ordering key that ended lets the next of its key go: the
			// dispatcher may have looked before either was written.
			wake := false
			for _, o := range outs {
				if t := o.NextAttemptAt(); !t.IsZero() && !t.After(now) {
					wake = true
				}
				if o.OrderingKey() == "" {
					continue
				}
				switch o.Status() {
				case store.StatusFailed:
					cfg.Logger.Warn("ordered delivery failed for good; the next events of its ordering key follow",
						"delivery", o.DeliveryID(), "endpoint", o.EndpointID(), "ordering_key", o.OrderingKey())
					wake = true
				case store.StatusSucceeded, store.StatusCancelled:
					wake = true
				}
			}
			if wake {
				e.Wake()
			}
		},
		Dropped: func(outs []store.Outcome) {
			// A 410's disabling that will not be recorded: nothing is
			// held back for it any more (what was is answered 410 again).
			now := cfg.Clock.Now()
			for _, o := range outs {
				if _, ok := o.DisablesEndpoint(); ok {
					e.slots.goneRecorded(o.EndpointID(), o.UpdatedAt(), now, false)
				}
			}
		},
	})
	if err != nil {
		return nil, err
	}
	e.rec = rec
	e.slots.recRoom = rec.Room
	e.watch = newHealthWatch(cfg.Store, cfg.Health, cfg.Logger, cfg.Notify)
	e.pacer = newPacer(e)
	e.pool = newWorkers(e)
	cfg.Metrics.watchInflight(e.oldestInflight, e.inflight)
	return e, nil
}

// Wake tells the engine that new work may be due now. It never blocks.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then drains: it claims nothing more, gives
// back what waits in the queues, lets the requests in flight finish (each
// bounded by the request timeout), records every outcome and returns. The
// drain takes at most ShutdownTimeout; Run returns the errors of the parts
// that could not finish theirs (outcomes not recorded, requests cut
// short), nil when everything was recorded or given back.
func (e *Engine) Run(ctx context.Context) error {
	parts := []struct {
		name string
		p    part
	}{
		// Stopped in this order: the pacer and the queues give back what
		// waits, the workers finish what runs, the recorder writes it all,
		// and the watch then announces what the last outcomes changed.
		{"pacer", e.pacer},
		{"queues", queues{e}},
		{"workers", e.pool},
		{"recorder", e.rec},
		{"health watch", e.watch},
	}
	for _, p := range parts {
		p.p.Start()
	}

	e.dispatch(ctx)

	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, p := range parts {
		if err := p.p.Stop(stopCtx); err != nil {
			errs = append(errs, fmt.Errorf("delivery: %s: %w", p.name, err))
		}
	}
	return errors.Join(errs...)
}

// queues is the part that holds claimed deliveries waiting for a worker
// (slots): stopping it gives them back to the pool at once, so that
// another node, or this one after a restart, takes them without waiting
// for their leases.
type queues struct{ e *Engine }

func (queues) Start() {}

func (q queues) Stop(context.Context) error {
	q.e.giveBack(q.e.slots.stop())
	return nil
}

// workers send: each takes a delivery from slots.jobs, attempts it and
// hands the outcome to the recorder.
type workers struct {
	e  *Engine
	wg sync.WaitGroup
	// ctx is the sends' context: not ended by Run's, since shutdown lets
	// requests finish (no receiver sees a half-sent request that we would
	// count as failed), but cut short at the shutdown deadline.
	ctx    context.Context
	cancel context.CancelFunc
	// sending: per worker, when the delivery it sends was claimed (unix
	// nanoseconds on the injected clock), 0 while idle; for the gauge.
	sending []atomic.Int64
}

func newWorkers(e *Engine) *workers {
	ctx, cancel := context.WithCancel(context.Background())
	return &workers{e: e, ctx: ctx, cancel: cancel, sending: make([]atomic.Int64, e.cfg.Workers)}
}

func (w *workers) Start() {
	e := w.e
	for i := range e.cfg.Workers {
		w.wg.Go(func() {
			for c := range e.slots.jobs {
				since, until := e.lease(c)
				w.sending[i].Store(since.UnixNano())
				out := e.attempt(w.ctx, c)
				// Queued before the slot is released, so that the
				// in-flight counts never miss it between the two.
				e.rec.AddLeased(since, until, out)
				w.sending[i].Store(0)
				// The endpoint's slot is free as soon as its response is
				// in: the limit is on concurrent requests to the receiver.
				// The lease covers the delivery until its outcome is
				// recorded, so nobody claims it meanwhile.
				e.release(c.Delivery.EndpointID)
				if limited(c) {
					e.pacer.done(c, out.UpdatedAt())
				}
			}
		})
	}
}

// Stop lets the requests in flight finish until ctx ends, then cuts them
// short.
func (w *workers) Stop(ctx context.Context) error {
	close(w.e.slots.jobs)
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	defer w.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	w.cancel()
	<-done
	return fmt.Errorf("requests still running at the shutdown deadline were cut short: %w", ctx.Err())
}

// oldest is when the oldest delivery being sent was claimed.
func (w *workers) oldest() (since time.Time, ok bool) {
	for i := range w.sending {
		if n := w.sending[i].Load(); n != 0 && (!ok || n < since.UnixNano()) {
			since, ok = time.Unix(0, n), true
		}
	}
	return since, ok
}

// lease returns when claimed delivery c was claimed and when its lease
// ends (a claim without a lease time, which stores do not make, is taken
// as made now).
func (e *Engine) lease(c store.Claimed) (since, until time.Time) {
	until = c.Delivery.LeaseExpiresAt
	if until.IsZero() {
		until = e.cfg.Clock.Now().Add(e.cfg.Lease)
	}
	return until.Add(-e.cfg.Lease), until
}

// sendBy is the last moment c may be sent: the last tenth of its lease
// (at least the Timeout's worth before its end, when the lease allows) is
// for the attempt to end and its outcome to be recorded.
func (e *Engine) sendBy(c store.Claimed) time.Time {
	_, until := e.lease(c)
	return until.Add(-min(max(e.cfg.Lease/10, e.cfg.Timeout), e.cfg.Lease/2))
}

// oldestInflight is the age, on the injected clock, of the oldest delivery
// in stage (see inflightStages) since this node claimed it; 0 when none.
func (e *Engine) oldestInflight(stage string) float64 {
	var since time.Time
	var ok bool
	switch stage {
	case "queued":
		since, ok = e.slots.oldestQueued(e.lease)
	case "paced":
		since, ok = e.pacer.oldest()
	case "sending":
		since, ok = e.pool.oldest()
	case "recording":
		since, ok = e.rec.oldest()
	}
	if !ok {
		return 0
	}
	return max(e.cfg.Clock.Now().Sub(since).Seconds(), 0)
}

// inflight counts the deliveries in stage (see inflightStages), and
// "health" the health watch's backlog.
func (e *Engine) inflight(stage string) int {
	switch stage {
	case "queued":
		return e.slots.counts().waiting
	case "paced":
		return e.pacer.count()
	case "sending":
		return e.slots.counts().busy
	case "recording":
		return int(e.rec.backlog.Load())
	case "health":
		return e.watch.backlog()
	}
	return 0
}

// DefaultShutdownTimeout is Config.ShutdownTimeout's default for requests
// that time out after timeout: one request's worth, and the recording.
func DefaultShutdownTimeout(timeout time.Duration) time.Duration { return timeout + 15*time.Second }

// giveBack returns claims that will not be sent to the pool, due at once.
func (e *Engine) giveBack(claimed []store.Claimed) {
	if len(claimed) == 0 {
		return
	}
	now := e.cfg.Clock.Now()
	for _, c := range claimed {
		since, until := e.lease(c)
		e.rec.AddLeased(since, until, store.GiveBack(c.Delivery, now))
	}
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
		if e.rec.Room() <= 0 {
			// The recorder is behind: admit nothing until it catches up
			// (each batch it writes wakes us while we wait for that).
			e.recFull.Store(true)
			if e.rec.Room() <= 0 && !e.pause(ctx, e.cfg.PollInterval) {
				return
			}
			e.recFull.Store(false)
			continue
		}
		free, skip := e.slots.capacity(e.claimLimit())
		skip = append(skip, e.pacer.full(e.claimLimit())...)
		if free <= 0 || (free < minClaim && free < e.cfg.Workers) {
			// Wait for workers to finish: finishes wake us only while we
			// wait for them, so that deliveries handed over by publishes
			// (Deliver) do not cost a futile claim each time one ends.
			e.wantRoom.Store(true)
			if free, _ = e.slots.capacity(e.claimLimit()); free <= 0 || (free < minClaim && free < e.cfg.Workers) {
				if !e.pause(ctx, e.cfg.PollInterval) {
					return
				}
			}
			e.wantRoom.Store(false)
			continue
		}
		now := e.cfg.Clock.Now()
		// Endpoints whose 410 is not recorded yet are skipped too: their
		// deliveries would only be given back. (Not counted in skip as
		// full: that lasts a commit, and nothing wakes a wait for it.)
		claimSkip := append(slices.Clip(skip), e.slots.goneHeld(now)...)
		claimed, err := e.cfg.Store.Claim(ctx, store.ClaimParams{
			Now:           now,
			Limit:         min(free, e.claimLimit(), max(e.rec.Room(), 1)),
			Lease:         e.cfg.Lease,
			SkipEndpoints: claimSkip,
			Owner:         e.cfg.Owner,
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(backoff*2, 50*time.Millisecond), 5*time.Second)
			e.cfg.Logger.Warn("claim failed; retrying", "err", err, "in", backoff)
			e.cfg.Metrics.claimError()
			if !e.pause(ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
		e.cfg.Metrics.took("claim", len(claimed))
		if len(claimed) > 0 {
			starved = 0
		}
		e.place(claimed)
		e.cfg.Metrics.claimed()
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
			d := t.Sub(e.cfg.Clock.Now())
			if d <= 0 {
				// Due, yet Claim took nothing: it is held by open breakers
				// (or another node took it meanwhile). Look again at the
				// next probe, instead of claiming in a tight loop.
				d = e.untilProbe(ctx)
			}
			if d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		if !e.pause(ctx, wait) {
			return
		}
	}
}

// Direct returns the claim a publish batch made at now may make for this
// node (see store.DirectClaim), or nil while the engine is stopping. Take
// accepts what slots.take will be able to place when the batch is delivered: a
// delivery that can start (its endpoint has fewer than PerEndpoint running,
// the node fewer than Workers), or one that can wait behind a running one
// of its endpoint in the first half of its queue — the other half stays
// for Claim, so an endpoint's older due work (retries, a backlog) keeps
// moving while fresh events arrive. A slow endpoint's queue therefore
// never takes the place of other endpoints' running requests. What a
// batch's Take accepts counts against every other batch's until Deliver
// is called for it, so publish committers working at once share one
// budget; nothing is taken while the recorder's backlog is full.
func (e *Engine) Direct(now time.Time) *store.DirectClaim {
	if e.slots.stopped() {
		return nil
	}
	b := &directBudget{toRun: make(map[string]int), toQueue: make(map[string]int)}
	dc := &store.DirectClaim{
		Now:   now,
		Lease: e.cfg.Lease,
		Owner: e.cfg.Owner,
		Take:  func(ep string) bool { return e.slots.admit(ep, now, b) },
	}
	e.slots.reserve(dc, b)
	return dc
}

// Deliver takes deliveries that a publish claimed for this node with
// direct (see Direct), and ends what direct reserved; the publisher calls
// it once for each Direct, with no claims when the batch did not commit.
// It does no I/O and never waits: the publishers of the batch are not held
// up by the delivery side. Any that no longer fit (the node is full, or
// Run is draining) are given back through the recorder. Once Run has
// returned the recorder has stopped, and what Deliver gets is left to its
// leases: close the publisher before stopping the engine.
func (e *Engine) Deliver(direct *store.DirectClaim, claimed []store.Claimed) {
	e.slots.unreserve(direct)
	e.cfg.Metrics.took("publish", len(claimed))
	e.place(claimed)
}

// place hands claimed deliveries to the pacer (limited endpoints) and the
// workers, and gives back what does not fit. No I/O.
func (e *Engine) place(claimed []store.Claimed) {
	rest, back := e.pacer.split(claimed)
	e.giveBack(append(back, e.slots.take(rest)...))
}

// untilProbe is how long until the first open breaker's probe is due, at
// least starvedRecheck; the poll interval when none is open.
func (e *Engine) untilProbe(ctx context.Context) time.Duration {
	open, err := e.cfg.Store.OpenBreakers(ctx)
	if err != nil || len(open) == 0 {
		return e.cfg.PollInterval
	}
	now := e.cfg.Clock.Now()
	d := e.cfg.PollInterval
	for _, b := range open {
		d = min(d, b.ProbeAt.Sub(now))
	}
	return max(d, starvedRecheck)
}

// claimLimit caps one claim: at most ClaimBatch, and no more than half an
// endpoint's queue, so that whatever a claim returns fits behind any
// endpoint that was not skipped (see slots.full) and none has to be given
// back.
func (e *Engine) claimLimit() int { return max(1, min(e.cfg.ClaimBatch, e.slots.queueCap()/2)) }

// starvedRecheck is how soon the engine first looks again for work of other
// endpoints while every endpoint with due work is full (doubling up to the
// poll interval while that lasts).
const starvedRecheck = 50 * time.Millisecond

// release frees a slot of endpoint once its request is answered (or
// failed), and wakes the dispatcher if it waits for that.
func (e *Engine) release(endpoint string) {
	if e.slots.release(endpoint, e.claimLimit(), e.cfg.Clock.Now()) {
		select {
		case e.room <- struct{}{}:
		default:
		}
	}
	if e.wantRoom.Load() {
		e.Wake()
	}
}

// pause waits for d, a wake-up or the end of ctx; false when ctx ended.
// The dispatcher's waits are polls on the wall clock: they bound how late
// it notices work nobody woke it for (another node's expired lease, a
// retry coming due). They decide nothing: what is due is decided by Claim
// at the injected clock's now. Waiting on a fake clock instead would
// lose the wake-up when a test moves it between NextDue and the wait
// (TestBreakerProbesOnce then hangs), and leave a waiter per wake-up.
func (e *Engine) pause(ctx context.Context, d time.Duration) bool {
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

// stillGone asks the database about a delivery of an endpoint whose 410
// this node saw, claimed before that 410's disabling was recorded (see
// goneMark): whether the endpoint is disabled is the database's state,
// which an enable on any node clears at once. Disabled or deleted: the
// delivery is cancelled. Enabled (again): the mark goes and the delivery
// is sent, as every later one is. stop reports whether out is the
// delivery's outcome.
func (e *Engine) stillGone(ctx context.Context, d store.Delivery, now time.Time) (out store.Outcome, stop bool) {
	ep, err := e.cfg.Store.GetEndpoint(ctx, d.ProjectID, d.EndpointID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Cancel(d, "endpoint deleted", now), true
	case err != nil:
		// Not known: back to the pool, due at once, for a claim that can
		// tell.
		return store.GiveBack(d, now), true
	case !ep.Enabled:
		return store.Cancel(d, "endpoint disabled: "+ep.DisabledReason, now), true
	}
	e.slots.clearGone(d.EndpointID)
	return store.Outcome{}, false
}

// attempt sends one claimed delivery and works out what follows. The
// signing key is read and the request sent under the attempt's deadline:
// the Timeout, and no later than sendBy's lease deadline.
func (e *Engine) attempt(ctx context.Context, c store.Claimed) store.Outcome {
	d := c.Delivery
	now := e.cfg.Clock.Now()
	left := e.sendBy(c).Sub(now)
	if left <= 0 && !c.EndpointGone {
		// It waited so long that its outcome could not be recorded
		// within the lease: back to the pool, unsent, due at once.
		e.cfg.Logger.Warn("claimed delivery waited past its lease deadline; given back unsent", "delivery", d.ID, "endpoint", d.EndpointID)
		return store.GiveBack(d, now)
	}
	ctx, cancel := context.WithTimeout(ctx, min(left, e.cfg.Timeout))
	defer cancel()
	if c.EndpointGone {
		return store.Cancel(d, "endpoint deleted or disabled", e.cfg.Clock.Now())
	}
	claimedAt, _ := e.lease(c)
	switch now := e.cfg.Clock.Now(); e.slots.goneCheck(d.EndpointID, claimedAt, now) {
	case goneHold:
		// This node got a 410 from the endpoint whose disabling is not
		// recorded yet: back, unsent, recorded after the disabling, which
		// cancels it (see goneMark).
		return store.GiveBack(d, now)
	case goneAsk:
		if out, stop := e.stillGone(ctx, d, now); stop {
			return out
		}
	}
	if !c.Probe {
		if _, held := e.watch.heldUntil(d.EndpointID, e.cfg.Clock.Now(), claimedAt); held {
			// This node saw the breaker open after the claim: the store holds
			// the endpoint's deliveries now, so this one goes back, due as it
			// was, without an attempt, and waits for the probe.
			return store.GiveBack(d, e.cfg.Clock.Now())
		}
	}
	number := d.AttemptCount + 1
	started := e.cfg.Clock.Now()
	signer, err := e.cfg.Keys.Signer(ctx, d.ProjectID, started)
	var res outbound.Result
	var signature string // kept with the attempt, for the delivery page
	if err != nil {
		// No usable secret: an attempt that never left, retried like a
		// network error so that fixing the secret lets it through.
		res = outbound.Result{Err: "signing: " + err.Error()}
	} else {
		h := signer.Headers(d.EventID, started, c.Body)
		signature = h.Get(webhook.HeaderSignature)
		res = e.cfg.Sender.Send(ctx, outbound.Request{URL: c.URL, Body: c.Body, Header: h})
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
		Signature:       signature,
	}
	if res.Err != "" {
		res.StatusCode = 0
	}
	var out store.Outcome
	class := retry.Classify(res.StatusCode)
	if err == nil && class != retry.Gone {
		// A missing secret is hookd's fault, not the endpoint's; a 410
		// disables it anyway.
		e.watch.attempted(c, class == retry.Delivered, finished)
	}
	switch class {
	case retry.Delivered:
		out = store.Succeeded(d, a, finished)
	case retry.Gone:
		a.Error = "endpoint answered 410 Gone: endpoint disabled"
		out = store.DisableEndpoint(d, a, fmt.Sprintf("endpoint answered 410 Gone at %s", finished.Format(time.RFC3339)), finished)
		e.slots.markGone(d.EndpointID, finished)
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
	return out
}
