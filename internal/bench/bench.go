// Package bench measures hookd end to end on the machine it runs on: hookd
// as its own process (or several, on PostgreSQL), publishers that use the
// public HTTP API, and a local receiver that verifies every signature. Each
// run first measures the baseline — plain HTTP POSTs of the same body, at
// the same concurrency, to the same receiver, without hookd — so every
// figure can be read against what the hardware allows.
package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/webhook"
)

// baselineRuns is how many times the baseline is measured.
const baselineRuns = 3

// Options configure a run. Zero fields take the defaults given.
type Options struct {
	// Binary is the hookd executable started as the node(s) under test.
	Binary string
	// DB: "" for a fresh SQLite file in a temporary directory, or a
	// postgres:// URL of an empty database.
	DB string
	// Nodes is how many hookd processes share the database (PostgreSQL
	// only); default 1.
	Nodes int
	// Scenarios to run, in order; default steady, latency, fanout, isolation.
	// Also: breaker (healthy endpoints beside a dead and a rate-limited
	// one), batch (steady through the batch route at 1, 10 and 100 events
	// a request), backlog, logquery (long; they fill the database directly) and
	// soak (long: run by hand).
	Scenarios []string
	// Events per throughput scenario; default 20000.
	Events int
	// Concurrency of publishers (and of the baseline); default 32.
	Concurrency int
	// Rate and Duration of the latency scenario; defaults 500/s and 10s.
	Rate     int
	Duration time.Duration
	// Soak is the length of the soak scenario (default 30 min), and
	// SoakRate the events it publishes per second (default 200).
	Soak     time.Duration
	SoakRate int
	// Backlog is the pending deliveries of the backlog scenario; default
	// 1,000,000. LogAttempts the attempts stored for logquery; default
	// 10,000,000.
	Backlog     int
	LogAttempts int
	// Timeout passed to hookd (the isolation scenario's dead endpoint
	// holds requests this long); default outbound.DefaultTimeout, as in
	// production.
	Timeout time.Duration
	// ProfileDir, when set, receives a CPU profile of the steady scenario.
	ProfileDir string
	// Repeat runs steady and fan-out this many times each and reports the
	// run with the median rate (default 1).
	Repeat int
	// NodeGOMAXPROCS, when set, is every node's GOMAXPROCS: the cores a
	// node is told it has, as when several nodes share one machine.
	NodeGOMAXPROCS int
	// IdempotencyKeys gives every event of the steady and latency
	// scenarios its own Idempotency-Key, as careful publishers send.
	IdempotencyKeys bool
	// ExtraArgs are passed to every hookd node.
	ExtraArgs []string
	Out       io.Writer // the table; default os.Stdout
	Log       io.Writer // progress; default os.Stderr
}

// Result is one scenario's figures.
type Result struct {
	Scenario   string             `json:"scenario"`
	Events     int                `json:"events"`
	Deliveries int64              `json:"deliveries"`
	Seconds    float64            `json:"seconds"`
	PerSecond  float64            `json:"per_second"`
	Baseline   float64            `json:"baseline_per_second,omitempty"`
	Ratio      float64            `json:"ratio_to_baseline,omitempty"`
	CPUPer1000 float64            `json:"cpu_seconds_per_1000,omitempty"`
	PeakRSSMiB float64            `json:"peak_rss_mib,omitempty"`
	Latency    *Latency           `json:"latency,omitempty"`
	Extra      map[string]float64 `json:"extra,omitempty"`
	Duplicates int                `json:"duplicates"`
	BadSigs    int64              `json:"bad_signatures"`
	Note       string             `json:"note,omitempty"`
}

// Latency summarises publish-to-receipt times in milliseconds.
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// Report is a whole run.
type Report struct {
	Date        string   `json:"date"`
	DB          string   `json:"db"`
	Nodes       int      `json:"nodes"`
	Concurrency int      `json:"concurrency"`
	Results     []Result `json:"results"`
}

const adminKey = "hk_adm_bench_0123456789abcdefghij"

type run struct {
	opt   Options
	recv  *receiver
	nodes []*node
	// api publishes and reads with the current scenario's project key, as
	// an application would; admin creates projects.
	api   *apiClient
	admin *apiClient
	dir   string
	db    string
	log   io.Writer
	// baseline is the plain-HTTP rate, measured first.
	baseline float64
}

func (o *Options) defaults() error {
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Binary = exe
	}
	if o.Nodes <= 0 {
		o.Nodes = 1
	}
	if o.Nodes > 1 && !strings.HasPrefix(o.DB, "postgres") {
		return errors.New("bench: several nodes need a postgres:// database")
	}
	if len(o.Scenarios) == 0 {
		o.Scenarios = []string{"steady", "latency", "fanout", "isolation"}
	}
	if o.Events <= 0 {
		o.Events = 20000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.Rate <= 0 {
		o.Rate = 500
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Soak <= 0 {
		o.Soak = 30 * time.Minute
	}
	if o.SoakRate <= 0 {
		o.SoakRate = 200
	}
	if o.Backlog <= 0 {
		o.Backlog = 1_000_000
	}
	if o.LogAttempts <= 0 {
		o.LogAttempts = 10_000_000
	}
	if o.Timeout <= 0 {
		o.Timeout = outbound.DefaultTimeout // hookd's own
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	return nil
}

// Run performs the benchmark and prints its table.
func Run(ctx context.Context, opt Options) (*Report, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hookd-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r := &run{opt: opt, dir: dir, log: opt.Log, api: newAPIClient(adminKey, opt.Concurrency), admin: newAPIClient(adminKey, 2)}
	r.db = opt.DB
	if r.db == "" {
		r.db = filepath.Join(dir, "hookd.db")
	}
	r.recv, err = newReceiver()
	if err != nil {
		return nil, err
	}
	defer r.recv.close()
	defer r.stopNodes()

	rep := &Report{Date: time.Now().UTC().Format(time.RFC3339), DB: kindOf(opt.DB), Nodes: opt.Nodes, Concurrency: opt.Concurrency}
	// The baseline is the median of baselineRuns runs: one run of a second or so
	// on a shared machine moved by up to 40 % between identical runs, and
	// every ratio in the report divides by it.
	var runs []Result
	for i := range baselineRuns {
		r.logf("baseline %d/%d: %d plain POSTs, concurrency %d", i+1, baselineRuns, opt.Events, opt.Concurrency)
		b, err := r.baselineRun(ctx)
		if err != nil {
			return nil, err
		}
		runs = append(runs, b)
	}
	slices.SortFunc(runs, func(a, b Result) int { return cmp.Compare(a.PerSecond, b.PerSecond) })
	base := runs[len(runs)/2]
	base.Extra = map[string]float64{}
	for i, b := range runs {
		base.Extra[runKey(i)] = b.PerSecond
	}
	base.Note = fmt.Sprintf("median of %d runs", baselineRuns)
	rep.Results = append(rep.Results, base)
	r.baseline = base.PerSecond

	for _, sc := range opt.Scenarios {
		var res Result
		var err error
		r.logf("scenario %s", sc)
		switch sc {
		case "steady":
			res, err = r.repeated(ctx, r.steady)
		case "latency":
			res, err = r.latency(ctx)
		case "fanout":
			res, err = r.repeated(ctx, r.fanout)
		case "isolation":
			res, err = r.isolation(ctx)
		case "backlog":
			res, err = r.backlog(ctx)
		case "logquery":
			res, err = r.logquery(ctx)
		case "soak":
			res, err = r.soak(ctx)
		case "breaker":
			res, err = r.breaker(ctx)
		case "streams":
			res, err = r.streams(ctx)
		case "idlestreams":
			res, err = r.idleStreams(ctx)
		case "ordered":
			res, err = r.ordered(ctx)
		case "batch":
			// One result per batch size: all but the last go in here.
			var all []Result
			all, err = r.batch(ctx)
			if len(all) > 0 {
				rep.Results = append(rep.Results, all[:len(all)-1]...)
				res = all[len(all)-1]
			}
		default:
			err = fmt.Errorf("unknown scenario %q (steady, latency, fanout, isolation, breaker, batch, streams, idlestreams, ordered, backlog, logquery, soak)", sc)
		}
		if err != nil {
			return rep, fmt.Errorf("%s: %w", sc, err)
		}
		_, peak := r.peakRSS()
		if res.PeakRSSMiB == 0 {
			res.PeakRSSMiB = float64(peak) / (1 << 20)
		}
		rep.Results = append(rep.Results, res)
	}
	printTable(opt.Out, rep)
	return rep, nil
}

// repeated runs a throughput scenario opt.Repeat times and reports the
// run with the median rate, with every run's rate beside it. One closed-loop
// run settles into larger or smaller batches by chance and moves by 10–20 %
// on this kind of machine; the median of several is what a comparison
// between builds can rely on. Only the first run is profiled.
func (r *run) repeated(ctx context.Context, scenario func(context.Context) (Result, error)) (Result, error) {
	n := max(1, r.opt.Repeat)
	profileDir := r.opt.ProfileDir
	defer func() { r.opt.ProfileDir = profileDir }()
	var runs []Result
	for i := range n {
		if n > 1 {
			r.logf("run %d/%d", i+1, n)
		}
		res, err := scenario(ctx)
		if err != nil {
			return Result{}, err
		}
		_, peak := r.peakRSS()
		res.PeakRSSMiB = float64(peak) / (1 << 20)
		runs = append(runs, res)
		r.opt.ProfileDir = ""
	}
	if n == 1 {
		return runs[0], nil
	}
	med := slices.Clone(runs)
	slices.SortFunc(med, func(a, b Result) int { return cmp.Compare(a.PerSecond, b.PerSecond) })
	res := med[n/2]
	extra := maps.Clone(res.Extra)
	if extra == nil {
		extra = map[string]float64{}
	}
	for i, run := range runs {
		extra[runKey(i)] = run.PerSecond
	}
	res.Extra = extra
	res.Note = strings.TrimPrefix(res.Note+fmt.Sprintf("; the run with the median rate of %d", n), "; ")
	return res, nil
}

// runKey names run i's rate (from 0) among a result's extras.
func runKey(i int) string { return fmt.Sprintf("run_%d_per_second", i+1) }

func kindOf(db string) string {
	if strings.HasPrefix(db, "postgres") {
		return "postgres"
	}
	return "sqlite"
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "bench: "+format+"\n", args...)
}

// ensureNodes starts the hookd nodes if they are not running.
func (r *run) ensureNodes(ctx context.Context) error {
	if len(r.nodes) > 0 {
		return nil
	}
	args := append([]string{"--db", r.db, "--timeout", r.opt.Timeout.String()}, r.opt.ExtraArgs...)
	if r.opt.ProfileDir != "" {
		args = append(args, "--pprof")
	}
	for range r.opt.Nodes {
		var env []string
		if r.opt.NodeGOMAXPROCS > 0 {
			env = append(env, fmt.Sprintf("GOMAXPROCS=%d", r.opt.NodeGOMAXPROCS))
		}
		n, err := startNode(ctx, r.opt.Binary, adminKey, env, args...)
		if err != nil {
			r.stopNodes()
			return err
		}
		r.nodes = append(r.nodes, n)
	}
	return nil
}

func (r *run) stopNodes() {
	var wg sync.WaitGroup
	for _, n := range r.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.stop() }()
	}
	wg.Wait()
	r.nodes = nil
}

func (r *run) cpu() time.Duration {
	var t time.Duration
	for _, n := range r.nodes {
		t += n.cpu()
	}
	return t
}

// peakRSS is the largest current and peak RSS among the nodes.
func (r *run) peakRSS() (now, peak int64) {
	for _, n := range r.nodes {
		c, p := n.rss()
		now, peak = max(now, c), max(peak, p)
	}
	return now, peak
}

// base is the API URL of node i (publishers spread over the nodes).
func (r *run) base(i int) string { return r.nodes[i%len(r.nodes)].base }

// project creates a project with one endpoint per path and points the
// receiver's verifier at its secret.
func (r *run) project(ctx context.Context, name string, paths ...string) (string, []string, error) {
	if err := r.ensureNodes(ctx); err != nil {
		return "", nil, err
	}
	var p struct{ ID string }
	if err := r.admin.post(r.base(0)+"/v1/projects", map[string]any{"name": name}, &p); err != nil {
		return "", nil, err
	}
	var k struct{ Key string }
	if err := r.admin.post(r.base(0)+"/v1/projects/"+p.ID+"/api-keys", map[string]any{}, &k); err != nil {
		return "", nil, err
	}
	r.api.key = k.Key
	var sec struct{ Secret string }
	if _, err := r.api.do("GET", r.base(0)+"/v1/projects/"+p.ID+"/secret", nil, &sec); err != nil {
		return "", nil, err
	}
	v, err := webhook.NewVerifier([]string{sec.Secret})
	if err != nil {
		return "", nil, err
	}
	var eps []string
	for _, path := range paths {
		var ep struct{ ID string }
		if err := r.api.post(r.base(0)+"/v1/projects/"+p.ID+"/endpoints", map[string]any{"url": r.recv.URL(path)}, &ep); err != nil {
			return "", nil, err
		}
		eps = append(eps, ep.ID)
	}
	r.recv.reset(v)
	return p.ID, eps, nil
}

// publishAll publishes n events with the configured concurrency and returns
// when all were accepted.
func (r *run) publishAll(ctx context.Context, pid string, n int) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for g := range r.opt.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := r.base(g) + "/v1/projects/" + pid + "/events"
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				body := fmt.Appendf(nil, `{"type":"bench.event","data":{"i":%d,"t":%d}}`, i, time.Now().UnixNano())
				if _, err := r.api.doKeyed("POST", url, r.idempotencyKey(pid, i), body, nil); err != nil {
					once.Do(func() { firstErr = err })
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

// idempotencyKey is event i's key in project pid when the run sends keys
// (Options.IdempotencyKeys), else "".
func (r *run) idempotencyKey(pid string, i int64) string {
	if !r.opt.IdempotencyKeys {
		return ""
	}
	return fmt.Sprintf("bench-%s-%d", pid, i)
}

// waitReceived waits until the receiver counted want deliveries; the
// deadline only stops a broken run.
func (r *run) waitReceived(ctx context.Context, want int64, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	// A poll of another process's progress, on the wall clock: the bench
	// measures real time.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for r.recv.got.Load() < want {
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("only %d of %d deliveries arrived within %v (bad signatures: %d)",
				r.recv.got.Load(), want, limit, r.recv.bad.Load())
		}
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		<-tick.C
	}
	return time.Now(), nil
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i]) / float64(time.Millisecond)
}

func summarise(lat []time.Duration) *Latency {
	slices.Sort(lat)
	if len(lat) == 0 {
		return &Latency{}
	}
	return &Latency{
		P50: percentile(lat, 0.50),
		P90: percentile(lat, 0.90),
		P99: percentile(lat, 0.99),
		Max: float64(lat[len(lat)-1]) / float64(time.Millisecond),
	}
}

func printTable(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "hookd bench — %s, %d node(s), concurrency %d, %s\n\n", rep.DB, rep.Nodes, rep.Concurrency, rep.Date)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tevents\tdeliveries\tseconds\tper second\tvs baseline\tCPU s/1000\tp50 ms\tp99 ms\tmax ms\tpeak RSS MiB\tdups\tbad sigs\t")
	for _, res := range rep.Results {
		ratio, cpu, p50, p99, mx := "", "", "", "", ""
		if res.Ratio > 0 {
			ratio = fmt.Sprintf("%.1f%%", res.Ratio*100)
		}
		if res.CPUPer1000 > 0 {
			cpu = fmt.Sprintf("%.3f", res.CPUPer1000)
		}
		if l := res.Latency; l != nil {
			p50, p99, mx = fmt.Sprintf("%.2f", l.P50), fmt.Sprintf("%.2f", l.P99), fmt.Sprintf("%.1f", l.Max)
		}
		rss := ""
		if res.PeakRSSMiB > 0 {
			rss = fmt.Sprintf("%.0f", res.PeakRSSMiB)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n",
			res.Scenario, res.Events, res.Deliveries, res.Seconds, res.PerSecond, ratio, cpu, p50, p99, mx, rss, res.Duplicates, res.BadSigs)
	}
	tw.Flush()
	for _, res := range rep.Results {
		if res.Note != "" || len(res.Extra) > 0 {
			fmt.Fprintf(w, "\n%s: %s", res.Scenario, res.Note)
			keys := make([]string, 0, len(res.Extra))
			for k := range res.Extra {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(w, "\n  %s = %.3f", k, res.Extra[k])
			}
			fmt.Fprintln(w)
		}
	}
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
