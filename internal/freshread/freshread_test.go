package freshread

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// apiKey stands for what the streams read: their key, revoked or not.
type apiKey struct {
	Hash      []byte
	RevokedAt time.Time
}

// TestReadsAreSharedAndFresh: checks of one key asked while a read of
// it is under way share the one read that begins after it — so they see
// a revocation committed during the first read — and the check that began
// the first read gets what it read. Four checks, two reads.
func TestReadsAreSharedAndFresh(t *testing.T) {
	var r Reads[string, apiKey]
	hash := "h1"
	var revoked atomic.Bool
	var loads atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	load := func(ctx context.Context, h string) (apiKey, error) {
		loads.Add(1)
		k := apiKey{Hash: []byte(h)} // what the database holds when the read begins
		if revoked.Load() {
			k.RevokedAt = time.Unix(1, 0)
		}
		started <- struct{}{}
		<-release
		return k, nil
	}
	type result struct {
		k   apiKey
		err error
	}
	first := make(chan result, 1)
	go func() { k, err := r.Get(t.Context(), hash, load); first <- result{k, err} }()
	<-started
	revoked.Store(true) // committed while the first read is under way
	var wg sync.WaitGroup
	later := make(chan result, 3)
	for range 3 {
		wg.Go(func() { k, err := r.Get(t.Context(), hash, load); later <- result{k, err} })
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.Waiting(hash) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d checks wait for the next read, want 3", r.Waiting(hash))
		}
		time.Sleep(time.Millisecond)
	}
	release <- struct{}{}
	if got := <-first; got.err != nil || !got.k.RevokedAt.IsZero() {
		t.Fatalf("the first check got %+v, %v: want the key as it was when it asked", got.k, got.err)
	}
	<-started
	release <- struct{}{}
	wg.Wait()
	close(later)
	for got := range later {
		if got.err != nil || got.k.RevokedAt.IsZero() {
			t.Fatalf("a check asked after the revocation got %+v, %v: want it revoked", got.k, got.err)
		}
	}
	if n := loads.Load(); n != 2 {
		t.Fatalf("four checks read the key %d times, want 2", n)
	}
	for kept := 1; kept > 0; { // the state is dropped just after the read ends
		kept = r.Keys()
		if time.Now().After(deadline) {
			t.Fatalf("%d keys' state kept after their reads", kept)
		}
		time.Sleep(time.Millisecond)
	}

	// A check that gives up (its stream ended) does not wait for the read.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := r.Get(ctx, hash, load); done <- err }()
	<-started
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a check whose context ended returned no error")
	}
	release <- struct{}{}
}
