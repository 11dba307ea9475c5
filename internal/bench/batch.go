package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// batchSizes are the batch scenario's sizes: a single event through the
// batch route (to compare with steady), a small and a full batch.
var batchSizes = []int{1, 10, 100}

// batch: steady's load, Events events by Concurrency publishers, but sent
// through POST …/events/batch in batches of each size of batchSizes; one
// result per size, with the CPU per event and how many events each
// durable commit held.
func (r *run) batch(ctx context.Context) ([]Result, error) {
	var out []Result
	for _, size := range batchSizes {
		path := fmt.Sprintf("/batch-%d", size)
		pid, _, err := r.project(ctx, fmt.Sprintf("batch %d", size), path)
		if err != nil {
			return out, err
		}
		n := r.opt.Events
		ev0, commits0 := r.commits()
		cpu0 := r.cpu()
		start := time.Now()
		if err := r.publishBatches(ctx, pid, n, size); err != nil {
			return out, err
		}
		published := time.Since(start)
		end, err := r.waitReceived(ctx, int64(n), 10*time.Minute)
		if err != nil {
			return out, err
		}
		el := end.Sub(start)
		cpu := r.cpu() - cpu0
		res := Result{
			Scenario: fmt.Sprintf("batch of %d", size), Events: n, Deliveries: r.recv.got.Load(), Seconds: el.Seconds(),
			PerSecond: float64(n) / el.Seconds(), Baseline: r.baseline, Ratio: float64(n) / el.Seconds() / r.baseline,
			CPUPer1000: cpu.Seconds() / float64(n) * 1000,
			Duplicates: r.recv.duplicates(), BadSigs: r.recv.bad.Load(),
			Latency: summarise(r.recv.latencies()),
			Extra:   map[string]float64{"publish_per_second": float64(n) / published.Seconds()},
		}
		if ev1, commits1 := r.commits(); commits1 > commits0 {
			res.Extra["events_per_commit"] = (ev1 - ev0) / (commits1 - commits0)
		}
		res.Note = "publishers flat out, as in steady"
		out = append(out, res)
	}
	return out, nil
}

// publishBatches publishes n events in batches of size with the configured
// concurrency and returns when all were accepted; an event answered other
// than 202 fails the run.
func (r *run) publishBatches(ctx context.Context, pid string, n, size int) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	fail := func(err error) { once.Do(func() { firstErr = err }) }
	var wg sync.WaitGroup
	for g := range r.opt.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := r.base(g) + "/v1/projects/" + pid + "/events/batch"
			var b strings.Builder
			for ctx.Err() == nil {
				last := next.Add(int64(size))
				first := last - int64(size) + 1
				if first > int64(n) {
					return
				}
				last = min(last, int64(n))
				b.Reset()
				b.WriteString(`{"events":[`)
				for i := first; i <= last; i++ {
					if i > first {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"type":"bench.event","data":{"i":%d,"t":%d}}`, i, time.Now().UnixNano())
				}
				b.WriteString(`]}`)
				var res struct {
					Items []struct {
						Status int             `json:"status"`
						Error  json.RawMessage `json:"error"`
					} `json:"items"`
				}
				if _, err := r.api.do("POST", url, []byte(b.String()), &res); err != nil {
					fail(err)
					return
				}
				for _, it := range res.Items {
					if it.Status != 202 {
						fail(fmt.Errorf("a batch event answered %d: %s", it.Status, it.Error))
						return
					}
				}
				if len(res.Items) != int(last-first+1) {
					fail(fmt.Errorf("%d items for a batch of %d", len(res.Items), last-first+1))
					return
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
