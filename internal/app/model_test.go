package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/webhook"
)

// The model-based test of the delivery lifecycle: random sequences of what
// publishers, receivers and operators do (publish; a receiver answering
// 2xx, 5xx, 410 or not at all; disable; enable with and without a time;
// recover; probe now; delete; a node restart) against a whole hookd on a
// fake clock, one node on SQLite and two on PostgreSQL. After each
// sequence every receiver is fixed and every endpoint left is enabled with
// recover_since covering the whole run; then the log must tell the truth:
//
//   - every delivery of an accepted event to an endpoint that is still
//     there succeeded: nothing stays cancelled after an enable that covered
//     it, nothing stays failed after a recovery that covered it;
//   - a delivery to a deleted endpoint succeeded, failed after attempts,
//     or was cancelled saying the endpoint was disabled or deleted;
//   - what the log calls succeeded, the receiver got with a verified
//     signature and answered 2xx; what a receiver answered 2xx, the log
//     calls succeeded; a receiver got no event the log does not show, and
//     no more requests for a delivery than the attempts the log counts.
//
// The model is small on purpose: it tracks which endpoints exist and which
// deliveries publishing made; everything else is asked of hookd at the end.

// modelSeeds are the sequences each backend runs; a failing seed is kept
// as a named regression test below.
// (14 and 20 found a disable at the instant an earlier disabled span
// began, which left the endpoint disabled with no open span: replay
// missed what was published then.)
var modelSeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 14, 20}

const modelSteps = 30

var modelStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// Open bugs the model finds, by the seeds that find them on main; each
// has its named test below. Remove a seed from here once its bug is fixed.
// None is open: the named tests below are the regressions of those fixed.
var knownBugs = map[string]map[uint64]string{
	"sqlite":   {},
	"postgres": {},
}

func TestModelSQLite(t *testing.T) {
	for _, seed := range modelSeeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			if bug := knownBugs["sqlite"][seed]; bug != "" {
				t.Skip(bug)
			}
			runModel(t, seed, modelSteps, 1, "")
		})
	}
}

func TestModelPostgres(t *testing.T) {
	for _, seed := range modelSeeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			if bug := knownBugs["postgres"][seed]; bug != "" {
				t.Skip(bug)
			}
			runModel(t, seed, modelSteps, 2, pgtest.NewDatabase(t))
		})
	}
}

// TestModelBreakerHoldAfterEnable is seed 3 on SQLite: five 500s open the
// breaker (this node holds the endpoint until its probe time), the
// endpoint is disabled and enabled again with recover_since, which closes
// the breaker in the store. The node kept giving back every delivery the
// store handed out, due at once, and claiming it again: a loop of claims
// until the old probe time, and the engine never settled.
func TestModelBreakerHoldAfterEnable(t *testing.T) {
	runModel(t, 3, modelSteps, 1, "")
}

// TestModelEnableAfter410 is seed 1 on SQLite: the receiver answers 410,
// the endpoint is disabled; the final enable with recover_since (receiver
// fixed) resends, and the resent deliveries were cancelled again while
// the node's in-memory 410 mark outlived the enable.
func TestModelEnableAfter410(t *testing.T) {
	runModel(t, 1, modelSteps, 1, "")
}

// TestModelAttemptInFlightAtDisable is seed 2 on SQLite: the receiver
// does not answer (hang), the endpoint is disabled and later deleted
// while attempts are in flight; the receiver got requests whose attempts
// the log did not count (0 attempts, cancelled): the delete cancelled
// the delivery in flight and revoked its claim, so its outcome was never
// applied.
func TestModelAttemptInFlightAtDisable(t *testing.T) {
	runModel(t, 2, modelSteps, 1, "")
}

// answer is how a model receiver answers: an HTTP status, or hang (no
// answer until the sender gives up).
const hang = 0

// modelReceiver answers every request as its mode says and records what it
// got, checking each signature when it arrives (at the fake clock's time).
type modelReceiver struct {
	srv  *httptest.Server
	mode atomic.Int32
	stop chan struct{}

	mu  sync.Mutex
	got []hit
}

type hit struct {
	eventID  string
	answer   int // hang when the receiver did not answer
	verified error
}

func newModelReceiver(t *testing.T, clk clock.Clock, secret string) *modelReceiver {
	v, err := webhook.NewVerifier([]string{secret}, webhook.WithNow(clk.Now), webhook.WithTolerance(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r := &modelReceiver{stop: make(chan struct{})}
	r.mode.Store(200)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h := hit{eventID: req.Header.Get("webhook-id"), answer: int(r.mode.Load()), verified: v.Verify(body, req.Header)}
		r.mu.Lock()
		r.got = append(r.got, h)
		r.mu.Unlock()
		if h.answer == hang {
			select {
			case <-req.Context().Done():
			case <-r.stop:
			}
			return
		}
		w.WriteHeader(h.answer)
	}))
	t.Cleanup(r.srv.Close)
	t.Cleanup(func() { close(r.stop) }) // runs first: hanging handlers return
	return r
}

func (r *modelReceiver) hits() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// modelNode is one hookd process of the cluster, restartable.
type modelNode struct {
	cfg  app.Config
	srv  *server
	stop func()
}

func (n *modelNode) start(t *testing.T) {
	t.Helper()
	a, err := app.New(context.Background(), n.cfg)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	n.srv = &server{t: t, base: "http://" + a.Addr(), app: a}
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			a.Close()
		})
	}
}

type modelEndpoint struct {
	id      string
	recv    *modelReceiver
	deleted bool
	created int // events published before it existed
}

type modelDelivery struct {
	id, eventID, endpointID string
}

type model struct {
	t      *testing.T
	rng    *rand.Rand
	clk    *clock.Fake
	nodes  []*modelNode
	p      project
	eps    []*modelEndpoint
	events []string // accepted event ids, in order
	dels   []modelDelivery
	trace  []string

	probe  bool // POST …/endpoints/{eid}/probe exists
	replay bool // enabling replays what was published while disabled
}

func (m *model) node() *server { return m.nodes[m.rng.IntN(len(m.nodes))].srv }

func (m *model) step(format string, args ...any) {
	m.trace = append(m.trace, fmt.Sprintf("%s  ", m.clk.Now().Sub(modelStart))+fmt.Sprintf(format, args...))
}

func (m *model) live() []*modelEndpoint {
	var out []*modelEndpoint
	for _, e := range m.eps {
		if !e.deleted {
			out = append(out, e)
		}
	}
	return out
}

func (m *model) addEndpoint() {
	e := &modelEndpoint{recv: newModelReceiver(m.t, m.clk, m.p.Secret), created: len(m.events)}
	e.id = m.node().newEndpoint(m.p, e.recv.srv.URL+"/hook")
	m.eps = append(m.eps, e)
	m.step("create endpoint %s", e.id)
}

// settled waits until no node holds a delivery in flight or an
// observation to write, so the clock can move without dating an attempt
// that is still out.
func (m *model) settled() {
	m.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		all := true
		for _, n := range m.nodes {
			all = all && n.srv.settled()
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			for i, n := range m.nodes {
				_, raw := n.srv.call("GET", "/metrics", "", nil, nil)
				for line := range strings.Lines(string(raw)) {
					if strings.HasPrefix(line, "hookd_delivery_claims") || strings.HasPrefix(line, "hookd_deliveries_taken") || strings.HasPrefix(line, "hookd_delivery_attempts") || strings.HasPrefix(line, "hookd_inflight") || strings.HasPrefix(line, "hookd_oldest") || strings.HasPrefix(line, "hookd_health_watch") {
						m.t.Logf("node %d: %s", i, strings.TrimSpace(line))
					}
				}
			}
			for _, e := range m.live() {
				_, raw := m.node().call("GET", m.endpointPath(e), m.p.Key, nil, nil)
				m.t.Logf("endpoint: %s", raw)
			}
			m.t.Fatalf("the nodes never settled")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (m *model) endpointPath(e *modelEndpoint) string {
	return "/v1/projects/" + m.p.ID + "/endpoints/" + e.id
}

// runModel runs one random sequence of steps on a cluster of nodes (on
// SQLite when db is "", else on that PostgreSQL database) and checks the
// invariants. Disables and deletes come with attempts in flight, as they
// do in production.
func runModel(t *testing.T, seed uint64, steps, nodes int, db string) {
	t.Logf("seed %d, %d steps, %d node(s)", seed, steps, nodes)
	clk := clock.NewFake(modelStart)
	if db == "" {
		db = filepath.Join(t.TempDir(), "hookd.db")
	}
	m := &model{t: t, rng: rand.New(rand.NewPCG(seed, 18)), clk: clk}
	defer func() {
		if t.Failed() {
			t.Logf("seed %d failed; the sequence:\n%s", seed, strings.Join(m.trace, "\n"))
		}
	}()
	for range nodes {
		n := &modelNode{cfg: app.Config{
			Addr:                 "127.0.0.1:0",
			DB:                   db,
			AdminKey:             testAdminKey,
			AllowPrivateNetworks: true,
			RetrySchedule:        []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
			NoJitter:             true,
			Timeout:              time.Second, // real time: a hanging receiver costs a second
			PollInterval:         50 * time.Millisecond,
			Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
			Clock:                clk,
		}}
		n.start(t)
		t.Cleanup(func() { n.stop() })
		m.nodes = append(m.nodes, n)
	}
	m.p = m.node().newProject("model")
	m.addEndpoint()
	m.addEndpoint()
	m.detect()

	for range steps {
		m.randomStep()
	}
	m.finish()
	m.check()
}

// detect finds out which of issue 18's lifecycle API main has: the probe
// route, and replay of what was published while disabled.
func (m *model) detect() {
	e := m.eps[0]
	s := m.node()
	code, raw := s.call("POST", m.endpointPath(e)+"/probe", m.p.Key, map[string]any{}, nil)
	m.probe = code == 202 || code == 409
	m.t.Logf("probe route: %d %s", code, bytesHead(raw))
	var got map[string]any
	s.must(200, "POST", m.endpointPath(e)+"/recover", m.p.Key, map[string]any{"since": modelStart}, &got)
	_, m.replay = got["replayed"]
	m.t.Logf("probe now: %v, replay missing: %v", m.probe, m.replay)
}

func bytesHead(b []byte) string {
	if len(b) > 80 {
		b = b[:80]
	}
	return strings.TrimSpace(string(b))
}

func (m *model) randomStep() {
	live := m.live()
	e := live[m.rng.IntN(len(live))]
	s := m.node()
	switch r := m.rng.IntN(100); {
	case r < 35:
		n := 1 + m.rng.IntN(3)
		for range n {
			ev := s.publish(m.p, "order.created", map[string]any{"n": len(m.events)})
			m.events = append(m.events, ev.ID)
			for _, d := range ev.Deliveries {
				m.dels = append(m.dels, modelDelivery{id: d.ID, eventID: ev.ID, endpointID: d.EndpointID})
			}
		}
		m.step("publish %d", n)
	case r < 55:
		modes := []int32{200, 204, 500, 503, 410, hang}
		mode := modes[m.rng.IntN(len(modes))]
		e.recv.mode.Store(mode)
		m.step("receiver of %s answers %d", e.id, mode)
	case r < 62:
		s.must(200, "PATCH", m.endpointPath(e), m.p.Key, map[string]any{"enabled": false}, nil)
		m.step("disable %s", e.id)
	case r < 68:
		s.must(200, "PATCH", m.endpointPath(e), m.p.Key, map[string]any{"enabled": true}, nil)
		m.step("enable %s", e.id)
	case r < 74:
		since := m.clk.Now().Add(-time.Duration(m.rng.IntN(60)) * time.Second)
		var got map[string]any
		s.must(200, "PATCH", m.endpointPath(e), m.p.Key, map[string]any{"enabled": true, "recover_since": since}, &got)
		m.step("enable %s recover_since now-%s: %v", e.id, m.clk.Now().Sub(since), got["recovered"])
	case r < 80:
		since := m.clk.Now().Add(-time.Duration(m.rng.IntN(60)) * time.Second)
		code, raw := s.call("POST", m.endpointPath(e)+"/recover", m.p.Key, map[string]any{"since": since}, nil)
		if code != 200 && code != 409 {
			m.t.Fatalf("recover: %d %s", code, raw)
		}
		m.step("recover %s since now-%s: %d %s", e.id, m.clk.Now().Sub(since), code, bytesHead(raw))
	case r < 84:
		if !m.probe {
			return
		}
		code, raw := s.call("POST", m.endpointPath(e)+"/probe", m.p.Key, map[string]any{}, nil)
		if code != 202 && code != 409 {
			m.t.Fatalf("probe: %d %s", code, raw)
		}
		m.step("probe %s: %d", e.id, code)
	case r < 88:
		s.must(204, "DELETE", m.endpointPath(e), m.p.Key, nil, nil)
		e.deleted = true
		m.step("delete %s", e.id)
		m.addEndpoint()
	case r < 92:
		i := m.rng.IntN(len(m.nodes))
		m.settledOrNot()
		m.nodes[i].stop()
		m.nodes[i].start(m.t)
		m.step("restart node %d", i)
	default:
		m.settled()
		d := time.Duration(1+m.rng.IntN(3)) * time.Second
		m.clk.Advance(d)
		m.step("advance %s", d)
	}
}

// settledOrNot settles half the time: a node is also restarted with
// deliveries in flight.
func (m *model) settledOrNot() {
	if m.rng.IntN(2) == 0 {
		m.settled()
	}
}

// finish fixes every receiver, enables every endpoint left with
// recover_since covering the whole run (or recovers it since then), and
// runs the clock until every delivery to them has finished.
func (m *model) finish() {
	m.settled()
	s := m.node()
	for _, e := range m.live() {
		e.recv.mode.Store(200)
		var got struct {
			Enabled bool `json:"enabled"`
		}
		s.must(200, "GET", m.endpointPath(e), m.p.Key, nil, &got)
		var ans map[string]any
		if got.Enabled {
			s.must(200, "POST", m.endpointPath(e)+"/recover", m.p.Key, map[string]any{"since": modelStart}, &ans)
		} else {
			s.must(200, "PATCH", m.endpointPath(e), m.p.Key, map[string]any{"enabled": true, "recover_since": modelStart}, &ans)
		}
		m.step("final: receiver of %s answers 200; enabled=%v, recovered since the start: %v", e.id, got.Enabled, ans)
	}
	m.step("final: run the clock")
	waitFor(m.t, "every delivery to the endpoints left finished", func() bool {
		if m.done() {
			return true
		}
		m.settled()
		m.clk.Advance(2 * time.Second) // retries and breaker probes
		return false
	})
	m.settled()
}

// deliveries lists the project's deliveries by id.
func (m *model) deliveries() map[string]delivery {
	s := m.node()
	out := make(map[string]delivery)
	cursor := ""
	for {
		var l struct {
			Items      []delivery
			NextCursor string `json:"next_cursor"`
		}
		s.must(200, "GET", "/v1/projects/"+m.p.ID+"/deliveries?limit=200&cursor="+cursor, m.p.Key, nil, &l)
		for _, d := range l.Items {
			out[d.ID] = d
		}
		if l.NextCursor == "" {
			return out
		}
		cursor = l.NextCursor
	}
}

// done reports whether every delivery to an endpoint left has finished,
// and, when hookd replays what was published while disabled, whether
// every event has a delivery to each of them.
func (m *model) done() bool {
	all := m.deliveries()
	deleted := make(map[string]bool)
	for _, e := range m.eps {
		deleted[e.id] = e.deleted
	}
	have := make(map[[2]string]bool)
	for _, d := range all {
		have[[2]string{d.EventID, d.EndpointID}] = true
		if !deleted[d.EndpointID] && !finished(d) {
			return false
		}
	}
	if m.replay {
		for _, e := range m.live() {
			for _, ev := range m.events[e.created:] {
				if !have[[2]string{ev, e.id}] {
					return false
				}
			}
		}
	}
	return true
}

func (m *model) check() {
	t := m.t
	all := m.deliveries()
	deleted := make(map[string]bool)
	for _, e := range m.eps {
		deleted[e.id] = e.deleted
	}
	accepted := make(map[string]bool)
	for _, ev := range m.events {
		accepted[ev] = true
	}

	// Every delivery publishing made is in the log, and for an endpoint
	// left it succeeded; for a deleted one its end is explained.
	for _, md := range m.dels {
		d, ok := all[md.id]
		if !ok {
			t.Errorf("delivery %s of event %s to %s is not in the log", md.id, md.eventID, md.endpointID)
			continue
		}
		switch {
		case d.Status == "succeeded":
		case !deleted[d.EndpointID]:
			t.Errorf("delivery %s to endpoint %s, enabled with recover_since covering it, is %s (%d attempts, last %d %q)",
				d.ID, d.EndpointID, d.Status, d.AttemptCount, d.LastStatusCode, d.LastError)
		case d.Status == "failed" && d.AttemptCount > 0:
		case d.Status == "cancelled" && (strings.Contains(d.LastError, "endpoint disabled") || strings.Contains(d.LastError, "endpoint deleted")):
		default:
			t.Errorf("delivery %s to deleted endpoint %s ended %s (%d attempts, last %d %q): not a state the log explains",
				d.ID, d.EndpointID, d.Status, d.AttemptCount, d.LastStatusCode, d.LastError)
		}
	}
	if m.replay {
		for _, e := range m.live() {
			for _, ev := range m.events[e.created:] {
				if !slices.ContainsFunc(m.dels, func(d modelDelivery) bool { return d.eventID == ev && d.endpointID == e.id }) {
					found := false
					for _, d := range all {
						if d.EventID == ev && d.EndpointID == e.id && d.Status == "succeeded" {
							found = true
						}
					}
					if !found {
						t.Errorf("event %s, published while %s was disabled, was not delivered after enabling it with recover_since", ev, e.id)
					}
				}
			}
		}
	}

	// The log agrees with what each receiver saw.
	type pair struct{ event, endpoint string }
	attempts := make(map[pair]int)
	succeeded := make(map[pair]bool)
	for _, d := range all {
		k := pair{d.EventID, d.EndpointID}
		attempts[k] += d.AttemptCount
		if d.Status == "succeeded" {
			succeeded[k] = true
		}
	}
	for _, e := range m.eps {
		requests := make(map[pair]int)
		answered2xx := make(map[pair]bool)
		for _, h := range e.recv.hits() {
			k := pair{h.eventID, e.id}
			if !accepted[h.eventID] {
				t.Errorf("endpoint %s received event %q, which no publish accepted", e.id, h.eventID)
				continue
			}
			if h.verified != nil {
				t.Errorf("endpoint %s received event %s with a signature that does not verify: %v", e.id, h.eventID, h.verified)
			}
			requests[k]++
			if h.answer >= 200 && h.answer < 300 {
				answered2xx[k] = true
			}
		}
		for k, n := range requests {
			if n > attempts[k] {
				t.Errorf("endpoint %s received event %s %d times; the log shows %d attempts", e.id, k.event, n, attempts[k])
			}
			if answered2xx[k] && !succeeded[k] {
				t.Errorf("endpoint %s answered 2xx to event %s; the log does not call it succeeded", e.id, k.event)
			}
		}
		for k := range succeeded {
			if k.endpoint == e.id && !answered2xx[k] {
				t.Errorf("the log calls event %s succeeded at %s; its receiver never answered it 2xx", k.event, e.id)
			}
		}
	}
}
