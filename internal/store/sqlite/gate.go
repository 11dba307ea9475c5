package sqlite

import (
	"context"
	"sync"
)

// gate orders the write transactions waiting for the single write
// connection: delivery work (claims, outcomes) goes before accepting
// events. Without it, publishers that get ahead take most turns on the
// writer, claims wait behind their fsyncs, and delivery falls behind for the
// rest of the run (the "slow mode" in BENCHMARKS.md). Delivery work cannot
// starve publishing: there is only as much of it as was published.
type gate struct {
	mu   sync.Mutex
	busy bool
	high []*waiter // claims and outcomes
	low  []*waiter // everything else, accepted events included
}

type waiter struct {
	ch        chan struct{}
	granted   bool
	abandoned bool
}

// acquire waits for the writer; high says the caller is delivery work.
func (g *gate) acquire(ctx context.Context, high bool) error {
	g.mu.Lock()
	if !g.busy {
		g.busy = true
		g.mu.Unlock()
		return nil
	}
	w := &waiter{ch: make(chan struct{})}
	if high {
		g.high = append(g.high, w)
	} else {
		g.low = append(g.low, w)
	}
	g.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		if w.granted {
			// Handed the writer as we gave up: pass it on.
			g.mu.Unlock()
			g.release()
			return ctx.Err()
		}
		w.abandoned = true
		g.mu.Unlock()
		return ctx.Err()
	}
}

// release hands the writer to the next waiter, delivery work first.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, q := range []*[]*waiter{&g.high, &g.low} {
		for len(*q) > 0 {
			w := (*q)[0]
			*q = (*q)[1:]
			if w.abandoned {
				continue
			}
			w.granted = true
			close(w.ch)
			return
		}
	}
	g.busy = false
}
