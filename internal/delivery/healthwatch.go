package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/internal/health"
	"github.com/hookd/hookd/internal/store"
)

// Notify publishes an operational event of type eventType about endpoint
// about (its state after the change), with data as its JSON data. The
// engine calls it once per change, on the health watch's goroutine.
type Notify func(ctx context.Context, about store.Endpoint, eventType string, data []byte) error

// healthWatch turns attempts into endpoint health (store.ObserveHealth,
// with the health policy) and health changes into operational events. It
// also publishes hookd.endpoint.disabled for the endpoints that a 410
// disabled (Store.Complete reports them, once): its goroutine is the one
// that notifies, so the recorder's never waits for a publish.
//
// Workers report each attempt with attempted, which never blocks and does
// no I/O; the watch's goroutine writes what they queued in batches, in a
// transaction of its own. Only what can change the stored health is
// queued: every failure, the first success after failures, a probe, and
// otherwise one success per endpoint per SuccessEvery. So a healthy
// endpoint's deliveries cost no health write beyond that one a minute.
type healthWatch struct {
	store  store.Store
	policy health.Policy
	logger *slog.Logger
	notify Notify

	mu    sync.Mutex
	queue []store.HealthObservation
	// events: operational events to publish that no observation made
	// (endpoints disabled by a 410).
	events []health.Event
	// last is the last observation this node queued, per endpoint.
	last map[string]store.HealthObservation
	// unwritten counts, per endpoint, the successes not queued since its
	// last observation: the next one carries them (Successes), so the
	// breaker's window counts them without a write each.
	unwritten map[string]int
	// held: endpoints whose breaker this node last saw open, until their
	// probe time. Their deliveries already claimed are given back instead
	// of sent (Claim stops handing them out as soon as the store has it).
	held    map[string]hold
	stopped bool

	more chan struct{}
	quit chan struct{}
	done chan struct{}
	// ctx ends when Stop's deadline passes: a write or publish in
	// progress is cut short.
	ctx    context.Context
	cancel context.CancelFunc
	// flushing: observations and events taken by the flush in progress.
	flushing atomic.Int64
}

func newHealthWatch(st store.Store, p health.Policy, logger *slog.Logger, notify Notify) *healthWatch {
	ctx, cancel := context.WithCancel(context.Background())
	return &healthWatch{
		ctx:       ctx,
		cancel:    cancel,
		store:     st,
		policy:    p,
		logger:    logger,
		notify:    notify,
		last:      make(map[string]store.HealthObservation),
		unwritten: make(map[string]int),
		held:      make(map[string]hold),
		more:      make(chan struct{}, 1),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// attempted reports an attempt of claimed delivery c that ended at at; ok:
// the endpoint accepted it.
func (h *healthWatch) attempted(c store.Claimed, ok bool, at time.Time) {
	ep := c.Delivery.EndpointID
	o := store.HealthObservation{EndpointID: ep, At: at, OK: ok, Probe: c.Probe}
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	prev, seen := h.last[ep]
	// A success is worth writing after a failure this node saw, and for a
	// probe; otherwise only when the store's health is not clean or stale.
	if ok && !c.Probe && !(seen && !prev.OK) {
		// What this node knows of the endpoint: the health read with the
		// claim, and the successes it reported since.
		known := c.Health
		if seen && prev.OK {
			if prev.At.After(known.LastSuccessAt) {
				known.LastSuccessAt = prev.At
			}
			if !known.FailingSince.After(prev.At) {
				// Any failing the claim saw began before a success this
				// node has reported: that success cleared it.
				known = store.EndpointHealth{LastSuccessAt: known.LastSuccessAt}
			}
		}
		if !h.policy.WantsSuccess(known, at) {
			h.unwritten[ep]++
			h.mu.Unlock()
			return
		}
	}
	o.Successes = h.unwritten[ep]
	delete(h.unwritten, ep)
	h.last[ep] = o
	h.queue = append(h.queue, o)
	h.mu.Unlock()
	h.wake()
}

// disabled queues hookd.endpoint.disabled for endpoints that a recorded
// outcome disabled (a 410), as they are after. It never blocks.
func (h *healthWatch) disabled(eps []store.Endpoint) {
	if len(eps) == 0 {
		return
	}
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		for _, ep := range eps {
			h.logger.Warn("endpoint disabled after the engine stopped; its operational event is not published",
				"endpoint", ep.ID, "project", ep.ProjectID, "reason", ep.DisabledReason)
		}
		return
	}
	for _, ep := range eps {
		h.events = append(h.events, health.Event{Type: health.EventDisabled, About: ep})
	}
	h.mu.Unlock()
	h.wake()
}

func (h *healthWatch) wake() {
	select {
	case h.more <- struct{}{}:
	default:
	}
}

// hold is an open breaker as this node saw it: until its probe time, for
// the deliveries claimed no later than the failure that opened it.
type hold struct{ until, opened time.Time }

// heldUntil reports whether endpoint ep's breaker was open when this node
// last saw it, for a delivery claimed at claimedAt, and until when. A
// claim made after the failure that opened it was made by a store that
// knew of the open breaker and handed the delivery out all the same: the
// breaker was closed since (an enable, or another node's probe), and the
// store's word is the newer one; the hold is forgotten. (Giving such a
// delivery back would have it claimed again at once, in a loop of claims
// until the old probe time.)
func (h *healthWatch) heldUntil(ep string, now, claimedAt time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.held[ep]
	if ok && (!t.until.After(now) || claimedAt.After(t.opened)) {
		delete(h.held, ep)
		return time.Time{}, false
	}
	return t.until, ok
}

// Start runs the watch's goroutine; Stop writes what is queued and ends
// it, cutting short what is left when ctx ends.
func (h *healthWatch) Start() { go h.run() }

func (h *healthWatch) Stop(ctx context.Context) error {
	h.mu.Lock()
	already := h.stopped
	h.stopped = true
	h.mu.Unlock()
	if !already {
		close(h.quit)
	}
	defer h.cancel()
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
	}
	h.cancel()
	<-h.done
	return fmt.Errorf("endpoint health or operational events left unwritten: %w", ctx.Err())
}

func (h *healthWatch) run() {
	defer close(h.done)
	for {
		h.flush()
		select {
		case <-h.more:
		case <-h.quit:
			h.flush()
			return
		}
	}
}

// flush observes everything queued and publishes the operational events
// that follow, those queued first (their changes committed before this
// flush began).
func (h *healthWatch) flush() {
	h.mu.Lock()
	obs, events := h.queue, h.events
	h.queue, h.events = nil, nil
	h.flushing.Store(int64(len(obs) + len(events)))
	h.mu.Unlock()
	defer h.flushing.Store(0)
	ctx := h.ctx
	if len(obs) > 0 {
		changes, err := h.store.ObserveHealth(ctx, obs, h.policy.Next)
		if err != nil {
			// Health is advisory next to the log: the next attempts observe
			// again. Nothing is sent that would not have been.
			h.logger.Warn("recording endpoint health failed", "err", err, "observations", len(obs))
		}
		opened := make(map[string]time.Time)
		for _, o := range obs {
			if o.At.After(opened[o.EndpointID]) {
				opened[o.EndpointID] = o.At
			}
		}
		h.mu.Lock()
		for _, ch := range changes {
			if ch.After.Enabled && ch.After.Health.BreakerOpen() {
				h.held[ch.After.ID] = hold{until: ch.After.Health.ProbeAt, opened: opened[ch.After.ID]}
			} else {
				delete(h.held, ch.After.ID)
			}
		}
		h.mu.Unlock()
		for _, ch := range changes {
			events = append(events, health.Events(ch)...)
		}
	}
	for _, ev := range events {
		h.publish(ctx, ev)
	}
}

// backlog counts the observations and operational events not yet written
// or published.
func (h *healthWatch) backlog() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queue) + len(h.events) + int(h.flushing.Load())
}

// publish notifies ev, and logs a disabling.
func (h *healthWatch) publish(ctx context.Context, ev health.Event) {
	if h.notify != nil {
		if err := h.notify(ctx, ev.About, ev.Type, health.EventData(ev.About)); err != nil {
			// The change is recorded; only its notification is lost (as
			// when shutting down, after the publisher closed).
			h.logger.Warn("publishing an operational event failed", "type", ev.Type, "endpoint", ev.About.ID, "err", err)
		}
	}
	if ev.Type == health.EventDisabled {
		h.logger.Warn("endpoint disabled", "endpoint", ev.About.ID, "project", ev.About.ProjectID,
			"reason", ev.About.DisabledReason)
	}
}
