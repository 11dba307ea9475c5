package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// soakSample is the state of the node at one moment of the soak.
type soakSample struct {
	at         time.Duration // since the soak started
	rssMiB     float64
	goroutines int
	openFiles  int
	walMiB     float64 // SQLite's WAL file; 0 on PostgreSQL
	published  int64
	received   int64
}

// soak publishes at a steady rate for opt.Soak to four endpoints — healthy,
// slow (each answer takes soakSlow), failing (always 500, so retried on the
// schedule) and dead (never answers, held until hookd's timeout) — and
// samples the node's RSS, goroutines, open files and WAL size as it goes.
// What it shows is whether any of them grows with time rather than with
// load: a leak, or a WAL that checkpoints cannot reset.
func (r *run) soak(ctx context.Context) (Result, error) {
	paths := []string{"/soak/healthy", "/soak/slow", "/soak/failing", "/soak/dead"}
	slow, failing, dead := paths[1], paths[2], paths[3]
	r.recv.slowPath.Store(&slow)
	r.recv.failPath.Store(&failing)
	r.recv.hangPath.Store(&dead)
	defer func() {
		r.recv.slowPath.Store(nil)
		r.recv.failPath.Store(nil)
		r.recv.hangPath.Store(nil)
		r.recv.releaseHung()
	}()
	pid, _, err := r.project(ctx, "soak", paths...)
	if err != nil {
		return Result{}, err
	}
	n := r.nodes[0]
	every := max(r.opt.Soak/60, 5*time.Second)
	r.logf("soak: %v at %d events/s to a healthy, a slow (%v), a failing and a dead endpoint; a sample every %v",
		r.opt.Soak, r.opt.SoakRate, soakSlow, every)

	var published, failed atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, r.opt.Soak)
	defer cancel()
	var wg sync.WaitGroup
	// Paced publishers: each sends its share of the rate on a ticker, so
	// the rate stays what was asked however the node's latency moves.
	const publishers = 8
	for g := range publishers {
		wg.Go(func() {
			url := r.base(g) + "/v1/projects/" + pid + "/events"
			t := time.NewTicker(time.Second * publishers / time.Duration(r.opt.SoakRate))
			defer t.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				body := fmt.Appendf(nil, `{"type":"soak.event","data":{"g":%d,"i":%d,"t":%d}}`, g, i, time.Now().UnixNano())
				if _, err := r.api.do("POST", url, body, nil); err != nil {
					failed.Add(1)
					continue
				}
				published.Add(1)
			}
		})
	}
	var samples []soakSample
	start := time.Now()
	take := func() {
		now, _ := n.rss()
		s := soakSample{
			at:         time.Since(start),
			rssMiB:     float64(now) / (1 << 20),
			goroutines: n.goroutines(),
			openFiles:  n.openFiles(),
			published:  published.Load(),
			received:   r.recv.got.Load(),
		}
		if kindOf(r.opt.DB) == "sqlite" {
			if fi, err := os.Stat(r.db + "-wal"); err == nil {
				s.walMiB = float64(fi.Size()) / (1 << 20)
			}
		}
		samples = append(samples, s)
		r.logf("soak %6s: RSS %5.1f MiB, goroutines %4d, open files %3d, WAL %5.1f MiB, published %d, received %d",
			s.at.Round(time.Second), s.rssMiB, s.goroutines, s.openFiles, s.walMiB, s.published, s.received)
	}
	tick := time.NewTicker(every)
	take()
sampling:
	for {
		select {
		case <-ctx.Done():
			break sampling
		case <-tick.C:
			take()
		}
	}
	tick.Stop()
	wg.Wait()
	take()
	if failed.Load() > 0 {
		return Result{}, fmt.Errorf("%d publishes failed during the soak", failed.Load())
	}
	return soakResult(samples, r.recv.perPath(), r.opt.Soak), nil
}

// soakSlow is how long the slow endpoint takes to answer: slow, but at
// hookd's default 32 requests per endpoint it keeps up with the soak's
// rate (the dead endpoint is the one that cannot).
const soakSlow = 100 * time.Millisecond

// soakResult summarises the samples: each figure at the first sample after
// warm-up (a tenth of the run), at the end and at its highest.
func soakResult(samples []soakSample, perPath map[string]int64, d time.Duration) Result {
	last := samples[len(samples)-1]
	warm := samples[0]
	for _, s := range samples {
		if s.at >= d/10 {
			warm = s
			break
		}
	}
	extra := map[string]float64{}
	figure := func(name string, get func(soakSample) float64) {
		hi := 0.0
		for _, s := range samples {
			hi = max(hi, get(s))
		}
		extra[name+"_after_warmup"] = get(warm)
		extra[name+"_at_end"] = get(last)
		extra[name+"_max"] = hi
	}
	figure("rss_mib", func(s soakSample) float64 { return s.rssMiB })
	figure("goroutines", func(s soakSample) float64 { return float64(s.goroutines) })
	figure("open_files", func(s soakSample) float64 { return float64(s.openFiles) })
	figure("wal_mib", func(s soakSample) float64 { return s.walMiB })
	for path, got := range perPath {
		extra["received"+strings.ReplaceAll(path, "/", "_")] = float64(got)
	}
	return Result{
		Scenario: fmt.Sprintf("soak (%v, 4 endpoints)", d), Events: int(last.published), Deliveries: last.received,
		Seconds: last.at.Seconds(), PerSecond: float64(last.published) / last.at.Seconds(),
		Note:  fmt.Sprintf("healthy, slow (%v), failing (500) and dead endpoints; %d samples; 'after_warmup' is the first sample after a tenth of the run", soakSlow, len(samples)),
		Extra: extra,
	}
}

// goroutines reads go_goroutines from the node's /metrics (0 if unread).
func (n *node) goroutines() int {
	resp, err := http.Get(n.base + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			g, _ := strconv.Atoi(strings.TrimSpace(v))
			return g
		}
	}
	return 0
}

// openFiles counts the node's open file descriptors.
func (n *node) openFiles() int {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", n.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	return len(fds)
}
