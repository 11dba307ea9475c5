package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// Benchmarks of the hot paths on a real file, with the fsync of every
// durable commit as in production. They print numbers and assert nothing
// about speed.

// BenchmarkPublish publishes batches of 100 events to a project with one
// endpoint: one op is one Publish call (one transaction).
func BenchmarkPublish(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			db := openTemp(b)
			p := seed(b, db, 0)
			ctx := context.Background()
			body := []byte(`{"id":"evt_x","type":"tester.created","timestamp":"2026-11-26T12:00:00Z","data":{"name":"Ada","plan":"pro"}}`)
			batch := make([]store.Event, size)
			b.ResetTimer()
			for i := range b.N {
				at := base.Add(time.Duration(i) * time.Millisecond)
				for j := range batch {
					batch[j] = store.Event{ID: ids.New(ids.Event, at), ProjectID: p.ID, Type: "tester.created", Body: body, CreatedAt: at}
				}
				if _, err := db.Publish(ctx, batch, time.Time{}, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkClaim claims 10 deliveries per op from a backlog of pending
// ones; the backlog grows with b.N so that every op finds work.
func BenchmarkClaim(b *testing.B) {
	for _, backlog := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("backlog=%d", backlog), func(b *testing.B) {
			db := openTemp(b)
			seed(b, db, backlog+10*b.N)
			claimEach(b, db, base.Add(time.Hour), 10)
		})
	}
}

// claimEach claims limit deliveries at now b.N times, timed from here,
// and reports the rate; every claim must find limit.
func claimEach(b *testing.B, db *DB, now time.Time, limit int) {
	b.Helper()
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		cs, err := db.Claim(ctx, store.ClaimParams{Now: now, Limit: limit, Lease: time.Hour, Owner: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if len(cs) != limit {
			b.Fatalf("claimed %d, want %d", len(cs), limit)
		}
	}
	b.ReportMetric(float64(b.N*limit)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkComplete records 10 successful attempts per op (one Complete
// call), for deliveries claimed beforehand.
func BenchmarkComplete(b *testing.B) {
	db := openTemp(b)
	ctx := context.Background()
	seed(b, db, 10*b.N)
	now := base.Add(time.Hour)
	var claimed []store.Claimed
	for len(claimed) < 10*b.N {
		cs, err := db.Claim(ctx, store.ClaimParams{Now: now, Limit: 1000, Lease: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		claimed = append(claimed, cs...)
	}
	outcomes := make([]store.Outcome, 10)
	b.ResetTimer()
	for i := range b.N {
		for j := range outcomes {
			c := claimed[i*10+j]
			outcomes[j] = store.Succeeded(c.Delivery, store.Attempt{
				Number:          1,
				StartedAt:       now,
				Duration:        42 * time.Millisecond,
				StatusCode:      200,
				ResponseHeaders: map[string][]string{"Content-Type": {"application/json"}},
				ResponseBody:    `{"ok":true}`,
			}, now)
		}
		if _, err := db.Complete(ctx, outcomes); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkLifecycle is what one delivered event costs the single writer
// in the common case: a Publish of a batch of events whose deliveries are
// claimed in the same transaction (store.DirectClaim), then one Complete
// recording their successful attempts. One op is one event; the batch
// sizes show the fixed cost of a transaction (its commit writes the pages
// it changed, a dozen B-trees' right edges) against the cost per event.
func BenchmarkLifecycle(b *testing.B) {
	for _, size := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			db := openTemp(b)
			// Publish and Complete as two transactions, one after the
			// other: no waiting for a next publish that never comes.
			db.combineWait = 0
			p := seed(b, db, 0)
			ctx := context.Background()
			body := []byte(`{"type":"bench.event","timestamp":"2026-11-26T12:00:00Z","data":{"i":1234,"t":1764158400000000000}}`)
			direct := &store.DirectClaim{Lease: time.Hour, Owner: "bench", Take: func(string) bool { return true }}
			batch := make([]store.Event, size)
			outcomes := make([]store.Outcome, 0, size)
			b.ResetTimer()
			for i := 0; i < b.N; i += size {
				at := base.Add(time.Duration(i) * time.Millisecond)
				for j := range batch {
					batch[j] = store.Event{ID: ids.New(ids.Event, at), ProjectID: p.ID, Type: "bench.event", Body: body, CreatedAt: at}
				}
				direct.Now = at
				res, err := db.Publish(ctx, batch, time.Time{}, direct)
				if err != nil {
					b.Fatal(err)
				}
				outcomes = outcomes[:0]
				for _, r := range res {
					for _, c := range r.Claimed {
						outcomes = append(outcomes, store.Succeeded(c.Delivery, store.Attempt{
							Number: 1, StartedAt: at, Duration: time.Millisecond, StatusCode: 200,
							ResponseHeaders: map[string][]string{"Content-Type": {"text/plain"}}, ResponseBody: "ok",
						}, at))
					}
				}
				if len(outcomes) != size {
					b.Fatalf("claimed %d, want %d", len(outcomes), size)
				}
				if _, err := db.Complete(ctx, outcomes); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkClaimBehindBlockedKey claims another project's due deliveries
// while an ordered endpoint has a backlog of due deliveries of one key,
// all waiting behind the key's first, which waits for its retry: what one
// tenant's stuck ordering key costs every other tenant's claims. The first
// claims after the backlog came set it aside, a bounded part each; the
// slowest of them is reported apart, and the claims measured are those of
// every moment after.
func BenchmarkClaimBehindBlockedKey(b *testing.B) {
	for _, backlog := range []int{0, 1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("blocked=%d", backlog), func(b *testing.B) {
			db := openTemp(b)
			ctx := context.Background()
			stuck := seed(b, db, 0)
			eps, err := db.ListEndpoints(ctx, stuck.ID, store.Page{Limit: 1})
			if err != nil || len(eps) != 1 {
				b.Fatal(err)
			}
			ep := eps[0]
			ep.Ordered = true
			if err := db.UpdateEndpoint(ctx, ep); err != nil {
				b.Fatal(err)
			}
			body := []byte(`{"type":"t.a","data":{"n":1}}`)
			keyed := func(at time.Time) store.Event {
				return store.Event{ID: ids.New(ids.Event, at), ProjectID: stuck.ID, Type: "t.a", Body: body, CreatedAt: at, OrderingKey: "k"}
			}
			if _, err := db.Publish(ctx, []store.Event{keyed(base)}, time.Time{}, nil); err != nil {
				b.Fatal(err)
			}
			cs, err := db.Claim(ctx, store.ClaimParams{Now: base, Limit: 10, Lease: time.Hour, Owner: "bench"})
			if err != nil || len(cs) != 1 {
				b.Fatalf("claimed %d (%v), want the key's first", len(cs), err)
			}
			at := base.Add(time.Millisecond)
			if _, err := db.Complete(ctx, []store.Outcome{store.RetryAt(cs[0].Delivery, store.Attempt{Number: 1, StartedAt: at, StatusCode: 500}, base.Add(24*time.Hour), at)}); err != nil {
				b.Fatal(err)
			}
			for done := 0; done < backlog; {
				batch := make([]store.Event, 0, min(1000, backlog-done))
				for range cap(batch) {
					batch = append(batch, keyed(base.Add(time.Duration(2+done)*time.Microsecond)))
					done++
				}
				if _, err := db.Publish(ctx, batch, time.Time{}, nil); err != nil {
					b.Fatal(err)
				}
			}
			other := base.Add(time.Second)
			o := seed(b, db, 0)
			oeps, err := db.ListEndpoints(ctx, o.ID, store.Page{Limit: 1})
			if err != nil || len(oeps) != 1 {
				b.Fatal(err)
			}
			for n := 10 * (b.N + 1); n > 0; n -= 1000 {
				batch := make([]store.Event, 0, min(1000, n))
				for range cap(batch) {
					batch = append(batch, store.Event{ID: ids.New(ids.Event, other), ProjectID: o.ID, Type: "t.a", Body: body, CreatedAt: other})
				}
				if _, err := db.Publish(ctx, batch, time.Time{}, nil); err != nil {
					b.Fatal(err)
				}
			}
			now := other.Add(time.Second)
			var first time.Duration
			for range backlog/parkBudget + 1 {
				start := time.Now()
				cs, err := db.Claim(ctx, store.ClaimParams{Now: now, Limit: 10, Lease: time.Hour, Owner: "bench", SkipEndpoints: []string{oeps[0].ID}})
				first = max(first, time.Since(start))
				if err != nil || len(cs) != 0 {
					b.Fatalf("warm-up claim: %d claimed, %v", len(cs), err)
				}
			}
			claimEach(b, db, now, 10)
			b.ReportMetric(float64(first.Microseconds())/1000, "slowest-warm-up-claim-ms")
		})
	}
}
