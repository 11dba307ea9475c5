package delivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/store"
)

// RecorderConfig configures a Recorder. Zero fields take the defaults given.
type RecorderConfig struct {
	Store  store.Store
	Clock  clock.Clock // default clock.Real
	Logger *slog.Logger
	// MaxBatch caps the outcomes of one Complete; default 256.
	MaxBatch int
	// MaxBacklog is how many outcomes may wait to be recorded (queued, or
	// in the batch being written) before Room says there is none: the
	// engine admits no new work until the recorder catches up. Default
	// DefaultMaxBacklog.
	MaxBacklog int
	// Recorded, if set, is called on the recorder's goroutine after each
	// batch is committed, with the endpoints the batch disabled (see
	// Store.Complete). The engine uses it to look for work that a
	// give-back made due at once, and to announce the disabled endpoints.
	// It must not block.
	Recorded func(outcomes []store.Outcome, disabled []store.Endpoint)
	// Dropped, if set, is called on the recorder's goroutine with the
	// outcomes of a batch given up on (see Recorder). It must not block.
	Dropped func(outcomes []store.Outcome)
}

// Recorder writes delivery outcomes to the store: it is the engine's only
// caller of Store.Complete, on a goroutine of its own. Workers and the
// publish hand-off queue outcomes with Add, which never blocks and does no
// I/O, so neither a slow database nor a retry holds up a request slot or a
// publisher. The goroutine takes what is queued in batches, one Complete
// at a time; while one commits, the next batch gathers.
//
// The backlog is bounded by the engine, not by Add: Room reports how many
// more outcomes fit in MaxBacklog, and the engine admits work (its
// dispatcher's claims, Direct's takes) only while there is room, so what
// it has in flight can add at most its workers and queues beyond it.
//
// A Complete that fails is tried again after a backoff on the injected
// clock, up to 20 times while the database is unavailable (the attempts
// happened and the log must say so) and 3 times for any other error, and
// never past the batch's deadline: the latest lease among its outcomes
// (AddLeased), after which another node may have claimed them. Each try
// runs under that deadline too. A batch still not recorded is logged,
// counted and dropped: its deliveries are leased, and are sent again when
// the leases expire (at least once).
//
// Start starts the goroutine; Stop records everything queued (retrying as
// above) until its context ends, and returns when it is written, with an
// error if any outcome was dropped. Outcomes added after Stop are dropped
// with a warning, left to their leases in the same way.
type Recorder struct {
	cfg RecorderConfig

	mu      sync.Mutex
	queue   []pendingOutcome
	started bool
	stopped bool
	// backlog: queued plus the batch being written (see Room).
	backlog atomic.Int64
	// dropped counts outcomes given up on; Stop reports them.
	dropped atomic.Int64
	// ctx ends when Stop's context does: a try in progress is cut short.
	ctx    context.Context
	cancel context.CancelFunc
	// writing: when the oldest delivery of the batch being written was
	// claimed (unix nanoseconds on the injected clock); 0 when none is.
	writing atomic.Int64

	more chan struct{} // capacity 1: the queue is not empty
	quit chan struct{} // closed by Stop
	done chan struct{} // closed when the goroutine has drained the queue
}

// pendingOutcome is a queued outcome with its delivery's lease: recording
// it after the lease has ended may overwrite nothing (another claim took
// the delivery) and must not go on for ever. since is when it was claimed,
// for the in-flight gauge; both zero when unknown.
type pendingOutcome struct {
	o            store.Outcome
	until, since time.Time
}

// DefaultMaxBacklog is RecorderConfig.MaxBacklog's default: four batches.
const DefaultMaxBacklog = 4 * defaultMaxBatch

const defaultMaxBatch = 256

// Backoff between tries of a failed Complete.
const (
	recordMinBackoff = 50 * time.Millisecond
	recordMaxBackoff = 5 * time.Second
	// recordMinTry is the shortest a try of Complete is given.
	recordMinTry = 5 * time.Second
)

// NewRecorder returns a Recorder; it records nothing until Start.
func NewRecorder(cfg RecorderConfig) (*Recorder, error) {
	if cfg.Store == nil {
		return nil, errors.New("delivery: the recorder needs a Store")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.MaxBatch = cmp.Or(max(cfg.MaxBatch, 0), defaultMaxBatch)
	cfg.MaxBacklog = cmp.Or(max(cfg.MaxBacklog, 0), DefaultMaxBacklog)
	ctx, cancel := context.WithCancel(context.Background())
	return &Recorder{
		cfg:    cfg,
		ctx:    ctx,
		cancel: cancel,
		more:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}, nil
}

// Start starts recording; what was added before is recorded first.
func (r *Recorder) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return
	}
	r.started = true
	go r.run()
}

// Stop records everything added so far and returns once it is written,
// given up (see Recorder), or ctx has ended, whichever is first: then the
// try in progress is cut short and what is left is dropped. It returns an
// error when any outcome was dropped since Start.
func (r *Recorder) Stop(ctx context.Context) error {
	r.mu.Lock()
	first := !r.stopped
	r.stopped = true
	if !r.started {
		r.started = true
		go r.run()
	}
	r.mu.Unlock()
	if first {
		close(r.quit)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		r.cancel()
		<-r.done
	}
	r.cancel()
	if n := r.dropped.Load(); n > 0 {
		return fmt.Errorf("recorder: %d outcomes not recorded; their deliveries are sent again after their leases", n)
	}
	return nil
}

// Room is how many more outcomes fit in the backlog (MaxBacklog); zero or
// less when the engine should admit nothing new. It never blocks.
func (r *Recorder) Room() int { return r.cfg.MaxBacklog - int(r.backlog.Load()) }

// Add queues outcomes to be recorded with no lease known (see AddLeased).
func (r *Recorder) Add(outcomes ...store.Outcome) { r.AddLeased(time.Time{}, time.Time{}, outcomes...) }

// AddLeased queues outcomes whose deliveries were claimed at since and are
// leased until until (zero: unknown): the recorder gives up on them after
// until. It never blocks. An outcome that store.CheckOutcomes would refuse
// is logged and left out, so that it cannot fail the batch it would share
// with others.
func (r *Recorder) AddLeased(since, until time.Time, outcomes ...store.Outcome) {
	if len(outcomes) == 0 {
		return
	}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		r.cfg.Logger.Warn("outcomes reported after the recorder stopped; their deliveries will be retried after the lease",
			"outcomes", len(outcomes))
		return
	}
	n := 0
	for _, o := range outcomes {
		if err := o.Err(); err != nil {
			r.cfg.Logger.Error("malformed delivery outcome left out; the delivery will be retried after the lease", "err", err)
			continue
		}
		r.queue = append(r.queue, pendingOutcome{o: o, until: until, since: since})
		n++
	}
	r.backlog.Add(int64(n))
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

// oldest is when the oldest delivery whose outcome waits to be recorded
// was claimed; ok false when none waits (or none says).
func (r *Recorder) oldest() (since time.Time, ok bool) {
	if w := r.writing.Load(); w != 0 {
		since, ok = time.Unix(0, w), true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.queue {
		if !p.since.IsZero() && (!ok || p.since.Before(since)) {
			since, ok = p.since, true
		}
	}
	return since, ok
}

// run is the recorder's goroutine.
func (r *Recorder) run() {
	defer close(r.done)
	var batch []pendingOutcome
	for {
		for {
			if batch = r.take(batch); len(batch) == 0 {
				break
			}
			r.record(batch)
		}
		select {
		case <-r.more:
		case <-r.quit:
			// Add refuses from now on: what is queued is all there is.
			for {
				if batch = r.take(batch); len(batch) == 0 {
					return
				}
				r.record(batch)
			}
		}
	}
}

// take moves up to MaxBatch queued outcomes, oldest first, into buf.
func (r *Recorder) take(buf []pendingOutcome) []pendingOutcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(len(r.queue), r.cfg.MaxBatch)
	buf = append(buf[:0], r.queue[:n]...)
	rest := copy(r.queue, r.queue[n:])
	clear(r.queue[rest:])
	r.queue = r.queue[:rest]
	return buf
}

// record commits one batch, trying again as Recorder describes, and then
// takes it off the backlog.
func (r *Recorder) record(batch []pendingOutcome) {
	outs := make([]store.Outcome, len(batch))
	var until, since time.Time
	for i, p := range batch {
		outs[i] = p.o
		if p.until.After(until) {
			until = p.until
		}
		if !p.since.IsZero() && (since.IsZero() || p.since.Before(since)) {
			since = p.since
		}
	}
	if !since.IsZero() {
		r.writing.Store(since.UnixNano())
	}
	defer func() {
		r.writing.Store(0)
		r.backlog.Add(-int64(len(batch)))
	}()
	if err := r.commit(outs, until); err != nil {
		r.dropped.Add(int64(len(batch)))
		if r.cfg.Dropped != nil {
			r.cfg.Dropped(outs)
		}
		r.cfg.Logger.Error("recording outcomes failed; their deliveries will be retried after the lease",
			"err", err, "outcomes", len(batch))
	}
}

// commit writes outs, trying again until the tries run out, the batch's
// deadline (until; zero: none) passes or Stop gives up.
func (r *Recorder) commit(outs []store.Outcome, until time.Time) error {
	backoff := recordMinBackoff
	for try := 1; ; try++ {
		ctx, cancel := r.ctx, context.CancelFunc(func() {})
		if !until.IsZero() {
			// The lease is on the injected clock; a context's deadline is
			// on the wall clock: wait what is left of it, and at least
			// recordMinTry, so that an outcome whose lease has just ended
			// still gets its one try (its token may well still match).
			ctx, cancel = context.WithTimeout(r.ctx, max(until.Sub(r.cfg.Clock.Now()), recordMinTry))
		}
		disabled, err := r.cfg.Store.Complete(ctx, outs)
		cancel()
		if err == nil {
			if r.cfg.Recorded != nil {
				r.cfg.Recorded(outs, disabled)
			}
			return nil
		}
		limit := 3
		if errors.Is(err, store.ErrUnavailable) {
			limit = 20
		}
		switch {
		case try >= limit:
			return fmt.Errorf("after %d tries: %w", try, err)
		case r.ctx.Err() != nil:
			return fmt.Errorf("stopped: %w", err)
		case !until.IsZero() && !r.cfg.Clock.Now().Add(backoff).Before(until):
			return fmt.Errorf("the leases end before another try: %w", err)
		}
		r.cfg.Logger.Warn("recording outcomes failed; retrying", "err", err, "outcomes", len(outs), "in", backoff)
		select {
		case <-r.cfg.Clock.After(backoff):
		case <-r.ctx.Done():
		}
		backoff = min(2*backoff, recordMaxBackoff)
	}
}
