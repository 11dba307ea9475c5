package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// The ordered scenario's shape, from the issue: 1,000 events over 50
// ordering keys, through a receiver that fails one request in five.
const (
	orderedEvents = 1000
	orderedKeys   = 50
)

// ordered: the same 1,000 keyed events (50 keys, 20 each, published one
// key after another's turn as a publisher would) first to one unordered
// endpoint alone, then to an unordered endpoint beside an ordered one.
// The receiver fails the first attempt of every fifth event on both.
// Reported: how long each endpoint took to have every event, so that
// what ordering costs the ordered endpoint (each key waits out its
// failed events' retries, one after another) and what it costs the
// unordered endpoint beside it (nothing, if keys and endpoints are
// independent) are both seen; and the keyed events that reached the
// ordered endpoint before an earlier one of their key (must be 0).
// With hookd's default schedule a failed event is retried after 5 s;
// `--hookd-args "--retry-schedule 1s,1s,1s"` shortens the run.
func (r *run) ordered(ctx context.Context) (Result, error) {
	if err := r.ensureNodes(ctx); err != nil {
		return Result{}, err
	}
	prefix := "/ordered/"
	r.recv.flakyPrefix.Store(&prefix)
	defer r.recv.flakyPrefix.Store(nil)

	phase := func(name string, ordered bool) (plain, ord time.Duration, err error) {
		paths := []string{prefix + name + "/plain"}
		if ordered {
			paths = append(paths, prefix+name+"/ordered")
		}
		pid, eps, err := r.project(ctx, "ordered "+name, paths[0])
		if err != nil {
			return 0, 0, err
		}
		if ordered {
			var ep struct{ ID string }
			if err := r.api.post(r.base(0)+"/v1/projects/"+pid+"/endpoints",
				map[string]any{"url": r.recv.URL(paths[1]), "ordered": true}, &ep); err != nil {
				return 0, 0, err
			}
			eps = append(eps, ep.ID)
		}
		r.recv.flaky.reset()
		start := time.Now()
		if err := r.publishKeyed(ctx, pid); err != nil {
			return 0, 0, err
		}
		var wg sync.WaitGroup
		took := make([]time.Duration, len(paths))
		errs := make([]error, len(paths))
		for i, p := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				end, err := r.waitPaths(ctx, []string{p}, orderedEvents, 10*time.Minute)
				took[i], errs[i] = end.Sub(start), err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return 0, 0, err
			}
		}
		// Their retries must not weigh on what follows.
		for _, id := range eps {
			_, _ = r.api.do("DELETE", r.base(0)+"/v1/projects/"+pid+"/endpoints/"+id, nil, nil)
		}
		if ordered {
			return took[0], took[1], nil
		}
		return took[0], 0, nil
	}
	alone, _, err := phase("alone", false)
	if err != nil {
		return Result{}, err
	}
	plain, ord, err := phase("beside", true)
	if err != nil {
		return Result{}, err
	}
	res := Result{
		Scenario: "ordered (50 keys)", Events: orderedEvents, Deliveries: 3 * orderedEvents,
		Seconds: ord.Seconds(), PerSecond: orderedEvents / ord.Seconds(),
		Duplicates: r.recv.duplicates(), BadSigs: r.recv.bad.Load(),
		Extra: map[string]float64{
			"unordered_alone_seconds":  alone.Seconds(),
			"unordered_beside_seconds": plain.Seconds(),
			"ordered_seconds":          ord.Seconds(),
			"out_of_order":             float64(r.recv.flaky.outOfOrder()),
		},
	}
	res.Note = fmt.Sprintf("every fifth event's first attempt answered 500; all %d events reached the unordered endpoint in %.2f s alone and %.2f s beside the ordered one, the ordered endpoint in %.2f s (rate above); keyed events out of order: %d",
		orderedEvents, alone.Seconds(), plain.Seconds(), ord.Seconds(), r.recv.flaky.outOfOrder())
	return res, nil
}

// publishKeyed publishes orderedEvents events over orderedKeys keys: the
// n-th event of key k carries "k", "n" and "i" (its number overall), by
// the configured publishers, each key's events one after another (a key
// belongs to one publisher, as an order's events come from one place).
func (r *run) publishKeyed(ctx context.Context, pid string) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for g := range min(r.opt.Concurrency, orderedKeys) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := r.base(g) + "/v1/projects/" + pid + "/events"
			for ctx.Err() == nil {
				k := int(next.Add(1)) - 1
				if k >= orderedKeys {
					return
				}
				for n := range orderedEvents / orderedKeys {
					i := k*(orderedEvents/orderedKeys) + n // every key has its fifth events fail once
					body := fmt.Appendf(nil, `{"type":"bench.ordered","ordering_key":"key-%d","data":{"k":"key-%d","n":%d,"i":%d,"t":%d}}`,
						k, k, n, i, time.Now().UnixNano())
					if _, err := r.api.do("POST", url, body, nil); err != nil {
						once.Do(func() { firstErr = err })
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
