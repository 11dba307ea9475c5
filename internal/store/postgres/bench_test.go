package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
)

// The benchmarks run on the test server (fsync off), so their numbers
// compare versions of this driver rather than predict production.

const benchBatch = 100

// backlog publishes n events fanning out to one endpoint each, due at base.
func backlog(b *testing.B, db *postgres.DB, projectID string, n int) {
	b.Helper()
	for n > 0 {
		k := min(n, 500)
		publish(b, db, events(projectID, k, base))
		n -= k
	}
}

func BenchmarkPublish(b *testing.B) {
	db := open(b)
	p, _ := setup(b, db, 3)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := db.Publish(ctx, events(p.ID, benchBatch, base), time.Time{}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkClaim(b *testing.B) {
	db := open(b)
	p, _ := setup(b, db, 1)
	backlog(b, db, p.ID, b.N*benchBatch)
	claimEach(b, db, base)
}

// claimEach claims benchBatch deliveries at now b.N times, timed from
// here, and reports the rate; every claim must find benchBatch.
func claimEach(b *testing.B, db *postgres.DB, now time.Time) {
	b.Helper()
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		cs, err := db.Claim(ctx, store.ClaimParams{Now: now, Limit: benchBatch, Lease: time.Hour, Owner: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if len(cs) != benchBatch {
			b.Fatalf("claimed %d, want %d", len(cs), benchBatch)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "deliveries/s")
}

func BenchmarkComplete(b *testing.B) {
	db := open(b)
	p, _ := setup(b, db, 1)
	backlog(b, db, p.ID, b.N*benchBatch)
	ctx := context.Background()
	var claimed []store.Claimed
	for len(claimed) < b.N*benchBatch {
		cs, err := db.Claim(ctx, store.ClaimParams{Now: base, Limit: 1000, Lease: time.Hour, Owner: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		claimed = append(claimed, cs...)
	}
	done := base.Add(time.Second)
	outcomes := make([]store.Outcome, len(claimed))
	for i, c := range claimed {
		outcomes[i] = store.Succeeded(c.Delivery, store.Attempt{Number: 1, StartedAt: base, Duration: 40 * time.Millisecond,
			StatusCode: 200, ResponseHeaders: map[string][]string{"Content-Type": {"application/json"}},
			ResponseBody: `{"ok":true}`}, done)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := db.Complete(ctx, outcomes[i*benchBatch:(i+1)*benchBatch]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkClaimSkipping claims for one endpoint while another, skipped
// (at its concurrency limit), has a backlog of 100,000 due deliveries that
// come first in due order: what a dead endpoint's backlog costs the claims
// of every other endpoint.
func BenchmarkClaimSkipping(b *testing.B) {
	db := open(b)
	p, eps := setup(b, db, 1)
	backlog(b, db, p.ID, 100_000)
	ctx := context.Background()
	other := store.Endpoint{ID: ids.New(ids.Endpoint, base), ProjectID: p.ID, URL: "https://receiver.example/other",
		Enabled: true, CreatedAt: base, UpdatedAt: base}
	if err := db.CreateEndpoint(ctx, other); err != nil {
		b.Fatal(err)
	}
	later := base.Add(time.Second)
	for n := b.N * benchBatch; n > 0; n -= 500 {
		publish(b, db, events(p.ID, min(n, 500), later))
	}
	skip := []string{eps[0].ID}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cs, err := db.Claim(ctx, store.ClaimParams{Now: later, Limit: benchBatch, Lease: time.Hour, Owner: "bench", SkipEndpoints: skip})
		if err != nil {
			b.Fatal(err)
		}
		if len(cs) != benchBatch {
			b.Fatalf("claimed %d, want %d", len(cs), benchBatch)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkClaimBehindBlockedKey claims another project's due deliveries
// while an ordered endpoint has a backlog of due deliveries of one key,
// all waiting behind the key's first, which waits for its retry: what one
// tenant's stuck ordering key costs every other tenant's claims (the
// SQLite driver's benchmark of the same name has the same shape).
func BenchmarkClaimBehindBlockedKey(b *testing.B) {
	for _, blocked := range []int{0, 1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("blocked=%d", blocked), func(b *testing.B) {
			db := open(b)
			ctx := context.Background()
			p, eps := setup(b, db, 1)
			ep := eps[0]
			ep.Ordered = true
			if err := db.UpdateEndpoint(ctx, ep); err != nil {
				b.Fatal(err)
			}
			keyed := func(n int, at time.Time) []store.Event {
				evs := events(p.ID, n, at)
				for i := range evs {
					evs[i].OrderingKey = "k"
				}
				return evs
			}
			publish(b, db, keyed(1, base))
			cs, err := db.Claim(ctx, store.ClaimParams{Now: base, Limit: 10, Lease: time.Hour, Owner: "bench"})
			if err != nil || len(cs) != 1 {
				b.Fatalf("claimed %d (%v), want the key's first", len(cs), err)
			}
			at := base.Add(time.Millisecond)
			if _, err := db.Complete(ctx, []store.Outcome{store.RetryAt(cs[0].Delivery, store.Attempt{Number: 1, StartedAt: at, StatusCode: 500}, base.Add(24*time.Hour), at)}); err != nil {
				b.Fatal(err)
			}
			for n := blocked; n > 0; n -= 500 {
				publish(b, db, keyed(min(n, 500), at))
			}
			other, oeps := setup(b, db, 1)
			later := base.Add(time.Second)
			for n := benchBatch * (b.N + 1); n > 0; n -= 500 {
				publish(b, db, events(other.ID, min(n, 500), later))
			}
			now := later.Add(time.Second)
			// The first claims after the backlog came set it aside, a
			// bounded part each (the slowest is reported apart); those
			// measured are the claims of every moment after.
			var first time.Duration
			for range blocked/1024 + 1 {
				start := time.Now()
				cs, err := db.Claim(ctx, store.ClaimParams{Now: now, Limit: benchBatch, Lease: time.Hour, Owner: "bench", SkipEndpoints: []string{oeps[0].ID}})
				first = max(first, time.Since(start))
				if err != nil || len(cs) != 0 {
					b.Fatalf("warm-up claim: %d claimed, %v", len(cs), err)
				}
			}
			claimEach(b, db, now)
			b.ReportMetric(float64(first.Microseconds())/1000, "slowest-warm-up-claim-ms")
		})
	}
}
