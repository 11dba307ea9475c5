package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/pgtest"
)

// arrivals records when each webhook reaches it, on the wall clock.
type arrivals struct {
	srv *httptest.Server
	mu  sync.Mutex
	at  []time.Time
	ids map[string]bool
}

func newArrivals(t *testing.T) *arrivals {
	a := &arrivals{ids: make(map[string]bool)}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		a.mu.Lock()
		a.at = append(a.at, now)
		a.ids[r.Header.Get("webhook-id")] = true
		a.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *arrivals) distinct() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ids)
}

// maxPerSecond is the most requests that arrived within any one second
// (any window [t, t+1s), not only whole seconds of the clock), and the
// time of the last arrival.
func (a *arrivals) maxPerSecond() (int, time.Time) {
	a.mu.Lock()
	at := slices.Clone(a.at)
	a.mu.Unlock()
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	most, j := 0, 0
	for i := range at {
		for at[i].Sub(at[j]) >= time.Second {
			j++
		}
		most = max(most, i-j+1)
	}
	if len(at) == 0 {
		return 0, time.Time{}
	}
	return most, at[len(at)-1]
}

// TestRateLimit: an endpoint limited to 20 requests a second never gets
// more than 20 in any second, measured where they arrive, while another
// endpoint of the same project takes everything at full speed — on one
// SQLite node, and on two PostgreSQL nodes sharing the limit.
func TestRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs nodes")
	}
	t.Run("sqlite", func(t *testing.T) {
		node := startProc(t, "--db", filepath.Join(t.TempDir(), "hookd.db"), "--allow-private-networks", "--log-level", "warn")
		testRateLimit(t, node)
	})
	t.Run("postgres-2-nodes", func(t *testing.T) {
		db := pgtest.NewDatabase(t)
		args := []string{"--db", db, "--allow-private-networks", "--log-level", "warn"}
		a := startProc(t, args...)
		b := startProc(t, args...)
		testRateLimit(t, a, b)
	})
}

func testRateLimit(t *testing.T, nodes ...*proc) {
	const limit, slowEvents, fastEvents = 20, 100, 1000
	slow, fast := newArrivals(t), newArrivals(t)
	p := nodes[0]
	var prj struct{ ID string }
	if code, err := p.post("/v1/projects", crashAdminKey, map[string]any{"name": "limits"}, &prj); code != 201 {
		t.Fatalf("create project: %d %v", code, err)
	}
	for _, ep := range []map[string]any{
		{"url": slow.srv.URL, "event_types": []string{"slow.*"}, "rate_limit_per_second": limit},
		{"url": fast.srv.URL, "event_types": []string{"fast.*"}},
	} {
		if code, err := p.post("/v1/projects/"+prj.ID+"/endpoints", crashAdminKey, ep, nil); code != 201 {
			t.Fatalf("create endpoint: %d %v", code, err)
		}
	}
	// Publish both kinds at once from several goroutines, round the nodes.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < slowEvents+fastEvents; i += 8 {
				typ := "fast.x"
				if i%11 == 0 && i/11 < slowEvents {
					typ = "slow.x"
				}
				node := nodes[i%len(nodes)]
				if code, err := node.post("/v1/projects/"+prj.ID+"/events", crashAdminKey,
					map[string]any{"type": typ, "data": map[string]int{"n": i}}, nil); code != 202 {
					t.Errorf("publish: %d %v", code, err)
					return
				}
			}
		})
	}
	wg.Wait()
	wantSlow := 0
	for i := range slowEvents + fastEvents {
		if i%11 == 0 && i/11 < slowEvents {
			wantSlow++
		}
	}
	waitUntil(t, 2*time.Minute, "every event delivered", func() bool {
		return slow.distinct() == wantSlow && fast.distinct() == slowEvents+fastEvents-wantSlow
	})
	most, slowLast := slow.maxPerSecond()
	if most > limit {
		t.Errorf("the limited endpoint got %d requests within one second, limit %d", most, limit)
	}
	// The unlimited endpoint is not paced with the limited one: it takes
	// many times the limit in its busiest second. (Comparing when each
	// got its last event asserted speed: on a loaded machine 909 events
	// can take longer than 91 at 20/s without anything holding them.)
	fastMost, fastLast := fast.maxPerSecond()
	if fastMost <= 2*limit {
		t.Errorf("the unlimited endpoint got at most %d requests in a second, near the other's limit %d: it was held up",
			fastMost, limit)
	}
	t.Logf("limited endpoint: %d events, at most %d in a second, last at %s; unlimited: %d events, at most %d in a second, last at %s",
		wantSlow, most, slowLast.Format(time.StampMilli), fast.distinct(), fastMost, fastLast.Format(time.StampMilli))
}
