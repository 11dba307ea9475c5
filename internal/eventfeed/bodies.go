package eventfeed

import (
	"context"
	"sync"

	"github.com/hookd/hookd/internal/store"
)

// DefaultCacheBytes is Config.CacheBytes's default.
const DefaultCacheBytes = 16 << 20

// bodies keeps the node's most recent event bodies that its feeds read,
// up to a byte budget, so that the streams of one project read each new
// event from the store once, not once per stream: 50 streams of a
// project reading a 200 KB event each made 10 MB of database reads per
// publish, and took the publishers' CPU. Concurrent misses of one id
// wait for the first one's read. Eviction is oldest first: the feeds
// woken by a commit want the newest events.
type bodies struct {
	mu    sync.Mutex
	max   int
	size  int
	byID  map[string]*body
	order []string // ids in insertion order, for eviction
}

type body struct {
	ready chan struct{} // closed when ev and err are set
	ev    store.Event
	err   error
}

func newBodies(max int) *bodies {
	return &bodies{max: max, byID: map[string]*body{}}
}

// get returns event id, from the cache or by load (one load per id at a
// time; an error is not kept).
func (c *bodies) get(ctx context.Context, id string, load func() (store.Event, error)) (store.Event, error) {
	c.mu.Lock()
	if b, ok := c.byID[id]; ok {
		c.mu.Unlock()
		select {
		case <-b.ready:
		case <-ctx.Done():
			return store.Event{}, context.Cause(ctx)
		}
		if b.err == nil {
			return b.ev, nil
		}
		return load() // the first read failed: try on our own
	}
	b := &body{ready: make(chan struct{})}
	c.byID[id] = b
	c.mu.Unlock()

	b.ev, b.err = load()
	close(b.ready)
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.err != nil || len(b.ev.Body) > c.max {
		delete(c.byID, id)
		return b.ev, b.err
	}
	c.size += len(b.ev.Body)
	c.order = append(c.order, id)
	for c.size > c.max && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		if ob, ok := c.byID[old]; ok {
			c.size -= len(ob.ev.Body)
			delete(c.byID, old)
		}
	}
	return b.ev, nil
}

// bytes tells how many body bytes the cache holds.
func (c *bodies) bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
