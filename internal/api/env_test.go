package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
)

// start is the fake clock's starting time in every test.
var start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// env is one API over a real SQLite file, served by a real HTTP server.
type env struct {
	t       testing.TB
	db      *sqlite.DB
	clock   *clock.Fake
	handler http.Handler
	srv     *httptest.Server
	admin   string // the admin key
	reg     *prometheus.Registry
	wakes   atomic.Int64
	rotated chan string
	tester  *httpTester
	logs    *syncBuffer // everything the API logged
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t testing.TB, opts ...func(*service.Config)) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir()+"/hookd.db")
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{
		t:       t,
		db:      db,
		clock:   clock.NewFake(start),
		admin:   service.NewKey(service.AdminKeyPrefix),
		reg:     prometheus.NewRegistry(),
		rotated: make(chan string, 100),
		tester:  &httpTester{client: &http.Client{Timeout: 10 * time.Second}},
		logs:    &syncBuffer{},
	}
	err = db.CreateAPIKey(ctx, store.APIKey{
		ID: ids.New(ids.APIKey, start), Hash: service.HashKey(e.admin), Prefix: "hk_adm_", Scope: "admin", CreatedAt: start,
	})
	if err != nil {
		t.Fatalf("seed admin key: %v", err)
	}
	e.handler = e.newHandler(opts...)
	e.srv = httptest.NewServer(e.handler)
	t.Cleanup(e.srv.Close)
	return e
}

// newService builds the services over the env's database, as a node
// would.
func (e *env) newService(opts ...func(*service.Config)) *service.Service {
	e.t.Helper()
	cfg := service.Config{
		Store:     e.db,
		Publisher: storePublisher{st: e.db, clock: e.clock},
		Tester:    e.tester,
		Clock:     e.clock,
		Wake:      func() { e.wakes.Add(1) },
		OnRotate:  func(pid string) { e.rotated <- pid },
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := service.New(cfg)
	if err != nil {
		e.t.Fatalf("service.New: %v", err)
	}
	return svc
}

// newHandler builds another API over the same database, like a second
// node would.
func (e *env) newHandler(opts ...func(*service.Config)) http.Handler {
	e.t.Helper()
	cfg := api.Config{
		Service:    e.newService(opts...),
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: prometheus.NewRegistry(),
		Clock:      e.clock,
	}
	if e.reg != nil && e.handler == nil {
		cfg.Registerer = e.reg
	}
	h, err := api.New(cfg)
	if err != nil {
		e.t.Fatalf("api.New: %v", err)
	}
	return h
}

// storePublisher commits each event on its own: the group-commit batcher
// lives elsewhere, and its only contract with the API is "return after
// commit".
type storePublisher struct {
	st    store.Store
	clock clock.Clock
}

func (p storePublisher) Publish(ctx context.Context, e store.Event) (store.PublishResult, error) {
	res, err := p.st.Publish(ctx, []store.Event{e}, p.clock.Now().Add(-24*time.Hour), nil)
	if err != nil {
		return store.PublishResult{}, err
	}
	return res[0], nil
}

// httpTester really POSTs the test event, unsigned; signing is the delivery
// engine's business and tested there.
type httpTester struct {
	client *http.Client
	mu     sync.Mutex
	calls  []testCall
}

type testCall struct {
	ProjectID string
	URL       string
	Type      string
	Data      string
}

func (h *httpTester) Test(ctx context.Context, projectID, url, eventType string, data json.RawMessage) (outbound.Result, error) {
	h.mu.Lock()
	h.calls = append(h.calls, testCall{projectID, url, eventType, string(data)})
	h.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"type": eventType, "data": data})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return outbound.Result{}, err
	}
	began := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		return outbound.Result{Duration: time.Since(began), Err: err.Error()}, nil
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return outbound.Result{
		StatusCode:   resp.StatusCode,
		Duration:     time.Since(began),
		ResponseBody: string(excerpt),
	}, nil
}

func (h *httpTester) callCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.calls)
}

// resp is an answer of the API.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request. body: nil for none, string or []byte as is, anything
// else as JSON. hdr are extra header name/value pairs.
func (e *env) do(method, path, key string, body any, hdr ...string) resp {
	e.t.Helper()
	req := e.request(method, e.srv.URL+path, key, body, hdr...)
	r, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp{status: r.StatusCode, header: r.Header, body: b}
}

// doFrom is do from another loopback address (ip, such as 127.0.0.2),
// for the limits kept per client address.
func (e *env) doFrom(ip net.IP, method, path, key string, body any) resp {
	e.t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext}
	defer tr.CloseIdleConnections()
	r, err := (&http.Client{Transport: tr}).Do(e.request(method, e.srv.URL+path, key, body))
	if err != nil {
		e.t.Fatalf("%s %s from %s: %v", method, path, ip, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp{status: r.StatusCode, header: r.Header, body: b}
}

// serve runs a request through h without a network, for fuzzing. It takes
// its own t because a fuzz target must not use the env's *testing.F.
func serve(t testing.TB, h http.Handler, method, path, key string, body []byte) resp {
	t.Helper()
	req := newRequest(t, method, "http://hookd.test"+path, key, body)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return resp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (e *env) request(method, url, key string, body any, hdr ...string) *http.Request {
	e.t.Helper()
	return newRequest(e.t, method, url, key, body, hdr...)
}

func newRequest(t testing.TB, method, url, key string, body any, hdr ...string) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal request: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req
}

// decode parses the answer into v after checking the status.
func (r resp) decode(t testing.TB, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if v == nil {
		return
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantError checks status, error code and that the message contains msg.
func (r resp) wantError(t testing.TB, status int, code, msg string) {
	t.Helper()
	var eb errorBody
	r.decode(t, status, &eb)
	if eb.Error.Code != code {
		t.Errorf("error code %q, want %q (body %s)", eb.Error.Code, code, r.body)
	}
	if !strings.Contains(eb.Error.Message, msg) {
		t.Errorf("error message %q does not contain %q", eb.Error.Message, msg)
	}
}

// Shapes of answers, as a client would declare them.
type projectOut struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

type keyOut struct {
	ID         string     `json:"id"`
	Key        string     `json:"key"`
	Name       string     `json:"name"`
	Scope      string     `json:"scope"`
	Prefix     string     `json:"prefix"`
	CreatedBy  *string    `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

type endpointOut struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Description    string    `json:"description"`
	EventTypes     []string  `json:"event_types"`
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabled_reason"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`

	RateLimitPerSecond  int        `json:"rate_limit_per_second"`
	MaxConcurrency      int        `json:"max_concurrency"`
	FailingSince        *time.Time `json:"failing_since"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	Breaker             string     `json:"breaker"`
	NextProbeAt         *time.Time `json:"next_probe_at"`
}

type publishOut struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	CreatedAt  time.Time `json:"created_at"`
	Deliveries []struct {
		ID         string `json:"id"`
		EndpointID string `json:"endpoint_id"`
	} `json:"deliveries"`
}

type eventOut struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	CreatedAt      time.Time       `json:"created_at"`
	Data           json.RawMessage `json:"data"`
	IdempotencyKey string          `json:"idempotency_key"`
}

type deliveryOut struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EndpointID     string     `json:"endpoint_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	AttemptCount   int        `json:"attempt_count"`
	LastStatusCode int        `json:"last_status_code"`
	LastError      string     `json:"last_error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	HeldReason     *string    `json:"held_reason"`
	HeldUntil      *time.Time `json:"held_until"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	Attempts       []struct {
		Number       int       `json:"number"`
		StartedAt    time.Time `json:"started_at"`
		DurationMS   int64     `json:"duration_ms"`
		StatusCode   int       `json:"status_code"`
		Error        string    `json:"error"`
		ResponseBody string    `json:"response_body"`
		Signature    string    `json:"webhook_signature"`
	} `json:"attempts"`
}

type secretOut struct {
	Secret    string `json:"secret"`
	PublicKey string `json:"public_key"`
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// project creates a project with the admin key and a key of its own.
func (e *env) project(name string) (pid, key string) {
	e.t.Helper()
	var p projectOut
	e.do("POST", "/v1/projects", e.admin, map[string]any{"name": name}).decode(e.t, 201, &p)
	var k keyOut
	e.do("POST", "/v1/projects/"+p.ID+"/api-keys", e.admin, nil).decode(e.t, 201, &k)
	return p.ID, k.Key
}

func (e *env) endpoint(pid, key string, body map[string]any) endpointOut {
	e.t.Helper()
	var ep endpointOut
	e.do("POST", "/v1/projects/"+pid+"/endpoints", key, body).decode(e.t, 201, &ep)
	return ep
}

func (e *env) publish(pid, key, typ string, data any, hdr ...string) publishOut {
	e.t.Helper()
	var out publishOut
	e.do("POST", "/v1/projects/"+pid+"/events", key, map[string]any{"type": typ, "data": data}, hdr...).decode(e.t, 202, &out)
	return out
}

// state is everything stored about a project, to show a refused request
// changed nothing.
type state struct {
	Projects   []store.Project
	Endpoints  []store.Endpoint
	Events     []store.Event
	Deliveries []store.Delivery
	Attempts   map[string][]store.Attempt
	Secrets    []store.Secret
	Keys       []store.APIKey
}

func (e *env) state(pid string, keys ...string) state {
	e.t.Helper()
	ctx := context.Background()
	all := store.Page{Limit: 10000}
	var s state
	var err error
	check := func(what string) {
		if err != nil {
			e.t.Fatalf("state: %s: %v", what, err)
		}
	}
	s.Projects, err = e.db.ListProjects(ctx, "", all)
	check("projects")
	s.Endpoints, err = e.db.ListEndpoints(ctx, pid, all)
	check("endpoints")
	s.Events, err = e.db.ListEvents(ctx, pid, store.EventFilter{}, all)
	check("events")
	s.Deliveries, err = e.db.ListDeliveries(ctx, pid, store.DeliveryFilter{}, all)
	check("deliveries")
	s.Attempts = map[string][]store.Attempt{}
	for _, d := range s.Deliveries {
		s.Attempts[d.ID], err = e.db.ListAttempts(ctx, pid, d.ID)
		check("attempts")
	}
	s.Secrets, err = e.db.ActiveSecrets(ctx, pid, e.clock.Now())
	check("secrets")
	for _, k := range keys {
		var got store.APIKey
		got, err = e.db.GetAPIKeyByHash(ctx, service.HashKey(k))
		check("key")
		got.LastUsedAt = time.Time{} // using a key is no change of state
		s.Keys = append(s.Keys, got)
	}
	return s
}
