package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sync"
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
	// Recorded, if set, is called on the recorder's goroutine after each
	// batch is committed, with the endpoints the batch disabled (see
	// Store.Complete). The engine uses it to look for work that a
	// give-back made due at once, and to announce the disabled endpoints.
	// It must not block.
	Recorded func(outcomes []store.Outcome, disabled []store.Endpoint)
}

// Recorder writes delivery outcomes to the store: it is the engine's only
// caller of Store.Complete, on a goroutine of its own. Workers and the
// publish hand-off queue outcomes with Add, which never blocks and does no
// I/O, so neither a slow database nor a retry holds up a request slot or a
// publisher. The goroutine takes what is queued in batches, one Complete
// at a time; while one commits, the next batch gathers.
//
// A Complete that fails is tried again after a backoff on the injected
// clock, up to 20 times while the database is unavailable (the attempts
// happened and the log must say so) and 3 times for any other error. A
// batch still not recorded is logged and dropped: its deliveries are
// leased, and are sent again when the leases expire (at least once).
//
// Start starts the goroutine; Stop records everything queued (retrying as
// above) and returns when it is written. Outcomes added after Stop are
// dropped with a warning, left to their leases in the same way.
type Recorder struct {
	cfg RecorderConfig

	mu      sync.Mutex
	queue   []store.Outcome
	started bool
	stopped bool

	more chan struct{} // capacity 1: the queue is not empty
	quit chan struct{} // closed by Stop
	done chan struct{} // closed when the goroutine has drained the queue
}

// Backoff between tries of a failed Complete.
const (
	recordMinBackoff = 50 * time.Millisecond
	recordMaxBackoff = 5 * time.Second
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
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	return &Recorder{
		cfg:  cfg,
		more: make(chan struct{}, 1),
		quit: make(chan struct{}),
		done: make(chan struct{}),
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

// Stop records everything added so far and returns once it is written
// (or given up, see Recorder).
func (r *Recorder) Stop() {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		<-r.done
		return
	}
	r.stopped = true
	if !r.started {
		r.started = true
		go r.run()
	}
	r.mu.Unlock()
	close(r.quit)
	<-r.done
}

// Add queues outcomes to be recorded. It never blocks. An outcome that
// store.CheckOutcomes would refuse is logged and left out, so that it
// cannot fail the batch it would share with others.
func (r *Recorder) Add(outcomes ...store.Outcome) {
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
	for _, o := range outcomes {
		if err := o.Err(); err != nil {
			r.cfg.Logger.Error("malformed delivery outcome left out; the delivery will be retried after the lease", "err", err)
			continue
		}
		r.queue = append(r.queue, o)
	}
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

// run is the recorder's goroutine.
func (r *Recorder) run() {
	defer close(r.done)
	var batch []store.Outcome
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
func (r *Recorder) take(buf []store.Outcome) []store.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(len(r.queue), r.cfg.MaxBatch)
	buf = append(buf[:0], r.queue[:n]...)
	rest := copy(r.queue, r.queue[n:])
	clear(r.queue[rest:])
	r.queue = r.queue[:rest]
	return buf
}

// record commits one batch, trying again as Recorder describes.
func (r *Recorder) record(batch []store.Outcome) {
	backoff := recordMinBackoff
	for try := 1; ; try++ {
		disabled, err := r.cfg.Store.Complete(context.Background(), batch)
		if err == nil {
			if r.cfg.Recorded != nil {
				r.cfg.Recorded(batch, disabled)
			}
			return
		}
		limit := 3
		if errors.Is(err, store.ErrUnavailable) {
			limit = 20
		}
		if try >= limit {
			r.cfg.Logger.Error("recording outcomes failed; their deliveries will be retried after the lease",
				"err", err, "outcomes", len(batch), "tries", try)
			return
		}
		r.cfg.Logger.Warn("recording outcomes failed; retrying", "err", err, "outcomes", len(batch), "in", backoff)
		<-r.cfg.Clock.After(backoff)
		backoff = min(2*backoff, recordMaxBackoff)
	}
}
