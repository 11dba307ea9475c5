package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/health"
	"github.com/hookd/hookd/internal/store"
)

// Notify publishes an operational event of type eventType about endpoint
// about (its state after the change), with data as its JSON data. The
// engine calls it once per change, on the health watch's goroutine.
type Notify func(ctx context.Context, about store.Endpoint, eventType string, data []byte) error

// healthWatch turns attempts into endpoint health (store.ObserveHealth,
// with the health policy) and health changes into operational events.
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
	// last is the last observation this node queued, per endpoint.
	last map[string]store.HealthObservation
	// held: endpoints whose breaker this node last saw open, until their
	// probe time. Their deliveries already claimed are given back instead
	// of sent (Claim stops handing them out as soon as the store has it).
	held    map[string]time.Time
	stopped bool

	more chan struct{}
	quit chan struct{}
	done chan struct{}
}

func newHealthWatch(st store.Store, p health.Policy, logger *slog.Logger, notify Notify) *healthWatch {
	return &healthWatch{
		store:  st,
		policy: p,
		logger: logger,
		notify: notify,
		last:   make(map[string]store.HealthObservation),
		held:   make(map[string]time.Time),
		more:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
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
			h.mu.Unlock()
			return
		}
	}
	h.last[ep] = o
	h.queue = append(h.queue, o)
	h.mu.Unlock()
	select {
	case h.more <- struct{}{}:
	default:
	}
}

// heldUntil reports whether endpoint ep's breaker was open when this node
// last saw it, and until when.
func (h *healthWatch) heldUntil(ep string, now time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.held[ep]
	if ok && !t.After(now) {
		delete(h.held, ep)
		return time.Time{}, false
	}
	return t, ok
}

// start runs the watch's goroutine; stop writes what is queued and ends it.
func (h *healthWatch) start() { go h.run() }

func (h *healthWatch) stop() {
	h.mu.Lock()
	already := h.stopped
	h.stopped = true
	h.mu.Unlock()
	if !already {
		close(h.quit)
	}
	<-h.done
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

// flush observes everything queued.
func (h *healthWatch) flush() {
	h.mu.Lock()
	obs := h.queue
	h.queue = nil
	h.mu.Unlock()
	if len(obs) == 0 {
		return
	}
	ctx := context.Background()
	changes, err := h.store.ObserveHealth(ctx, obs, h.policy.Next)
	if err != nil {
		// Health is advisory next to the log: the next attempts observe
		// again. Nothing is sent that would not have been.
		h.logger.Warn("recording endpoint health failed", "err", err, "observations", len(obs))
		return
	}
	h.mu.Lock()
	for _, ch := range changes {
		if ch.After.Enabled && ch.After.Health.BreakerOpen() {
			h.held[ch.After.ID] = ch.After.Health.ProbeAt
		} else {
			delete(h.held, ch.After.ID)
		}
	}
	h.mu.Unlock()
	for _, ch := range changes {
		for _, ev := range health.Events(ch) {
			if h.notify == nil {
				continue
			}
			if err := h.notify(ctx, ev.About, ev.Type, health.EventData(ev.About)); err != nil {
				// The change is recorded; only its notification is lost (as
				// when shutting down, after the publisher closed).
				h.logger.Warn("publishing an operational event failed", "type", ev.Type, "endpoint", ev.About.ID, "err", err)
			}
		}
		if ch.Before.Enabled && !ch.After.Enabled {
			h.logger.Warn("endpoint disabled", "endpoint", ch.After.ID, "project", ch.After.ProjectID,
				"reason", ch.After.DisabledReason)
		}
	}
}
