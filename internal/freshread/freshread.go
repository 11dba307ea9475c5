// Package freshread lets many callers share the reads of one thing without
// any of them getting an answer older than its question.
//
// Sharing a read that is already under way would hand a caller what the
// store held before it asked: a revocation, or an event, committed a moment
// earlier would be missed. So a caller waits for a read that begins after
// it asked. While one read of a key runs, every caller that asks meanwhile
// waits for the one read that begins when it ends: a thousand callers woken
// together make two reads, not a thousand, and each sees everything
// committed before it asked.
package freshread

import (
	"context"
	"sync"
)

// Reads shares the reads of keys among their callers. The zero value is
// ready to use.
type Reads[K comparable, V any] struct {
	mu    sync.Mutex
	byKey map[K]*reading[V]
}

// reading is the state of one key's reads.
type reading[V any] struct {
	running bool     // a read is under way
	next    *read[V] // the read that begins when it ends, nil until a caller asks
}

// read is one read of a key, shared by the callers that wait for it.
type read[V any] struct {
	done    chan struct{} // closed when v and err are set
	v       V
	err     error
	waiting int // callers that wait for it (tests count them)
}

// Get returns key as read by a read that began after Get was called. load
// reads it, with a context that outlives any one caller (several wait for
// it): ctx's values without its end. A caller whose ctx ends stops
// waiting; the read goes on for the others.
func (r *Reads[K, V]) Get(ctx context.Context, key K, load func(context.Context, K) (V, error)) (V, error) {
	r.mu.Lock()
	if r.byKey == nil {
		r.byKey = map[K]*reading[V]{}
	}
	st := r.byKey[key]
	if st == nil {
		st = &reading[V]{}
		r.byKey[key] = st
	}
	if st.next == nil {
		st.next = &read[V]{done: make(chan struct{})}
	}
	rd := st.next
	rd.waiting++
	if !st.running {
		r.start(context.WithoutCancel(ctx), key, st, load)
	}
	r.mu.Unlock()
	select {
	case <-rd.done:
		return rd.v, rd.err
	case <-ctx.Done():
		var zero V
		return zero, context.Cause(ctx)
	}
}

// start begins st.next's read; r.mu is held. When it ends, the read that
// callers asked for meanwhile begins, or the key's state is dropped.
func (r *Reads[K, V]) start(ctx context.Context, key K, st *reading[V], load func(context.Context, K) (V, error)) {
	rd := st.next
	st.next, st.running = nil, true
	go func() {
		rd.v, rd.err = load(ctx, key)
		close(rd.done)
		r.mu.Lock()
		defer r.mu.Unlock()
		st.running = false
		if st.next != nil {
			r.start(ctx, key, st, load)
		} else {
			delete(r.byKey, key)
		}
	}()
}

// Waiting tells how many callers wait for the read of key that has not
// begun yet.
func (r *Reads[K, V]) Waiting(key K) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.byKey[key]; st != nil && st.next != nil {
		return st.next.waiting
	}
	return 0
}

// Keys tells how many keys have a read under way or asked for.
func (r *Reads[K, V]) Keys() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byKey)
}
