package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The streams scenario's shape: the hostile-tenant finding it answers was
// 1,000 event streams whose clients read nothing (4 KB receive buffers)
// and 40 publishes of 200 KB events; RSS went from 42 MB to 7.3 GB.
const (
	streamProjects     = 20 // × streamsPerProject: 1,000, the node's default cap
	streamsPerProject  = 50 // the default per-project cap
	streamEventBytes   = 200 << 10
	streamPublishes    = 40 // per project, each phase
	streamPublishers   = 4
	streamRecvBuffer   = 4096
	streamBacklogConns = 100 // phase 3: resumes from an old id
)

// streams: publish p50/p99 of 200 KB events, and hookd's RSS, without
// streams, then with 1,000 streams that never read, then with 100 more
// resuming from the first event (a backlog to replay). A bound on memory
// is what it checks: each stream may hold its page budget, no more.
func (r *run) streams(ctx context.Context) (Result, error) {
	if err := r.ensureNodes(ctx); err != nil {
		return Result{}, err
	}
	api := newAPIClient(adminKey, streamPublishers)
	var pids []string
	for i := range streamProjects {
		var p struct{ ID string }
		if err := api.post(r.base(0)+"/v1/projects", map[string]any{"name": fmt.Sprintf("streams %d", i)}, &p); err != nil {
			return Result{}, err
		}
		pids = append(pids, p.ID)
	}
	pad := strings.Repeat("x", streamEventBytes)
	publish := func() ([]time.Duration, string, error) {
		var mu sync.Mutex
		var lat []time.Duration
		var first string
		var firstErr error
		jobs := make(chan string)
		var wg sync.WaitGroup
		for range streamPublishers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for pid := range jobs {
					body := fmt.Appendf(nil, `{"type":"bench.large","data":{"pad":%q,"t":%d}}`, pad, time.Now().UnixNano())
					var ev struct{ ID string }
					t0 := time.Now()
					_, err := api.do("POST", r.base(0)+"/v1/projects/"+pid+"/events", body, &ev)
					d := time.Since(t0)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					lat = append(lat, d)
					if pid == pids[0] && first == "" {
						first = ev.ID
					}
					mu.Unlock()
				}
			}()
		}
		for range streamPublishes {
			for _, pid := range pids {
				if ctx.Err() != nil {
					break
				}
				jobs <- pid
			}
		}
		close(jobs)
		wg.Wait()
		return lat, first, firstErr
	}

	rssMiB := func() (now, peak float64) {
		n, p := r.peakRSS()
		return float64(n) / (1 << 20), float64(p) / (1 << 20)
	}
	res := Result{Scenario: "1000 stalled streams", Extra: map[string]float64{}}
	before, firstID, err := publish()
	if err != nil {
		return Result{}, err
	}
	without := summarise(before)
	res.Extra["publish_p50_ms_without"], res.Extra["publish_p99_ms_without"] = without.P50, without.P99
	res.Extra["rss_mib_before"], _ = rssMiB()

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, pid := range pids {
		for range streamsPerProject {
			c, err := stalledStream(ctx, r.base(0), pid, "")
			if err != nil {
				return Result{}, fmt.Errorf("stream %d: %w", len(conns)+1, err)
			}
			conns = append(conns, c)
		}
	}
	res.Extra["streams"] = float64(len(conns))
	var profWG sync.WaitGroup
	if r.opt.ProfileDir != "" {
		profWG.Add(1)
		go func() {
			defer profWG.Done()
			if err := r.profile(filepath.Join(r.opt.ProfileDir, "streams-cpu.pprof"), "profile", 10); err != nil {
				r.logf("profile of streams: %v", err)
			}
		}()
	}
	start := time.Now()
	with, _, err := publish()
	profWG.Wait()
	if err != nil {
		return Result{}, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.Events = len(with)
	res.PerSecond = float64(len(with)) / res.Seconds
	res.Latency = summarise(with)
	res.Extra["rss_mib_with_streams"], _ = rssMiB()

	// Phase 3: the streams end (their clients leave), and 100 resume from
	// the first event of a project, whose 80 events of 200 KB are a
	// backlog: replayed page by page, never held whole.
	for _, c := range conns {
		c.Close()
	}
	conns = conns[:0]
	for range streamBacklogConns {
		c, err := stalledStream(ctx, r.base(0), pids[0], firstID)
		if err != nil {
			if len(conns) > 0 {
				break // the per-project cap (50) is reached: that is the bound
			}
			return Result{}, fmt.Errorf("resuming stream: %w", err)
		}
		conns = append(conns, c)
	}
	res.Extra["resuming_streams"] = float64(len(conns))
	// Give the node a moment to read its backlog into the streams that
	// will not take it; RSS is what it holds then.
	time.Sleep(3 * time.Second)
	res.Extra["rss_mib_resuming"], _ = rssMiB()
	_, res.PeakRSSMiB = rssMiB()
	res.Note = fmt.Sprintf("%d × 200 KB publishes per phase by %d publishers; latency is publish (202) time, with streams, p50/p99 %.1f/%.1f ms without; RSS MiB before %.0f, with %d stalled streams %.0f, with %d streams resuming a backlog %.0f",
		res.Events, streamPublishers, without.P50, without.P99, res.Extra["rss_mib_before"],
		int(res.Extra["streams"]), res.Extra["rss_mib_with_streams"], len(conns), res.Extra["rss_mib_resuming"])
	return res, nil
}

// stalledStream opens GET …/events/stream with a 4 KB receive buffer,
// reads the answer's header and then nothing: a client that never reads.
func stalledStream(ctx context.Context, base, pid, lastID string) (net.Conn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, streamRecvBuffer)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	req := "GET /v1/projects/" + pid + "/events/stream HTTP/1.1\r\nHost: " + u.Host +
		"\r\nAuthorization: Bearer " + adminKey + "\r\nAccept: text/event-stream\r\n"
	if lastID != "" {
		req += "Last-Event-ID: " + lastID + "\r\n"
	}
	req += "\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c, 512)
	status, err := br.ReadString('\n')
	if err != nil {
		c.Close()
		return nil, err
	}
	if !strings.Contains(status, " 200 ") {
		c.Close()
		return nil, fmt.Errorf("stream answered %s", strings.TrimSpace(status))
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	return c, nil
}

// idleStreams: the CPU a node spends on 1,000 event streams whose clients
// read, while nothing is published — what following costs by itself
// (polls, key re-checks, heartbeats), measured over idleWindow after the
// streams settle; then the latency scenario's publish-to-receipt latency
// beside them, and without them.
func (r *run) idleStreams(ctx context.Context) (Result, error) {
	if err := r.ensureNodes(ctx); err != nil {
		return Result{}, err
	}
	api := newAPIClient(adminKey, 1)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range streamProjects {
		var p struct{ ID string }
		if err := api.post(r.base(0)+"/v1/projects", map[string]any{"name": fmt.Sprintf("idle streams %d", i)}, &p); err != nil {
			return Result{}, err
		}
		for range streamsPerProject {
			c, err := stalledStream(ctx, r.base(0), p.ID, "")
			if err != nil {
				return Result{}, fmt.Errorf("stream %d: %w", len(conns)+1, err)
			}
			_ = c.SetReadDeadline(time.Time{})
			conns = append(conns, c)
			go func() { _, _ = io.Copy(io.Discard, c) }() // a client that reads
		}
	}
	const settle, idleWindow = 3 * time.Second, 10 * time.Second
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	c0 := r.cpu()
	select {
	case <-time.After(idleWindow):
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	cpu := (r.cpu() - c0).Seconds()
	// Then the latency scenario beside them (their projects publish
	// nothing: they poll), and again once they are gone.
	with, err := r.latency(ctx)
	if err != nil {
		return Result{}, err
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	without, err := r.latency(ctx)
	if err != nil {
		return Result{}, err
	}
	res := Result{Scenario: "1000 idle streams", Seconds: idleWindow.Seconds(), Latency: with.Latency, Extra: map[string]float64{
		"streams": float64(streamProjects * streamsPerProject), "cpu_s_per_10s": cpu,
		"latency_p50_ms_without": without.Latency.P50, "latency_p99_ms_without": without.Latency.P99,
	}}
	res.Note = fmt.Sprintf("%d streams whose clients read, nothing published to them: the node used %.2f s of CPU in %v; "+
		"latency is the latency scenario (%d/s) beside them, p50/p99 %.2f/%.2f ms once they are gone",
		streamProjects*streamsPerProject, cpu, idleWindow, r.opt.Rate, without.Latency.P50, without.Latency.P99)
	return res, nil
}
