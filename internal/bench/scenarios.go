package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/webhook"
)

// baselineRun POSTs the same kind of body hookd would send, signed the same
// way, straight to the receiver: the rate the hardware allows.
func (r *run) baselineRun(ctx context.Context) (Result, error) {
	secret, err := webhook.NewSecret()
	if err != nil {
		return Result{}, err
	}
	signer, err := webhook.NewSigner(secret)
	if err != nil {
		return Result{}, err
	}
	v, _ := webhook.NewVerifier([]string{secret})
	r.recv.reset(v)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: r.opt.Concurrency * 2}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	url := r.recv.URL("/baseline")
	n := r.opt.Events
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for range r.opt.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				now := time.Now()
				id := fmt.Sprintf("evt_baseline_%d", i)
				body := fmt.Appendf(nil, `{"id":"%s","type":"bench.event","timestamp":"%s","data":{"i":%d,"t":%d}}`,
					id, now.UTC().Format(time.RFC3339), i, now.UnixNano())
				req, _ := http.NewRequest("POST", url, bytesReader(body))
				for k, vs := range signer.Headers(id, now, body) {
					req.Header[k] = vs
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	got := r.recv.got.Load()
	res := Result{
		Scenario: "baseline (plain HTTP)", Events: n, Deliveries: got, Seconds: el.Seconds(),
		PerSecond: float64(got) / el.Seconds(), Latency: summarise(r.recv.latencies()),
		BadSigs: r.recv.bad.Load(), Duplicates: r.recv.duplicates(),
	}
	if failed.Load() > 0 {
		res.Note = fmt.Sprintf("%d requests failed", failed.Load())
	}
	return res, ctx.Err()
}

// steady: publish Events over the API as fast as the publishers can, one
// endpoint; delivered events per second from first publish to last receipt.
func (r *run) steady(ctx context.Context) (Result, error) {
	pid, _, err := r.project(ctx, "steady", "/steady")
	if err != nil {
		return Result{}, err
	}
	n := r.opt.Events
	ev0, commits0 := r.commits()
	cpu0 := r.cpu()
	start := time.Now()
	var profErr error
	var profWG sync.WaitGroup
	if r.opt.ProfileDir != "" {
		profWG.Add(2)
		go func() {
			defer profWG.Done()
			profErr = r.profile(filepath.Join(r.opt.ProfileDir, "steady-cpu.pprof"), "profile", 5)
		}()
		// An execution trace shows what the CPU profile cannot: where the
		// pipeline waits (writer, fsync, scheduler) while cores sit idle.
		go func() {
			defer profWG.Done()
			if err := r.profile(filepath.Join(r.opt.ProfileDir, "steady-trace.out"), "trace", 1); err != nil {
				r.logf("trace of steady: %v", err)
			}
		}()
	}
	if err := r.publishAll(ctx, pid, n); err != nil {
		return Result{}, err
	}
	published := time.Since(start)
	end, err := r.waitReceived(ctx, int64(n), 10*time.Minute)
	if err != nil {
		return Result{}, err
	}
	el := end.Sub(start)
	cpu := r.cpu() - cpu0
	profWG.Wait()
	res := Result{
		Scenario: "steady (1 endpoint)", Events: n, Deliveries: r.recv.got.Load(), Seconds: el.Seconds(),
		PerSecond: float64(n) / el.Seconds(), Baseline: r.baseline,
		CPUPer1000: cpu.Seconds() / float64(n) * 1000,
		Duplicates: r.recv.duplicates(), BadSigs: r.recv.bad.Load(),
		Latency: summarise(r.recv.latencies()),
		Extra:   map[string]float64{"publish_per_second": float64(n) / published.Seconds()},
	}
	if ev1, commits1 := r.commits(); commits1 > commits0 {
		// How well group commit shared each durable commit in this run.
		res.Extra["events_per_commit"] = (ev1 - ev0) / (commits1 - commits0)
	}
	res.Ratio = res.PerSecond / r.baseline
	res.Note = "latency here is under saturation (publishers flat out), not the latency scenario"
	if profErr != nil {
		res.Note += "; profile failed: " + profErr.Error()
	}
	return res, nil
}

// profile fetches a CPU profile ("profile") or an execution trace ("trace")
// of node 0 (run with --pprof).
func (r *run) profile(path, kind string, seconds int) error {
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", r.base(0), kind, seconds))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("pprof: status %d", resp.StatusCode)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// latency: a fixed rate of Rate events/s for Duration; publish-call start to
// receipt, per event.
func (r *run) latency(ctx context.Context) (Result, error) {
	pid, _, err := r.project(ctx, "latency", "/latency")
	if err != nil {
		return Result{}, err
	}
	n := int(r.opt.Duration.Seconds() * float64(r.opt.Rate))
	interval := time.Second / time.Duration(r.opt.Rate)
	jobs := make(chan int, n)
	var wg sync.WaitGroup
	var failed atomic.Int64
	// How long each publish took to be answered (202), to tell the part
	// of the latency spent accepting from the part spent delivering.
	var accMu sync.Mutex
	accepted := make([]time.Duration, 0, n)
	var settled []time.Duration // those published after the first second
	var start time.Time
	commits0 := r.metrics("hookd_publish_commit_seconds")
	for g := range r.opt.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := r.base(g) + "/v1/projects/" + pid + "/events"
			for i := range jobs {
				t0 := time.Now()
				body := fmt.Appendf(nil, `{"type":"bench.event","data":{"i":%d,"t":%d}}`, i, t0.UnixNano())
				if _, err := r.api.doKeyed("POST", url, r.idempotencyKey(pid, int64(i)), body, nil); err != nil {
					failed.Add(1)
				}
				d := time.Since(t0)
				accMu.Lock()
				accepted = append(accepted, d)
				if t0.Sub(start) > time.Second {
					settled = append(settled, d)
				}
				accMu.Unlock()
			}
		}()
	}
	accMu.Lock()
	start = time.Now()
	accMu.Unlock()
	for i := range n {
		// Open-loop: event i goes at start + i·interval whatever happened
		// to the ones before it, so a slow response cannot hide latency.
		// This is load-generation pacing on the wall clock, which is what
		// the bench measures; a ticker would drop ticks when behind and so
		// would not keep to the schedule.
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return Result{}, fmt.Errorf("%d publishes failed", f)
	}
	end, err := r.waitReceived(ctx, int64(n), 5*time.Minute)
	if err != nil {
		return Result{}, err
	}
	el := end.Sub(start)
	res := Result{
		Scenario: fmt.Sprintf("latency at %d/s", r.opt.Rate), Events: n, Deliveries: r.recv.got.Load(),
		Seconds: el.Seconds(), PerSecond: float64(n) / el.Seconds(),
		Latency: summarise(r.recv.latencies()), Duplicates: r.recv.duplicates(), BadSigs: r.recv.bad.Load(),
	}
	acc := summarise(accepted)
	res.Extra = map[string]float64{"accepted_p50_ms": acc.P50, "accepted_p99_ms": acc.P99,
		"accepted_p99_after_1s_ms": summarise(settled).P99}
	commits1 := r.metrics("hookd_publish_commit_seconds")
	delta := func(name string) float64 { return commits1[name] - commits0[name] }
	if c := delta("hookd_publish_commit_seconds_count"); c > 0 {
		res.Extra["commits"] = c
		res.Extra["commit_mean_ms"] = delta("hookd_publish_commit_seconds_sum") / c * 1000
		// The histogram's buckets double from 0.1 ms: 12.8 and 25.6 ms.
		res.Extra["commits_over_12.8ms"] = c - delta(`hookd_publish_commit_seconds_bucket{le="0.0128"}`)
		res.Extra["commits_over_25.6ms"] = c - delta(`hookd_publish_commit_seconds_bucket{le="0.0256"}`)
	}
	return res, nil
}

// fanout: every event goes to 10 endpoints.
func (r *run) fanout(ctx context.Context) (Result, error) {
	paths := make([]string, 10)
	for i := range paths {
		paths[i] = fmt.Sprintf("/fan/%d", i)
	}
	pid, _, err := r.project(ctx, "fanout", paths...)
	if err != nil {
		return Result{}, err
	}
	n := max(r.opt.Events/10, 1)
	want := int64(n * len(paths))
	cpu0 := r.cpu()
	start := time.Now()
	if err := r.publishAll(ctx, pid, n); err != nil {
		return Result{}, err
	}
	end, err := r.waitReceived(ctx, want, 10*time.Minute)
	if err != nil {
		return Result{}, err
	}
	el := end.Sub(start)
	cpu := r.cpu() - cpu0
	res := Result{
		Scenario: "fan-out (1 event → 10 endpoints)", Events: n, Deliveries: want, Seconds: el.Seconds(),
		PerSecond: float64(want) / el.Seconds(), Baseline: r.baseline,
		CPUPer1000: cpu.Seconds() / float64(want) * 1000,
		Duplicates: r.recv.duplicates(), BadSigs: r.recv.bad.Load(),
		Note: "per second counts deliveries (POSTs received), not events",
	}
	res.Ratio = res.PerSecond / r.baseline
	return res, nil
}

// isolation: 10 endpoints, one of which never answers until hookd's
// timeout. The nine healthy ones are compared with nine healthy endpoints
// alone, same events.
func (r *run) isolation(ctx context.Context) (Result, error) {
	n := max(r.opt.Events/10, 1)
	var withDeadSeconds float64
	measure := func(name string, withDead bool) (float64, error) {
		paths := make([]string, 9)
		for i := range paths {
			paths[i] = fmt.Sprintf("/%s/%d", name, i)
		}
		dead := "/" + name + "/dead"
		if withDead {
			paths = append(paths, dead)
			r.recv.hangPath.Store(&dead)
		}
		pid, eps, err := r.project(ctx, name, paths...)
		if err != nil {
			return 0, err
		}
		want := int64(n * 9)
		start := time.Now()
		if err := r.publishAll(ctx, pid, n); err != nil {
			return 0, err
		}
		end, err := r.waitReceived(ctx, want, 10*time.Minute)
		if err != nil {
			return 0, err
		}
		if withDead {
			withDeadSeconds = end.Sub(start).Seconds()
			// Stop the dead endpoint's deliveries from holding workers in
			// the measurement and scenarios that follow: no more of them
			// (deleted), and the held ones answered.
			_, _ = r.api.do("DELETE", r.base(0)+"/v1/projects/"+pid+"/endpoints/"+eps[len(eps)-1], nil, nil)
			r.recv.hangPath.Store(nil)
			r.recv.releaseHung()
		}
		return float64(want) / end.Sub(start).Seconds(), nil
	}
	// The reference is measured before and after, and averaged: a single
	// run of a few seconds on this shared machine moved by ±30 %, and
	// bracketing the run with the dead endpoint cancels drift.
	before, err := measure("iso-ref", false)
	if err != nil {
		return Result{}, err
	}
	withDead, err := measure("iso", true)
	if err != nil {
		return Result{}, err
	}
	after, err := measure("iso-ref2", false)
	if err != nil {
		return Result{}, err
	}
	alone := (before + after) / 2
	return Result{
		Scenario: "isolation (9 healthy + 1 dead)", Events: n, Deliveries: int64(n * 9),
		Seconds: withDeadSeconds, PerSecond: withDead, Baseline: alone, Ratio: withDead / alone,
		Duplicates: r.recv.duplicates(), BadSigs: r.recv.bad.Load(),
		Note: fmt.Sprintf("healthy deliveries/s with a dead endpoint vs. nine endpoints alone (%.0f/s, mean of one run before and one after); 'vs baseline' here is that ratio; dead endpoint holds each request %v",
			alone, r.opt.Timeout),
		Extra: map[string]float64{"healthy_alone_before_per_second": before, "healthy_alone_after_per_second": after,
			"healthy_with_dead_per_second": withDead},
	}, nil
}

type bytesReaderT struct {
	b []byte
	i int
}

func (r *bytesReaderT) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

func bytesReader(b []byte) io.Reader { return &bytesReaderT{b: b} }

// commits sums, over the nodes, the events published and the group commits
// that carried them (hookd_publish_batch_events); zeros when a node's
// metrics cannot be read.
func (r *run) commits() (events, commits float64) {
	for i := range r.nodes {
		if raw, ok := r.nodeMetrics(i); ok {
			e, c := parseCommits(raw)
			events, commits = events+e, commits+c
		}
	}
	return events, commits
}

// nodeMetrics is node i's /metrics page; false when it cannot be read.
func (r *run) nodeMetrics(i int) (string, bool) {
	resp, err := http.Get(r.base(i) + "/metrics")
	if err != nil {
		return "", false
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", false
	}
	return string(raw), true
}

// metrics sums, over the nodes, the value of every metric line whose name
// (with its labels) starts with prefix; a node whose metrics cannot be read
// adds nothing.
func (r *run) metrics(prefix string) map[string]float64 {
	out := make(map[string]float64)
	for i := range r.nodes {
		raw, ok := r.nodeMetrics(i)
		if !ok {
			continue
		}
		for _, line := range strings.Split(raw, "\n") {
			if !strings.HasPrefix(line, prefix) {
				continue
			}
			name, value, ok := strings.Cut(line, " ")
			if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); ok && err == nil {
				out[name] += v
			}
		}
	}
	return out
}

// parseCommits reads hookd_publish_batch_events' sum and count from a
// Prometheus text exposition.
func parseCommits(text string) (events, commits float64) {
	for _, line := range strings.Split(text, "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "hookd_publish_batch_events_sum":
			events = v
		case "hookd_publish_batch_events_count":
			commits = v
		}
	}
	return events, commits
}
