package bench

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// breakerLimit is the rate limit of the breaker scenario's limited endpoint.
const breakerLimit = 50

// breaker: 8 healthy endpoints, with one dead endpoint (every request
// answered 500 at once) and one endpoint limited to breakerLimit/s beside
// them, against the same 8 beside two more healthy endpoints (the same
// fan-out: ten deliveries written per event). The dead endpoint's breaker
// opens after a few failures and holds its deliveries; the limited
// endpoint's deliveries wait in its pacer. Neither should cost the healthy
// endpoints their rate.
func (r *run) breaker(ctx context.Context) (Result, error) {
	n := max(r.opt.Events/8, 1)
	var with struct {
		seconds          float64
		deadRequests     int64
		limitedDelivered int64
	}
	measure := func(name string, beside bool) (float64, error) {
		var healthy []string
		for i := range 8 {
			healthy = append(healthy, fmt.Sprintf("/%s/%d", name, i))
		}
		paths := healthy
		dead, limited := "/"+name+"/dead", "/"+name+"/limited"
		if !beside {
			paths = append(slices.Clone(healthy), "/"+name+"/more0", "/"+name+"/more1")
		}
		if beside {
			paths = append(paths, dead)
			r.recv.failPath.Store(&dead)
			defer r.recv.failPath.Store(nil)
		}
		pid, eps, err := r.project(ctx, name, paths...)
		if err != nil {
			return 0, err
		}
		if beside {
			var ep struct{ ID string }
			if err := r.api.post(r.base(0)+"/v1/projects/"+pid+"/endpoints",
				map[string]any{"url": r.recv.URL(limited), "rate_limit_per_second": breakerLimit}, &ep); err != nil {
				return 0, err
			}
			eps = append(eps, ep.ID)
			defer func() {
				// Their backlogs must not weigh on what follows: deleted,
				// and what the pacer had claimed already let through (it
				// is signed with this project's secret, which the
				// receiver stops accepting with the next project).
				for _, id := range eps[len(eps)-2:] {
					_, _ = r.api.do("DELETE", r.base(0)+"/v1/projects/"+pid+"/endpoints/"+id, nil, nil)
				}
				r.waitQuiet(ctx, limited, time.Minute)
			}()
		}
		want := int64(n * len(healthy))
		start := time.Now()
		if err := r.publishAll(ctx, pid, n); err != nil {
			return 0, err
		}
		end, err := r.waitPaths(ctx, healthy, want, 10*time.Minute)
		if err != nil {
			return 0, err
		}
		if beside {
			with.seconds = end.Sub(start).Seconds()
			with.deadRequests = r.recv.pathCount(dead)
			with.limitedDelivered = r.recv.pathCount(limited)
		}
		return float64(want) / end.Sub(start).Seconds(), nil
	}
	// Measured alone before and after, and averaged, as isolation does.
	before, err := measure("brk-ref", false)
	if err != nil {
		return Result{}, err
	}
	withOthers, err := measure("brk", true)
	if err != nil {
		return Result{}, err
	}
	after, err := measure("brk-ref2", false)
	if err != nil {
		return Result{}, err
	}
	alone := (before + after) / 2
	return Result{
		Scenario: "breaker+limits (8 healthy + 1 dead + 1 limited)", Events: n, Deliveries: int64(n * 8),
		Seconds: with.seconds, PerSecond: withOthers, Baseline: alone, Ratio: withOthers / alone,
		Duplicates: r.recv.duplicates(), BadSigs: r.recv.bad.Load(),
		Note: fmt.Sprintf("the 8 healthy endpoints' deliveries/s beside a dead endpoint (500s) and one limited to %d/s, vs. beside two more healthy endpoints (%.0f/s, mean of one run before and one after; same fan-out); 'vs baseline' here is that ratio; the dead endpoint got %d requests for %d events, the limited one %d deliveries in %.1f s",
			breakerLimit, alone, with.deadRequests, n, with.limitedDelivered, with.seconds),
		Extra: map[string]float64{"healthy_ref_before_per_second": before, "healthy_ref_after_per_second": after,
			"healthy_beside_per_second": withOthers, "dead_requests": float64(with.deadRequests),
			"limited_delivered": float64(with.limitedDelivered)},
	}, nil
}

// waitPaths waits until the receiver counted want deliveries on paths.
func (r *run) waitPaths(ctx context.Context, paths []string, want int64, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	// A poll of another process's progress, on the wall clock.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		var got int64
		for _, p := range paths {
			got += r.recv.pathCount(p)
		}
		if got >= want {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("only %d of %d deliveries arrived within %v", got, want, limit)
		}
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		<-tick.C
	}
}

// waitQuiet waits until no delivery has arrived on path for a second.
func (r *run) waitQuiet(ctx context.Context, path string, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, since := r.recv.pathCount(path), time.Now()
	for time.Since(since) < time.Second && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		if n := r.recv.pathCount(path); n != last {
			last, since = n, time.Now()
		}
	}
}

// pathCount is the deliveries counted on path.
func (r *receiver) pathCount(path string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.path[path]
}
