package bench

import (
	"context"
	"fmt"
	"time"
)

// breakerLimit is the rate limit of the breaker scenario's limited endpoint.
const breakerLimit = 50

// breaker: 8 healthy endpoints, with one dead endpoint (every request
// answered 500 at once) and one endpoint limited to breakerLimit/s beside
// them, against the 8 healthy endpoints alone. The dead endpoint's breaker
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
				// Their backlogs must not weigh on what follows.
				for _, id := range eps[len(eps)-2:] {
					_, _ = r.api.do("DELETE", r.base(0)+"/v1/projects/"+pid+"/endpoints/"+id, nil, nil)
				}
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
		Note: fmt.Sprintf("healthy deliveries/s beside a dead endpoint (500s) and one limited to %d/s, vs. the 8 alone (%.0f/s, mean of one run before and one after); 'vs baseline' here is that ratio; the dead endpoint got %d requests for %d events, the limited one %d deliveries in %.1f s",
			breakerLimit, alone, with.deadRequests, n, with.limitedDelivered, with.seconds),
		Extra: map[string]float64{"healthy_alone_before_per_second": before, "healthy_alone_after_per_second": after,
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

// pathCount is the deliveries counted on path.
func (r *receiver) pathCount(path string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.path[path]
}
