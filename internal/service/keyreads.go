package service

import (
	"context"
	"sync"

	"github.com/hookd/hookd/internal/store"
)

// keyReads lets the streams of one key share its re-reads (recheckKey). A
// check waits for a read of the key that began after the check was asked,
// so it sees every revocation committed before it asked, on any node; the
// checks asked while a read is under way all wait for the one read that
// begins when it ends. The streams of a key woken by one commit then read
// it once or twice among them: 1,000 streams on one key each read it
// before every read of events, 18 % of the node's CPU in the second after
// they opened while publishes waited.
type keyReads struct {
	mu     sync.Mutex
	byHash map[string]*keyReading
}

// keyReading is the state of one key's reads.
type keyReading struct {
	running bool     // a read is under way
	next    *keyRead // the read that begins when it ends, nil until a check asks
}

// keyRead is one read of a key, shared by the checks that wait for it.
type keyRead struct {
	done    chan struct{} // closed when key and err are set
	key     store.APIKey
	err     error
	waiting int // checks that wait for it (tests count them)
}

// get returns the key with hash as read by a read that began after get
// was called; load reads it (with a context that outlives any one
// caller: several wait for it).
func (r *keyReads) get(ctx context.Context, hash []byte, load func(context.Context, []byte) (store.APIKey, error)) (store.APIKey, error) {
	h := string(hash)
	r.mu.Lock()
	if r.byHash == nil {
		r.byHash = map[string]*keyReading{}
	}
	st := r.byHash[h]
	if st == nil {
		st = &keyReading{}
		r.byHash[h] = st
	}
	if st.next == nil {
		st.next = &keyRead{done: make(chan struct{})}
	}
	kr := st.next
	kr.waiting++
	if !st.running {
		r.start(context.WithoutCancel(ctx), h, st, load)
	}
	r.mu.Unlock()
	select {
	case <-kr.done:
		return kr.key, kr.err
	case <-ctx.Done():
		return store.APIKey{}, context.Cause(ctx)
	}
}

// start begins st.next's read; r.mu is held. When it ends, the read that
// checks asked for meanwhile begins, or the key's state is dropped.
func (r *keyReads) start(ctx context.Context, h string, st *keyReading, load func(context.Context, []byte) (store.APIKey, error)) {
	kr := st.next
	st.next, st.running = nil, true
	go func() {
		kr.key, kr.err = load(ctx, []byte(h))
		close(kr.done)
		r.mu.Lock()
		defer r.mu.Unlock()
		st.running = false
		if st.next != nil {
			r.start(ctx, h, st, load)
		} else {
			delete(r.byHash, h)
		}
	}()
}

// waiting tells how many checks wait for the read of hash that has not
// begun yet.
func (r *keyReads) waiting(hash []byte) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.byHash[string(hash)]; st != nil && st.next != nil {
		return st.next.waiting
	}
	return 0
}
