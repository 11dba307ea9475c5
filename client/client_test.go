package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/client"
	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/app/apptest"
)

const adminKey = "hk_adm_client_test_0123456789abcdef"

// hookd is a real hookd (SQLite in a temp dir) behind a proxy that can inject
// faults: the client under test talks to the proxy.
type hookd struct {
	t       *testing.T
	direct  string // hookd itself
	proxy   *httptest.Server
	project string

	mu       sync.Mutex
	faults   []fault // consumed one per request to the events route
	requests []*http.Request
	keys     []string // Idempotency-Key of each publish that reached the proxy
}

type fault struct {
	status     int    // answer this instead of forwarding
	retryAfter string // with this Retry-After
	drop       bool   // forward, then drop the connection without answering
}

func startHookd(t *testing.T) *hookd {
	t.Helper()
	a := apptest.Start(t, app.Config{
		Addr:                 "127.0.0.1:0",
		DB:                   filepath.Join(t.TempDir(), "hookd.db"),
		AdminKey:             adminKey,
		AllowPrivateNetworks: true,
		PollInterval:         50 * time.Millisecond,
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	h := &hookd{t: t, direct: "http://" + a.Addr()}
	target, _ := url.Parse(h.direct)
	rp := httputil.NewSingleHostReverseProxy(target)
	h.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var f fault
		if r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/events") || strings.HasSuffix(r.URL.Path, "/events/batch")) {
			h.mu.Lock()
			h.requests = append(h.requests, r)
			h.keys = append(h.keys, r.Header.Get("Idempotency-Key"))
			if len(h.faults) > 0 {
				f, h.faults = h.faults[0], h.faults[1:]
			}
			h.mu.Unlock()
		}
		switch {
		case f.status != 0:
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.status)
			io.WriteString(w, `{"error":{"code":"unavailable","message":"injected"}}`)
		case f.drop:
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r) // hookd stores the event
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close() // ... and the answer is lost
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(h.proxy.Close)

	var p struct{ ID string }
	h.api("POST", "/v1/projects", `{"name":"Acme"}`, &p)
	h.project = p.ID
	return h
}

// api calls hookd directly, as a test's own eyes.
func (h *hookd) api(method, path, body string, out any) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.direct+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		h.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *hookd) inject(fs ...fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, fs...)
}

func (h *hookd) publishes() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.keys...)
}

func (h *hookd) eventCount() int {
	h.t.Helper()
	var l struct{ Items []json.RawMessage }
	h.api("GET", "/v1/projects/"+h.project+"/events?limit=100", "", &l)
	return len(l.Items)
}

// fakeAfter records the waits between retries and returns at once.
type fakeAfter struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeAfter) after(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

func (h *hookd) client(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(h.proxy.URL, adminKey, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPublish(t *testing.T) {
	t.Parallel()
	h := startHookd(t)
	c := h.client(t)
	ctx := context.Background()
	ev, err := c.Publish(ctx, h.project, client.Event{Type: "invoice.paid", Data: map[string]any{"amount": 42}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ev.ID, "evt_") || ev.Type != "invoice.paid" || ev.CreatedAt.IsZero() || ev.Replayed {
		t.Errorf("published %+v", ev)
	}
	keys := h.publishes()
	if len(keys) != 1 || keys[0] == "" || keys[0] != ev.IdempotencyKey {
		t.Errorf("Idempotency-Key sent %q, reported %q: want one generated key", keys, ev.IdempotencyKey)
	}
	// The data arrived as JSON.
	var got struct{ Data map[string]any }
	h.api("GET", "/v1/projects/"+h.project+"/events/"+ev.ID, "", &got)
	if got.Data["amount"] != float64(42) {
		t.Errorf("stored data %v", got.Data)
	}
	// The caller's own key: a second publish with it returns the same event.
	again, err := c.Publish(ctx, h.project, client.Event{Type: "invoice.paid", Data: map[string]int{"n": 1}, IdempotencyKey: "order-7"})
	if err != nil {
		t.Fatal(err)
	}
	replay, err := c.Publish(ctx, h.project, client.Event{Type: "invoice.paid", Data: map[string]int{"n": 1}, IdempotencyKey: "order-7"})
	if err != nil {
		t.Fatal(err)
	}
	if replay.ID != again.ID || !replay.Replayed {
		t.Errorf("replay = %+v, want event %s replayed", replay, again.ID)
	}
	// An empty OrderingKey is not sent (hookd refuses an empty one); a
	// given one is stored with the event.
	if n := h.eventCount(); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
	keyed, err := c.Publish(ctx, h.project, client.Event{Type: "order.paid", Data: map[string]int{"n": 2}, OrderingKey: "order-7"})
	if err != nil {
		t.Fatal(err)
	}
	var stored struct {
		OrderingKey string `json:"ordering_key"`
	}
	h.api("GET", "/v1/projects/"+h.project+"/events/"+keyed.ID, "", &stored)
	if keyed.OrderingKey != "order-7" || stored.OrderingKey != "order-7" {
		t.Errorf("ordering key answered %q, stored %q; want order-7", keyed.OrderingKey, stored.OrderingKey)
	}
}

func TestPublishError(t *testing.T) {
	t.Parallel()
	h := startHookd(t)
	c := h.client(t)
	_, err := c.Publish(context.Background(), h.project, client.Event{Type: "", Data: map[string]int{"n": 1}})
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 400 || e.Code != "invalid_argument" || !strings.Contains(e.Message, "type") {
		t.Fatalf("err = %#v, want a *client.Error 400 invalid_argument about type", err)
	}
	if len(h.publishes()) != 1 {
		t.Errorf("a 400 was retried: %d requests", len(h.publishes()))
	}
	_, err = c.Publish(context.Background(), "prj_nope", client.Event{Type: "a", Data: map[string]int{"n": 1}})
	if !client.IsNotFound(err) {
		t.Errorf("unknown project: %v, want not found", err)
	}
	before := len(h.publishes())
	if _, err := c.Publish(context.Background(), "", client.Event{Type: "a", Data: 1}); err == nil || len(h.publishes()) != before {
		t.Errorf("empty project id: %v, %d requests; want an error and no request", err, len(h.publishes())-before)
	}
	bad, _ := client.New(h.proxy.URL, "hk_wrong")
	_, err = bad.Publish(context.Background(), h.project, client.Event{Type: "a", Data: map[string]int{"n": 1}})
	if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: %v", err)
	}
}

// The answer to a publish is lost after hookd stored the event: the retry
// carries the same key and gets that event back; there is one event, not two.
func TestPublishRetryAfterDroppedConnection(t *testing.T) {
	t.Parallel()
	h := startHookd(t)
	fa := &fakeAfter{}
	c := h.client(t, client.WithAfter(fa.after))
	h.inject(fault{drop: true})
	ev, err := c.Publish(context.Background(), h.project, client.Event{Type: "order.created", Data: map[string]int{"n": 1}})
	if err != nil {
		t.Fatal(err)
	}
	keys := h.publishes()
	if len(keys) != 2 || keys[0] != keys[1] {
		t.Fatalf("publish requests carried keys %q, want two with the same key", keys)
	}
	if !ev.Replayed {
		t.Errorf("the retry was not answered as a replay: %+v", ev)
	}
	if n := h.eventCount(); n != 1 {
		t.Errorf("%d events stored, want 1", n)
	}
}

func TestPublishRetryAfter(t *testing.T) {
	t.Parallel()
	h := startHookd(t)
	fa := &fakeAfter{}
	c := h.client(t, client.WithAfter(fa.after), client.WithRetry(5, 10*time.Millisecond, 20*time.Millisecond))
	h.inject(fault{status: 429, retryAfter: "3"}, fault{status: 503, retryAfter: "7"}, fault{status: 503})
	ev, err := c.Publish(context.Background(), h.project, client.Event{Type: "a.b", Data: map[string]bool{"ok": true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fa.waits) != 3 {
		t.Fatalf("waited %v, want three waits", fa.waits)
	}
	if fa.waits[0] != 3*time.Second || fa.waits[1] != 7*time.Second {
		t.Errorf("waits %v: want Retry-After honoured (3s, then 7s)", fa.waits)
	}
	if fa.waits[2] > 20*time.Millisecond || fa.waits[2] <= 0 {
		t.Errorf("wait without Retry-After = %v, want the backoff (≤ 20ms)", fa.waits[2])
	}
	keys := h.publishes()
	for _, k := range keys {
		if k != keys[0] {
			t.Errorf("keys differ between tries: %q", keys)
		}
	}
	if len(keys) != 4 || ev.ID == "" || h.eventCount() != 1 {
		t.Errorf("%d requests, event %q, %d stored", len(keys), ev.ID, h.eventCount())
	}
	// Attempts run out: the last error is returned.
	h.inject(fault{status: 503}, fault{status: 503}, fault{status: 503}, fault{status: 503}, fault{status: 503})
	_, err = c.Publish(context.Background(), h.project, client.Event{Type: "a.b", Data: map[string]bool{"ok": true}})
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 503 || !e.Temporary() {
		t.Errorf("after 5 tries: %v, want the 503", err)
	}
}

// A deadline ends retries: a Retry-After that would pass it is not waited for.
func TestPublishDeadlineEndsRetries(t *testing.T) {
	t.Parallel()
	h := startHookd(t)
	fa := &fakeAfter{}
	c := h.client(t, client.WithAfter(fa.after))
	h.inject(fault{status: 503, retryAfter: "30"}, fault{status: 503, retryAfter: "30"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Publish(ctx, h.project, client.Event{Type: "a.b", Data: map[string]bool{"ok": true}})
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 503 || e.RetryAfter != 30*time.Second {
		t.Fatalf("err = %v, want the 503 with its Retry-After", err)
	}
	if len(fa.waits) != 0 || len(h.publishes()) != 1 {
		t.Errorf("waited %v over %d requests; want no wait past the deadline", fa.waits, len(h.publishes()))
	}

	// A context that ends during a wait ends the call with the last failure.
	h.inject(fault{status: 503})
	ctx2, cancel2 := context.WithCancel(context.Background())
	blocked := client.WithAfter(func(time.Duration) <-chan time.Time { cancel2(); return nil })
	_, err = h.client(t, blocked).Publish(ctx2, h.project, client.Event{Type: "a.b", Data: map[string]bool{"ok": true}})
	if !errors.As(err, &e) || e.StatusCode != 503 {
		t.Errorf("cancelled while waiting: %v, want the 503", err)
	}
}

func TestBackOffice(t *testing.T) {
	t.Parallel()
	h := startHookd(t)
	c := h.client(t)
	ctx := context.Background()
	// A receiver that is down.
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer recv.Close()

	ep, err := c.CreateEndpoint(ctx, h.project, client.NewEndpoint{URL: recv.URL, Description: "billing", EventTypes: []string{"invoice.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if !ep.Enabled || ep.URL != recv.URL || ep.Description != "billing" {
		t.Errorf("created %+v", ep)
	}
	got, err := c.GetEndpoint(ctx, h.project, ep.ID)
	if err != nil || got.ID != ep.ID {
		t.Fatalf("GetEndpoint: %+v, %v", got, err)
	}
	list, err := c.ListEndpoints(ctx, h.project, client.Page{Limit: 10})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("ListEndpoints: %+v, %v", list, err)
	}
	since := time.Now().Add(-time.Minute)
	off := false
	desc := "billing v2"
	upd, err := c.UpdateEndpoint(ctx, h.project, ep.ID, client.EndpointUpdate{Enabled: &off, Description: &desc})
	if err != nil || upd.Enabled || upd.Description != desc || upd.URL != recv.URL {
		t.Fatalf("UpdateEndpoint: %+v, %v", upd, err)
	}
	// Published while it is disabled: no delivery, until a recovery.
	missed, err := c.Publish(ctx, h.project, client.Event{Type: "invoice.missed", Data: map[string]int{"n": 0}})
	if err != nil || len(missed.Deliveries) != 0 {
		t.Fatalf("publish while disabled: %+v, %v", missed, err)
	}
	on := true
	if _, err := c.UpdateEndpoint(ctx, h.project, ep.ID, client.EndpointUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}

	ev, err := c.Publish(ctx, h.project, client.Event{Type: "invoice.paid", Data: map[string]int{"n": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Deliveries) != 1 {
		t.Fatalf("deliveries %+v", ev.Deliveries)
	}
	did := ev.Deliveries[0].ID
	// Wait until the delivery has failed at least once (a poll bounding a broken run).
	var d *client.Delivery
	for deadline := time.Now().Add(30 * time.Second); ; {
		d, err = c.GetDelivery(ctx, h.project, did)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Attempts) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no attempt: %+v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d.Attempts[0].StatusCode != 500 || d.EventID != ev.ID {
		t.Errorf("delivery %+v", d)
	}
	dl, err := c.ListDeliveries(ctx, h.project, client.DeliveryFilter{EndpointID: ep.ID, Since: since})
	if err != nil || len(dl.Items) != 1 || dl.Items[0].ID != did {
		t.Fatalf("ListDeliveries: %+v, %v", dl, err)
	}
	// Retrying a delivery that has not failed for good is refused with a typed error.
	if _, err := c.RetryDelivery(ctx, h.project, did); err != nil {
		var e *client.Error
		if !errors.As(err, &e) || e.Code == "" {
			t.Errorf("RetryDelivery: %v, want nil or a *client.Error", err)
		}
	}
	types, err := c.ListEventTypes(ctx, h.project, client.Page{Limit: 10})
	if err != nil || len(types.Items) != 2 || types.Items[0].Type != "invoice.missed" || types.Items[1].Type != "invoice.paid" ||
		types.Items[1].Count != 1 || string(types.Items[1].Example) != `{"n":1}` {
		t.Errorf("ListEventTypes: %+v, %v", types, err)
	}
	rec, err := c.RecoverEndpoint(ctx, h.project, ep.ID, since)
	if err != nil || rec.Replayed != 1 || rec.Resent != 0 || rec.Recovered != 1 {
		t.Errorf("RecoverEndpoint: %+v, %v; want the event published while disabled replayed", rec, err)
	}
	if err := c.DeleteEndpoint(ctx, h.project, ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetEndpoint(ctx, h.project, ep.ID); !client.IsNotFound(err) {
		t.Errorf("after delete: %v, want not found", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "hookd.example", "ftp://x", "http://"} {
		if _, err := client.New(bad, "k"); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if k1, k2 := client.NewIdempotencyKey(), client.NewIdempotencyKey(); k1 == k2 || len(k1) > 255 {
		t.Errorf("keys %q %q", k1, k2)
	}
}

// TestCreatePortalSession: a project key gets a one-time link; an invalid
// request is an *Error naming the field.
func TestCreatePortalSession(t *testing.T) {
	t.Parallel()
	h := startHookd(t)
	var k struct {
		Key string `json:"key"`
	}
	h.api("POST", "/v1/projects/"+h.project+"/api-keys", `{"name":"portal","scope":"project"}`, &k)
	c, err := client.New(h.proxy.URL, k.Key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ps, err := c.CreatePortalSession(ctx, h.project, client.PortalSessionRequest{
		Access: client.PortalView, TTL: 15 * time.Minute, ReturnURL: "https://app.example.com/settings"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ps.URL, "/ui/portal/hps_") || ps.Access != "view" || !strings.HasPrefix(ps.ID, "ps_") ||
		ps.ExpiresAt.Sub(time.Now()) < 14*time.Minute || ps.ExpiresAt.Sub(time.Now()) > 16*time.Minute {
		t.Errorf("portal session %+v", ps)
	}
	_, err = c.CreatePortalSession(ctx, h.project, client.PortalSessionRequest{Access: "all"})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusBadRequest || !strings.Contains(ce.Message, "access") {
		t.Errorf("invalid access: %v", err)
	}
}
