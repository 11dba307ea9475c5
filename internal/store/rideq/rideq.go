// Package rideq is the queue both drivers keep of the Complete calls whose
// outcomes wait to ride along with the node's next write transaction (a
// publish's, or another Complete's): a transaction takes every one queued,
// and a call that waited long enough takes itself back, unless a
// transaction has it already, whose commit then decides its result.
package rideq

import (
	"slices"
	"sync"
)

// Queue holds the waiting calls, each a *B. The zero value is empty and
// ready.
type Queue[B any] struct {
	mu      sync.Mutex
	batches []*B
}

// Add queues b.
func (q *Queue[B]) Add(b *B) {
	q.mu.Lock()
	q.batches = append(q.batches, b)
	q.mu.Unlock()
}

// Take removes and returns every queued call, oldest first.
func (q *Queue[B]) Take() []*B {
	q.mu.Lock()
	defer q.mu.Unlock()
	bs := q.batches
	q.batches = nil
	return bs
}

// Remove takes b out of the queue; false when a transaction took it
// already.
func (q *Queue[B]) Remove(b *B) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.Index(q.batches, b)
	if i < 0 {
		return false
	}
	q.batches = slices.Delete(q.batches, i, i+1)
	return true
}

// Len tells how many calls are queued.
func (q *Queue[B]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.batches)
}
