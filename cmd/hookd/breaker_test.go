package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/health"
	"github.com/hookd/hookd/internal/pgtest"
)

// minProbeWait is the shortest wait before a probe (as long as the
// endpoint has been failing, from this to a minute).
const minProbeWait = health.DefaultProbeMin

// TestBreakerSharedByNodes: two PostgreSQL nodes share an endpoint's
// breaker. Once it opens, events published to either node are held — the
// dead endpoint gets no request for them until a probe — and once the
// endpoint answers again every event arrives.
func TestBreakerSharedByNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two nodes")
	}
	db := pgtest.NewDatabase(t)
	args := []string{"--db", db, "--allow-private-networks", "--log-level", "warn", "--retry-schedule", "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"}
	nodes := []*proc{startProc(t, args...), startProc(t, args...)}

	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	requests := 0
	var at []time.Time // when each request came
	ok := map[string]bool{}
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		at = append(at, time.Now())
		if !down.Load() {
			ok[r.Header.Get("webhook-id")] = true
		}
		mu.Unlock()
		if down.Load() {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(204)
	}))
	defer dead.Close()
	count := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return requests, len(ok)
	}

	var prj struct{ ID string }
	if code, err := nodes[0].post("/v1/projects", crashAdminKey, map[string]any{"name": "breaker"}, &prj); code != 201 {
		t.Fatalf("create project: %d %v", code, err)
	}
	var ep struct{ ID string }
	if code, err := nodes[0].post("/v1/projects/"+prj.ID+"/endpoints", crashAdminKey, map[string]any{"url": dead.URL}, &ep); code != 201 {
		t.Fatalf("create endpoint: %d %v", code, err)
	}
	publish := func(n int) {
		for i := range n {
			if code, err := nodes[i%2].post("/v1/projects/"+prj.ID+"/events", crashAdminKey,
				map[string]any{"type": "order.created", "data": map[string]int{"n": i}}, nil); code != 202 {
				t.Fatalf("publish: %d %v", code, err)
			}
		}
	}
	breaker := func(node *proc) string {
		var e struct{ Breaker string }
		node.get("/v1/projects/"+prj.ID+"/endpoints/"+ep.ID, crashAdminKey, &e)
		return e.Breaker
	}

	publish(10)
	waitUntil(t, time.Minute, "the breaker to open", func() bool { return breaker(nodes[0]) == "open" })
	if breaker(nodes[1]) != "open" {
		t.Fatal("the other node sees the breaker closed")
	}
	// listed counts the endpoint's deliveries with status (up to 250).
	listed := func(status string) int {
		var l struct{ Items []struct{ ID string } }
		nodes[0].get("/v1/projects/"+prj.ID+"/deliveries?limit=250&status="+status+"&endpoint_id="+ep.ID, crashAdminKey, &l)
		return len(l.Items)
	}
	// Requests in flight when it opened come in and are recorded.
	waitUntil(t, time.Minute, "no delivery in flight", func() bool { return listed("delivering") == 0 })
	before, _ := count()
	publish(200)
	// Each of the 200 is held, not sent: the log says so (a probe may take
	// one of them, and a retry of the first ten may be due after it).
	waitUntil(t, time.Minute, "the 200 new deliveries held", func() bool { return listed("held") >= 200 })
	// Only probes went since the breaker opened: each waits at least
	// minProbeWait after the failure before it, so no two requests are
	// closer than that. (How many probes fit depends on how long the
	// publishing took on a loaded machine; their spacing does not.)
	mu.Lock()
	for i := max(before, 1); i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < minProbeWait-100*time.Millisecond {
			mu.Unlock()
			t.Fatalf("with its breaker open the dead endpoint got request %d %v after the one before (%d requests for 200 held events); probes are at least %v apart",
				i+1, gap, len(at)-before, minProbeWait)
		}
	}
	mu.Unlock()

	down.Store(false)
	waitUntil(t, 2*time.Minute, "every event after recovery", func() bool { _, n := count(); return n == 210 })
	waitUntil(t, time.Minute, "the breaker to close", func() bool { return breaker(nodes[1]) == "closed" })
}
