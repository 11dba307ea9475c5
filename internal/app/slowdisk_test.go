package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/publish"
)

// stallable is a database whose writes a test can stall from outside
// hookd, as a stalled disk (or database) looks to it: every commit waits.
type stallable struct {
	name string
	// open returns the DB setting of a fresh database and a func that
	// stalls its writes until the returned release is called.
	open func(t *testing.T) (db string, stall func() (release func()))
}

var stallables = []stallable{
	{"sqlite", func(t *testing.T) (string, func() func()) {
		path := filepath.Join(t.TempDir(), "hookd.db")
		return path, func() func() {
			// Another handle on the file holds its write lock. SQLite's
			// busy timeout (10 s of real time) would fail the waiting
			// commit with a 503 of its own; the test releases the lock
			// long before that (it never sleeps through the bound, it
			// moves the fake clock).
			// It waits for hookd's own writes (a heartbeat, an outcome)
			// rather than failing at once with "database is locked".
			db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: path}).String()+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			conn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
				t.Fatal(err)
			}
			return func() {
				if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
					t.Error(err)
				}
				conn.Close()
			}
		}
	}},
	{"postgres", func(t *testing.T) (string, func() func()) {
		dsn := pgtest.NewDatabase(t)
		return dsn, func() func() {
			// EXCLUSIVE lets plain reads through, as a slow disk
			// serves reads from the cache, and makes every write of
			// an event wait (no lock or statement timeout is set).
			conn, err := pgx.Connect(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close(context.Background()) })
			tx, err := conn.Begin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(context.Background(), "LOCK TABLE events IN EXCLUSIVE MODE"); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := tx.Rollback(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}
	}},
}

// gatedReceiver answers 200 to every webhook, but holds each request
// until it is opened; it counts the requests of every event.
type gatedReceiver struct {
	srv  *httptest.Server
	open chan struct{}
	once sync.Once // closes open
	mu   sync.Mutex
	seen map[string]int // requests by webhook-id (the event id)
}

func newGatedReceiver(t *testing.T) *gatedReceiver {
	g := &gatedReceiver{open: make(chan struct{}), seen: map[string]int{}}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-g.open:
		case <-req.Context().Done():
			return
		}
		g.mu.Lock()
		g.seen[req.Header.Get("webhook-id")]++
		g.mu.Unlock()
	}))
	t.Cleanup(g.srv.Close)
	// Before the server closes (cleanups run last first): a test that
	// failed before it opened the gate would leave a request held, and
	// Close waits for every request.
	t.Cleanup(g.release)
	return g
}

// release opens the gate: held and later requests are answered.
func (g *gatedReceiver) release() { g.once.Do(func() { close(g.open) }) }

// missing counts the ids the receiver has not had yet.
func (g *gatedReceiver) missing(ids []string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, id := range ids {
		if g.seen[id] == 0 {
			n++
		}
	}
	return n
}

// answer is an API answer with its headers.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

func (s *server) answer(method, path, key string, body []byte, header ...string) (answer, error) {
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, raw}, err
}

// message is the error message of an answer in the JSON error shape.
func (a answer) message() string {
	var e struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal(a.body, &e) != nil || e.Error.Code == "" {
		return ""
	}
	return e.Error.Code + ": " + e.Error.Message
}

// metricSum adds up the samples of the named counter on /metrics.
func (s *server) metricSum(name string) float64 {
	s.t.Helper()
	code, raw := s.call("GET", "/metrics", "", nil, nil)
	if code != 200 {
		s.t.Fatalf("/metrics: %d", code)
	}
	sum := 0.0
	for line := range strings.Lines(string(raw)) {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			s.t.Fatalf("/metrics: %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// TestSlowDisk: while the database's writes stall (SQLite's write lock, a
// PostgreSQL table lock, both held from outside hookd), a publish is
// answered 503 with Retry-After once the publish timeout has passed on the
// clock, never 202 for an event that is not stored, and its message says
// whether the event may still be stored; /readyz reports the stall, and
// the metric counts the timeouts. Deliveries already accepted go on being
// sent meanwhile. Once the stall ends, a retry with the same
// Idempotency-Key answers 202 with the event the stalled commit stored
// late (and a fresh one for an event that was not), and every event ever
// answered 202 is delivered. Both backends give the same answers.
func TestSlowDisk(t *testing.T) {
	for _, b := range stallables {
		t.Run(b.name, func(t *testing.T) {
			dsn, stall := b.open(t)
			clk := clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
			s := start(t, func(c *app.Config) {
				c.DB = dsn
				c.Clock = clk
				// One request at a time: the deliveries queued behind
				// the first can only start once the stall has begun.
				c.PerEndpoint = 1
			})
			p := s.newProject("stall")
			recv := newGatedReceiver(t)
			s.newEndpoint(p, recv.srv.URL)
			events := "/v1/projects/" + p.ID + "/events"
			post := func(key string) (answer, error) {
				body := fmt.Sprintf(`{"type":"disk.slow","data":{"key":%q}}`, key)
				return s.answer("POST", events, p.Key, []byte(body), "Idempotency-Key", key)
			}
			var accepted []string // events answered 202
			accept := func(a answer, err error) string {
				t.Helper()
				var ev published
				if err != nil || a.code != 202 || json.Unmarshal(a.body, &ev) != nil {
					t.Fatalf("publish: %d %s %v; want 202", a.code, a.body, err)
				}
				accepted = append(accepted, ev.ID)
				return ev.ID
			}

			// Before the stall: three events, the first one's request held
			// by the receiver, the others claimed behind it.
			for i := range 3 {
				accept(post(fmt.Sprintf("before-%d", i)))
			}
			waitFor(t, "every delivery claimed", func() bool {
				var list struct{ Items []json.RawMessage }
				s.must(200, "GET", "/v1/projects/"+p.ID+"/deliveries?status=pending", p.Key, nil, &list)
				return len(list.Items) == 0
			})

			release := stall()
			released := false
			defer func() {
				if !released {
					release()
				}
			}()
			// Sends do not wait on the database: the first request is
			// answered, and the two queued behind it are sent, while
			// every write waits.
			recv.release()
			waitFor(t, "the accepted events delivered during the stall", func() bool { return recv.missing(accepted) == 0 })

			// Publishes during the stall wait for the timeout, on the
			// clock, and then all get 503.
			const during = 4
			waiting := clk.Waiters()
			answers := make([]answer, during)
			errs := make([]error, during)
			var wg sync.WaitGroup
			for i := range during {
				wg.Go(func() { answers[i], errs[i] = post(fmt.Sprintf("during-%d", i)) })
			}
			waitFor(t, "the publishes waiting for their commit", func() bool { return clk.Waiters() >= waiting+during })
			if b.name == "postgres" {
				// A commit that is slow but within the bound is no
				// reason to take the node out of rotation. (On SQLite
				// the ping itself waits for the one write connection.)
				s.must(200, "GET", "/readyz", "", nil, nil)
			}
			clk.Advance(publish.DefaultTimeout)
			answered := make(chan struct{})
			go func() { wg.Wait(); close(answered) }()
			select {
			case <-answered:
			case <-time.After(30 * time.Second): // bounds a broken run only
				t.Fatal("the publishes were not answered once the clock had passed the publish timeout")
			}
			maybeStored := map[string]bool{}
			for i, a := range answers {
				key := fmt.Sprintf("during-%d", i)
				if errs[i] != nil || a.code != 503 {
					t.Fatalf("publish %s during the stall: %d %s %v; want 503", key, a.code, a.body, errs[i])
				}
				if a.header.Get("Retry-After") == "" {
					t.Errorf("publish %s: 503 without Retry-After", key)
				}
				switch msg := a.message(); {
				case strings.Contains(msg, "may still be stored: retry with the same Idempotency-Key"):
					maybeStored[key] = true
				case strings.Contains(msg, "the event was not stored"):
				default:
					t.Errorf("publish %s: 503 %q; want it to say whether the event may be stored", key, msg)
				}
			}
			t.Logf("%d of %d publishes during the stall had their commit started", len(maybeStored), during)
			if len(maybeStored) == 0 {
				t.Error("no publish was waiting for a commit in flight")
			}
			ready, err := s.answer("GET", "/readyz", "", nil)
			if err != nil || ready.code != 503 || ready.header.Get("Retry-After") == "" ||
				!strings.Contains(ready.message(), "has not finished a commit for 10s") {
				t.Errorf("/readyz during the stall: %d %s %v; want 503 naming the stalled commit, with Retry-After", ready.code, ready.body, err)
			}
			if n := s.metricSum("hookd_publish_timeouts_total"); n != during {
				t.Errorf("hookd_publish_timeouts_total = %v, want %d", n, during)
			}

			// The stall ends: the node is ready again once the stalled
			// commits are done.
			release()
			released = true
			waitFor(t, "/readyz answering 200", func() bool {
				a, err := s.answer("GET", "/readyz", "", nil)
				return err == nil && a.code == 200
			})
			// What the 503s said holds: the events whose commit had
			// started were stored late (on SQLite, had the lock been held
			// past its 10 s busy timeout, that commit would have failed
			// instead), the others not at all. A retry with the same key
			// answers 202 with the event stored late, and stores the
			// others now.
			late := map[string]string{}
			for _, e := range s.eventsByKey(p) {
				late[e.IdempotencyKey] = e.ID
			}
			for i := range during {
				key := fmt.Sprintf("during-%d", i)
				if _, stored := late[key]; stored != maybeStored[key] {
					t.Errorf("%s: stored %v after the stall, but its 503 said it may be stored: %v", key, stored, maybeStored[key])
				}
				a, err := post(key)
				id := accept(a, err)
				replayed := a.header.Get("Idempotent-Replayed") == "true"
				if replayed != maybeStored[key] || (replayed && id != late[key]) {
					t.Errorf("retry of %s: event %s, replayed %v; want the event stored late (%q) replayed exactly when the 503 said it may be stored (%v)",
						key, id, replayed, late[key], maybeStored[key])
				}
			}
			accept(post("after"))

			// Exactly one event per key, each of them answered 202, and
			// every one delivered.
			keys := map[string]int{}
			all := s.eventsByKey(p)
			for _, e := range all {
				keys[e.IdempotencyKey]++
				if !slices.Contains(accepted, e.ID) {
					t.Errorf("event %s (key %s) is stored but was never answered 202", e.ID, e.IdempotencyKey)
				}
			}
			if len(all) != 3+during+1 {
				t.Errorf("%d events stored, want %d: %v", len(all), 3+during+1, keys)
			}
			for k, n := range keys {
				if n != 1 {
					t.Errorf("key %s has %d events", k, n)
				}
			}
			waitFor(t, "every accepted event delivered", func() bool { return recv.missing(accepted) == 0 })
			settled(t, s, p, 60*time.Second, "after the stall")
		})
	}
}

// storedEvent is an event as listed by the API.
type storedEvent struct {
	ID             string `json:"id"`
	IdempotencyKey string `json:"idempotency_key"`
}

// eventsByKey lists p's events (fewer than a page).
func (s *server) eventsByKey(p project) []storedEvent {
	s.t.Helper()
	var list struct{ Items []storedEvent }
	s.must(200, "GET", "/v1/projects/"+p.ID+"/events?limit=100", p.Key, nil, &list)
	return list.Items
}
