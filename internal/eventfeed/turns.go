package eventfeed

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// DefaultTurnHold is Config.TurnHold's default.
const DefaultTurnHold = 2 * time.Millisecond

// defaultTurns is Config.Turns's default: half the node's CPUs, at least
// one, so the streams never take every core from the publishers.
func defaultTurns() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// turns bounds how many of a node's feeds read the store or write to
// their clients at once. A thousand streams woken by the same commits
// each list the new ids and copy the new events into their sockets; run
// all at once they took half the node's CPU for the second after they
// opened, and the publishes of that second waited behind them (publish
// p99 1.3–1.6× its value without streams on a quiet machine). In turns,
// the streams take at most Turns cores between them, later rather than
// all at once, and the publishers keep the rest.
//
// A turn is given back when its work ends, or after hold, whichever is
// first: a write to a client that reads nothing waits in the kernel,
// using no CPU, for as long as the stall allows, and must not hold every
// other stream up meanwhile.
type turns struct {
	slots chan struct{}
	hold  time.Duration
	// afterFunc is time.AfterFunc's start and stop; a test replaces it.
	// The hold is real time even when the Hub's clock is fake: it orders
	// the streams' work, it decides nothing a client sees.
	afterFunc func(d time.Duration, f func()) (stop func() bool)
}

func newTurns(n int, hold time.Duration) *turns {
	return &turns{slots: make(chan struct{}, n), hold: hold,
		afterFunc: func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }}
}

// do runs f in a turn: it waits for one (or for ctx), then gives it back
// when f returns or hold has passed.
func (t *turns) do(ctx context.Context, f func() error) error {
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	var once sync.Once
	give := func() { once.Do(func() { <-t.slots }) }
	stop := t.afterFunc(t.hold, give)
	defer func() {
		stop()
		give()
	}()
	return f()
}
