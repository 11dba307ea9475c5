package webhook

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ClaimResult is what a Deduplicator says about a webhook-id.
type ClaimResult int

const (
	// Claimed: the id is new (or was released); this request handles it and must
	// Complete or Release it.
	Claimed ClaimResult = iota
	// Duplicate: a request with this id was handled successfully before.
	Duplicate
	// InProgress: another request holds the id right now.
	InProgress
)

func (c ClaimResult) String() string {
	switch c {
	case Claimed:
		return "Claimed"
	case Duplicate:
		return "Duplicate"
	case InProgress:
		return "InProgress"
	}
	return fmt.Sprintf("ClaimResult(%d)", int(c))
}

// Deduplicator remembers which webhook-ids were handled, for Middleware
// (WithDeduplicator). Claim must be atomic: of two concurrent Claims of one id, at
// most one gets Claimed. Implementations must be safe for concurrent use. A store
// shared by several receiver processes (a SQL table, see the package examples)
// de-duplicates across them; NewMemoryDeduplicator's only within one process.
//
// Keep ids at least as long as the sender retries (hookd's schedule is in the
// README). A claim whose process died is never completed or released: a shared
// store should let it expire after a while longer than the handler can take.
type Deduplicator interface {
	// Claim reserves id for this request, or reports that it was handled or is
	// being handled. An error makes the middleware answer 503, so the sender
	// retries later.
	Claim(ctx context.Context, id string) (ClaimResult, error)
	// Complete records that the claimed id was handled (the handler answered 2xx).
	Complete(ctx context.Context, id string) error
	// Release forgets a claim whose handling failed, so a retry is handled.
	Release(ctx context.Context, id string) error
}

// ErrDeduplicatorFull is returned by MemoryDeduplicator.Claim when every slot holds
// an id still in progress: forgetting one would let a duplicate run at once.
var ErrDeduplicatorFull = errors.New("webhook: deduplicator full of ids in progress")

// MemoryDeduplicator is a Deduplicator in this process's memory: it holds at most
// size ids, each completed id for ttl after its completion; when full, the oldest
// completed id is forgotten first. Ids do not survive a restart, and are not shared
// between processes.
type MemoryDeduplicator struct {
	size int
	ttl  time.Duration
	now  func() time.Time

	mu       sync.Mutex
	inflight map[string]struct{}
	done     map[string]*list.Element // of doneEntry
	order    *list.List               // completed ids, oldest completion first
}

type doneEntry struct {
	id      string
	expires time.Time
}

// NewMemoryDeduplicator returns a MemoryDeduplicator holding at most size ids
// (at least 1), each completed one for ttl (forever if ttl <= 0, within the size).
func NewMemoryDeduplicator(size int, ttl time.Duration) *MemoryDeduplicator {
	return &MemoryDeduplicator{
		size:     max(size, 1),
		ttl:      ttl,
		now:      time.Now,
		inflight: make(map[string]struct{}),
		done:     make(map[string]*list.Element),
		order:    list.New(),
	}
}

// Claim implements Deduplicator.
func (d *MemoryDeduplicator) Claim(_ context.Context, id string) (ClaimResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.expire(now)
	if _, ok := d.inflight[id]; ok {
		return InProgress, nil
	}
	if _, ok := d.done[id]; ok {
		return Duplicate, nil
	}
	if len(d.inflight)+len(d.done) >= d.size {
		if d.order.Len() == 0 {
			return 0, ErrDeduplicatorFull
		}
		d.remove(d.order.Front())
	}
	d.inflight[id] = struct{}{}
	return Claimed, nil
}

// Complete implements Deduplicator.
func (d *MemoryDeduplicator) Complete(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.inflight[id]; !ok {
		return nil // not claimed here (or forgotten): nothing to record
	}
	delete(d.inflight, id)
	d.done[id] = d.order.PushBack(doneEntry{id: id, expires: d.now().Add(d.ttl)})
	return nil
}

// Release implements Deduplicator.
func (d *MemoryDeduplicator) Release(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.inflight, id)
	return nil
}

// Len returns how many ids are held, in progress or completed.
func (d *MemoryDeduplicator) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(d.now())
	return len(d.inflight) + len(d.done)
}

// expire drops completed ids past their ttl; they are in completion order.
func (d *MemoryDeduplicator) expire(now time.Time) {
	if d.ttl <= 0 {
		return
	}
	for e := d.order.Front(); e != nil && !now.Before(e.Value.(doneEntry).expires); e = d.order.Front() {
		d.remove(e)
	}
}

func (d *MemoryDeduplicator) remove(e *list.Element) {
	delete(d.done, e.Value.(doneEntry).id)
	d.order.Remove(e)
}
