// Package publish accepts events durably and fast: each Publish call waits
// until its event is committed, but many concurrent calls share one
// transaction (group commit), so the cost of a durable commit — an fsync on
// SQLite, a round trip on PostgreSQL — is paid once per batch instead of
// once per event.
package publish

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/store"
)

// IdempotencyWindow is how long an Idempotency-Key keeps returning the
// original event.
const IdempotencyWindow = 24 * time.Hour

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("publisher closed")

// Config configures a Batcher. Zero fields take the defaults given.
type Config struct {
	Store store.Store
	Clock clock.Clock // default clock.Real
	// MaxBatch caps the events in one transaction; default 500.
	MaxBatch int
	// Committers is how many transactions may be in flight at once:
	// 1 for SQLite (one writer anyway), more for PostgreSQL. Default 1.
	Committers int
	// OnCommit runs after each committed batch that created deliveries
	// left for the delivery engine to claim (its wake-up). May be nil.
	OnCommit func()
	// Direct, when set, is asked before each batch for the claim the batch
	// makes for this node's delivery engine (store.DirectClaim; nil: none),
	// and Deliver receives what the committed batch claimed. Fresh events
	// then reach the workers without a claim transaction of their own.
	// Deliver runs on the committer before the batch's publishers are
	// answered (sent first, their outcomes are ready to ride along with
	// the next batch), so it must only hand the claims over: no I/O, no
	// waiting. The delivery engine's Deliver does exactly that.
	Direct  func(now time.Time) *store.DirectClaim
	Deliver func([]store.Claimed)
	// Metrics, when set, records each group commit.
	Metrics *Metrics
}

type request struct {
	ctx   context.Context
	event store.Event
	done  chan response
}

type response struct {
	res store.PublishResult
	err error
}

// Batcher group-commits events. Safe for concurrent use.
type Batcher struct {
	cfg      Config
	requests chan *request
	quit     chan struct{}
	closed   chan struct{} // closed when Close has returned
	wg       sync.WaitGroup
	once     sync.Once
}

// New starts a Batcher; Close stops it.
func New(cfg Config) *Batcher {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 500
	}
	if cfg.Committers <= 0 {
		cfg.Committers = 1
	}
	b := &Batcher{
		cfg:      cfg,
		requests: make(chan *request, cfg.MaxBatch*cfg.Committers),
		quit:     make(chan struct{}),
		closed:   make(chan struct{}),
	}
	for range cfg.Committers {
		b.wg.Add(1)
		go b.commitLoop()
	}
	return b
}

// Publish stores e and its deliveries and returns once they are committed.
// When ctx ends first the event may still be committed; the caller cannot
// know, which is why publishers retry with an Idempotency-Key.
func (b *Batcher) Publish(ctx context.Context, e store.Event) (store.PublishResult, error) {
	r := &request{ctx: ctx, event: e, done: make(chan response, 1)}
	select {
	case <-b.quit:
		return store.PublishResult{}, ErrClosed
	default:
	}
	select {
	case b.requests <- r:
	case <-b.quit:
		return store.PublishResult{}, ErrClosed
	case <-ctx.Done():
		return store.PublishResult{}, ctx.Err()
	}
	select {
	case resp := <-r.done:
		return resp.res, resp.err
	case <-b.closed:
		// Every committer has stopped; a request that slipped into the
		// queue after Close drained it will never be committed.
		select {
		case resp := <-r.done:
			return resp.res, resp.err
		default:
			return store.PublishResult{}, ErrClosed
		}
	case <-ctx.Done():
		return store.PublishResult{}, ctx.Err()
	}
}

// Queued is how many publishes wait for a batch to take them.
func (b *Batcher) Queued() int { return len(b.requests) }

// Close stops accepting events and waits until every batch already taken is
// committed; requests still queued are answered with ErrClosed.
func (b *Batcher) Close() {
	b.once.Do(func() {
		close(b.quit)
		b.wg.Wait()
		for {
			select {
			case r := <-b.requests:
				r.done <- response{err: ErrClosed}
			default:
				close(b.closed)
				return
			}
		}
	})
	<-b.closed
}

func (b *Batcher) commitLoop() {
	defer b.wg.Done()
	batch := make([]*request, 0, b.cfg.MaxBatch)
	events := make([]store.Event, 0, b.cfg.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-b.requests:
			batch = append(batch, r)
		case <-b.quit:
			return
		}
		// Take whatever else arrived while the previous commit ran. No
		// waiting for more: a lone publisher gets its commit at once, and
		// under load the batch grows by itself.
	fill:
		for len(batch) < b.cfg.MaxBatch {
			select {
			case r := <-b.requests:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.commit(batch, events[:0])
	}
}

// commit commits batch in one transaction and answers its requests. When
// the database refuses the batch for another reason than being away, the
// cause may be one member's data (a value the database cannot store, an
// event of a project deleted meanwhile): the batch is split in halves and
// each half committed on its own, down to single events, so that only the
// guilty publish fails and every other one in the batch commits. A batch
// is all or nothing (store.Publish), so nothing of the refused one was
// stored and trying its members again stores nothing twice. An outage
// fails the whole batch at once: splitting would only multiply the
// waiting for an answer that stays 503.
func (b *Batcher) commit(batch []*request, events []store.Event) {
	err := b.commitOnce(batch, events)
	if err == nil {
		return
	}
	if len(batch) > 1 && !errors.Is(err, store.ErrUnavailable) {
		half := len(batch) / 2
		b.cfg.Metrics.split()
		b.commit(batch[:half], events[:0])
		b.commit(batch[half:], events[:0])
		return
	}
	for _, r := range batch {
		r.done <- response{err: err}
	}
}

// commitOnce commits batch in one transaction and, when that works,
// answers its requests; on failure it answers none of them and returns
// the error.
func (b *Batcher) commitOnce(batch []*request, events []store.Event) error {
	// Requests whose caller already gave up are still committed when they
	// are in the batch: the caller may have seen its request sent, and
	// dropping it now would not make the outcome any more certain.
	for _, r := range batch {
		events = append(events, r.event)
	}
	now := b.cfg.Clock.Now()
	var direct *store.DirectClaim
	if b.cfg.Direct != nil && b.cfg.Deliver != nil {
		direct = b.cfg.Direct(now)
	}
	// The commit must not be cut short by one caller's context: the batch
	// belongs to everyone in it.
	started := time.Now()
	results, err := b.cfg.Store.Publish(context.Background(), events, now.Add(-IdempotencyWindow), direct)
	if err == nil && len(results) != len(batch) {
		err = errors.New("publish: store returned a result count that does not match the batch")
	}
	// Wall time on purpose, not the injected clock: this is how long
	// publishers waited, whatever time the tests pretend it is.
	b.cfg.Metrics.committed(len(batch), time.Since(started), err)
	if err != nil {
		return err
	}
	// Claimed deliveries go to the workers first: they are leased to this
	// node from now on, and the sooner they are sent the better.
	var claimed []store.Claimed
	unclaimed := false
	for _, res := range results {
		if res.Existing {
			continue
		}
		claimed = append(claimed, res.Claimed...)
		if len(res.Claimed) < len(res.Deliveries) {
			unclaimed = true
		}
	}
	if len(claimed) > 0 {
		b.cfg.Deliver(claimed)
	}
	for i, r := range batch {
		// The caller sees what was stored, not the claims.
		res := results[i]
		res.Claimed = nil
		r.done <- response{res: res}
	}
	if unclaimed && b.cfg.OnCommit != nil {
		b.cfg.OnCommit()
	}
	return nil
}
