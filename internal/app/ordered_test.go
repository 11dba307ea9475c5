package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/pgtest"
)

// Ordered delivery end to end: 1,000 events over 50 ordering keys, and
// 100 without a key, published in batches to a project with an ordered
// endpoint and an unordered one, whose receivers fail every fifth request.
// On a fake clock, so retries come due only when the test moves it:
//
//   - before the clock ever moves, the unordered endpoint has had a first
//     request for every event, and the ordered one for every event without
//     a key and the first of every key: nothing of theirs waits for
//     another event's retry;
//   - the ordered endpoint gets no event of a key before every earlier
//     event of that key was answered 2xx;
//   - in the end every delivery succeeded.
func TestOrderedDeliverySQLite(t *testing.T) {
	runOrdered(t, 1, filepath.Join(t.TempDir(), "hookd.db"))
}

func TestOrderedDeliveryPostgres(t *testing.T) {
	runOrdered(t, 2, pgtest.NewDatabase(t))
}

const (
	orderedKeys      = 50
	orderedPerKey    = 20 // 1,000 keyed events
	orderedUnkeyed   = 100
	orderedBatchSize = 100
)

// orderedReceiver fails every fifth request it gets and checks, for an
// ordered endpoint, that no event of a key comes before every earlier one
// of its key was answered 2xx.
type orderedReceiver struct {
	t       *testing.T
	clk     clock.Clock
	ordered bool
	srv     *httptest.Server

	mu        sync.Mutex
	requests  int
	firstAt   map[string]time.Time // event id: when its first request came (fake clock)
	ok        map[string]bool      // event ids answered 2xx
	keyOf     map[string]orderedEv // event id: its key and place
	byKey     map[string][]string  // key: its events' ids, in publish order
	violation []string
}

type orderedEv struct {
	key string
	n   int
}

func newOrderedReceiver(t *testing.T, clk clock.Clock, ordered bool) *orderedReceiver {
	r := &orderedReceiver{t: t, clk: clk, ordered: ordered, firstAt: map[string]time.Time{}, ok: map[string]bool{},
		keyOf: map[string]orderedEv{}, byKey: map[string][]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *orderedReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var ev struct{ ID string }
	_ = json.Unmarshal(body, &ev)
	r.mu.Lock()
	r.requests++
	fail := r.requests%5 == 0
	if _, seen := r.firstAt[ev.ID]; !seen {
		r.firstAt[ev.ID] = r.clk.Now()
	}
	if e, ok := r.keyOf[ev.ID]; ok && r.ordered && e.key != "" {
		for _, before := range r.byKey[e.key][:e.n] {
			if !r.ok[before] {
				r.violation = append(r.violation, fmt.Sprintf("key %s: event %d (%s) sent before event %s succeeded", e.key, e.n, ev.ID, before))
			}
		}
	}
	if !fail {
		r.ok[ev.ID] = true // before answering: the next may come as soon as it is answered
	}
	r.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// progress reports how many events had a first request, how many were
// answered 2xx, and whether every one in ids had a first request.
func (r *orderedReceiver) progress(ids []string) (first, ok int, all bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	all = true
	for _, id := range ids {
		if _, seen := r.firstAt[id]; !seen {
			all = false
		}
	}
	return len(r.firstAt), len(r.ok), all
}

func runOrdered(t *testing.T, nodes int, db string) {
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	var ns []*modelNode
	for range nodes {
		n := &modelNode{cfg: app.Config{
			Addr:                 "127.0.0.1:0",
			DB:                   db,
			AdminKey:             testAdminKey,
			AllowPrivateNetworks: true,
			// Long enough that a delivery never fails for good here.
			RetrySchedule: []time.Duration{time.Second, time.Second, time.Second, time.Second, time.Second,
				time.Second, time.Second, time.Second, time.Second},
			NoJitter:     true,
			Timeout:      5 * time.Second,
			PollInterval: 50 * time.Millisecond,
			Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
			Clock:        clk,
		}}
		n.start(t)
		t.Cleanup(func() { n.stop() })
		ns = append(ns, n)
	}
	s := ns[0].srv
	p := s.newProject("ordered")
	ordRecv := newOrderedReceiver(t, clk, true)
	freeRecv := newOrderedReceiver(t, clk, false)
	var ep struct{ ID string }
	s.must(201, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{"url": ordRecv.srv.URL, "ordered": true}, &ep)
	s.newEndpoint(p, freeRecv.srv.URL)

	// The events, keys interleaved and the unkeyed ones among them.
	type pub struct {
		key string
		n   int
	}
	var pubs []pub
	every := orderedKeys * orderedPerKey / orderedUnkeyed
	for i := range orderedPerKey {
		for k := range orderedKeys {
			pubs = append(pubs, pub{fmt.Sprintf("key-%02d", k), i})
			if (i*orderedKeys+k+1)%every == 0 {
				pubs = append(pubs, pub{"", 0})
			}
		}
	}
	// Published with the clock still: the event ids are made in one
	// millisecond, in publish order (ids.New is monotonic within one).
	// The receivers learn the ids as the answers come, so each batch is
	// published while the receivers' lock is held: no request of it can
	// be checked before they know it.
	var all, unkeyed, heads []string
	for b := 0; b < len(pubs); b += orderedBatchSize {
		batch := pubs[b:min(b+orderedBatchSize, len(pubs))]
		var events []map[string]any
		for _, e := range batch {
			ev := map[string]any{"type": "order.changed", "data": map[string]any{"key": e.key, "n": e.n}}
			if e.key != "" {
				ev["ordering_key"] = e.key
			}
			events = append(events, ev)
		}
		var out struct {
			Items []struct {
				Status int `json:"status"`
				Event  struct {
					ID string `json:"id"`
				} `json:"event"`
			} `json:"items"`
		}
		ordRecv.mu.Lock()
		freeRecv.mu.Lock()
		code, raw := ns[(b/orderedBatchSize)%len(ns)].srv.call("POST", "/v1/projects/"+p.ID+"/events/batch", p.Key,
			map[string]any{"events": events}, &out)
		if code != 200 || len(out.Items) != len(batch) {
			freeRecv.mu.Unlock()
			ordRecv.mu.Unlock()
			t.Fatalf("batch: %d %s", code, raw)
		}
		for i, it := range out.Items {
			if it.Status != 202 {
				t.Fatalf("batch item %d: %d", i, it.Status)
			}
			e := batch[i]
			for _, r := range []*orderedReceiver{ordRecv, freeRecv} {
				r.keyOf[it.Event.ID] = orderedEv{e.key, e.n}
				if e.key != "" {
					r.byKey[e.key] = append(r.byKey[e.key], it.Event.ID)
				}
			}
			all = append(all, it.Event.ID)
			switch {
			case e.key == "":
				unkeyed = append(unkeyed, it.Event.ID)
			case e.n == 0:
				heads = append(heads, it.Event.ID)
			}
		}
		freeRecv.mu.Unlock()
		ordRecv.mu.Unlock()
	}
	if len(all) != orderedKeys*orderedPerKey+orderedUnkeyed {
		t.Fatalf("published %d events", len(all))
	}

	// Not held up: without the clock moving, every event reaches the
	// unordered endpoint, and the unkeyed ones and each key's first the
	// ordered one. (Polling real time only bounds a broken run.)
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, _, freeAll := freeRecv.progress(all)
		_, _, ordUnkeyed := ordRecv.progress(append(append([]string(nil), unkeyed...), heads...))
		if freeAll && ordUnkeyed {
			break
		}
		if time.Now().After(deadline) {
			f1, _, _ := freeRecv.progress(all)
			o1, _, _ := ordRecv.progress(nil)
			t.Fatalf("with the clock still, the unordered endpoint got %d of %d events and the ordered one %d (the unkeyed ones and each key's first not all)",
				f1, len(all), o1)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := clk.Now(); !got.Equal(start) {
		t.Fatalf("the clock moved to %s", got)
	}

	// Then retries: move the clock a second whenever the nodes are idle,
	// until both receivers answered 2xx to every event.
	deadline = time.Now().Add(5 * time.Minute)
	moves := 0
	for {
		_, ordOK, _ := ordRecv.progress(nil)
		_, freeOK, _ := freeRecv.progress(nil)
		if ordOK == len(all) && freeOK == len(all) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d moves of the clock, the ordered endpoint has %d of %d events, the unordered %d", moves, ordOK, len(all), freeOK)
		}
		idle := true
		for _, n := range ns {
			idle = idle && n.srv.settled()
		}
		if idle {
			clk.Advance(time.Second)
			moves++
		}
		time.Sleep(5 * time.Millisecond)
	}
	ordRecv.mu.Lock()
	violations := ordRecv.violation
	requests := ordRecv.requests
	ordRecv.mu.Unlock()
	for _, v := range violations {
		t.Error(v)
	}
	t.Logf("%d nodes: %d requests to the ordered endpoint, %d clock moves", nodes, requests, moves)

	// The log agrees: every delivery succeeded.
	for _, status := range []string{"pending", "retrying", "delivering", "failed", "cancelled"} {
		var l struct{ Items []delivery }
		s.must(200, "GET", "/v1/projects/"+p.ID+"/deliveries?limit=10&status="+status, p.Key, nil, &l)
		if len(l.Items) != 0 {
			t.Errorf("%d deliveries %s at the end, want none: %+v", len(l.Items), status, l.Items[0])
		}
	}
}

// TestOrderedFailedForGood: when an event of a key fails for good, the
// key's next event follows, and the log says so.
func TestOrderedFailedForGood(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := start(t, func(c *app.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	var mu sync.Mutex
	var order []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var ev struct {
			Data struct{ Fail bool }
		}
		body, _ := io.ReadAll(req.Body)
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		order = append(order, req.Header.Get("webhook-id"))
		mu.Unlock()
		if ev.Data.Fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(recv.Close)
	p := s.newProject("ordered")
	var ep struct{ ID string }
	s.must(201, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{"url": recv.URL, "ordered": true}, &ep)
	var first, second published
	s.must(202, "POST", "/v1/projects/"+p.ID+"/events", p.Key,
		map[string]any{"type": "order.changed", "data": map[string]any{"fail": true}, "ordering_key": "o-1"}, &first)
	s.must(202, "POST", "/v1/projects/"+p.ID+"/events", p.Key,
		map[string]any{"type": "order.changed", "data": map[string]any{}, "ordering_key": "o-1"}, &second)
	d := s.waitDelivery(p, second.Deliveries[0].ID, finished)
	if d.Status != "succeeded" {
		t.Fatalf("the second event's delivery %+v, want succeeded", d)
	}
	if f := s.waitDelivery(p, first.Deliveries[0].ID, finished); f.Status != "failed" || f.AttemptCount != 3 {
		t.Fatalf("the first event's delivery %+v, want failed after 3 attempts", f)
	}
	mu.Lock()
	got := slices.Clone(order)
	mu.Unlock()
	want := []string{first.ID, first.ID, first.ID, second.ID}
	if !slices.Equal(got, want) {
		t.Errorf("the receiver got %v, want the first event three times, then the second", got)
	}
	if l := logs.String(); !strings.Contains(l, "ordered delivery failed for good") || !strings.Contains(l, first.Deliveries[0].ID) ||
		!strings.Contains(l, "ordering_key=o-1") {
		t.Errorf("the log does not say the key's first event failed for good:\n%s", l)
	}
}
