package delivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/store"
)

// TestMaxConcurrency: an endpoint with max_concurrency 2 never has more
// than 2 requests in flight, while another endpoint of the project gets
// its deliveries beside it; every delivery of both arrives.
func TestMaxConcurrency(t *testing.T) {
	var mu sync.Mutex
	inFlight, most := 0, 0
	var limitedGot, freeGot atomic.Int32
	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(10 * time.Millisecond) // a slow receiver: requests would pile up
		mu.Lock()
		inFlight--
		mu.Unlock()
		limitedGot.Add(1)
		w.WriteHeader(204)
	}))
	defer limited.Close()
	free := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		freeGot.Add(1)
		w.WriteHeader(204)
	}))
	defer free.Close()

	f := newFixture(t, delivery.Config{Workers: 16, PerEndpoint: 8})
	id := f.endpoint(limited.URL)
	f.endpoint(free.URL)
	ep, err := f.st.GetEndpoint(context.Background(), f.pid, id)
	if err != nil {
		t.Fatal(err)
	}
	ep.MaxConcurrency = 2
	if err := f.st.UpdateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	f.run()
	const n = 60
	refs := f.publish(n)
	f.waitFor("every delivery", func() bool {
		for _, r := range refs {
			if f.delivery(r.ID).Status != store.StatusSucceeded {
				return false
			}
		}
		return true
	})
	if limitedGot.Load() != n || freeGot.Load() != n {
		t.Fatalf("limited endpoint got %d, the other %d; want %d each", limitedGot.Load(), freeGot.Load(), n)
	}
	if most > 2 {
		t.Fatalf("%d requests in flight at once to an endpoint limited to 2", most)
	}
}
