package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

var mwNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const mwBody = `{"id":"evt_1","type":"tester.created","timestamp":"2026-11-26T12:00:00Z","data":{"name":"Ada"}}`

// recorder is a next handler that counts calls and keeps what it saw.
type recorder struct {
	mu     sync.Mutex
	calls  int
	bodies []string
	events []webhook.Event
	status int // answered; 0 means 204
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		panic(err)
	}
	ev, ok := webhook.EventFromContext(r.Context())
	rec.mu.Lock()
	rec.calls++
	rec.bodies = append(rec.bodies, string(body))
	if ok {
		rec.events = append(rec.events, ev)
	}
	status := rec.status
	rec.mu.Unlock()
	if status == 0 {
		status = http.StatusNoContent
	}
	w.WriteHeader(status)
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.calls
}

// signedRequest builds a delivery as hookd sends it.
func signedRequest(t testing.TB, s *webhook.Signer, id string, at time.Time, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/webhooks", strings.NewReader(body))
	for name, vs := range s.Headers(id, at, []byte(body)) {
		r.Header[name] = vs
	}
	r.Header.Set("Content-Type", "application/json")
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func newMiddleware(t testing.TB, keys []string, next http.Handler, opts ...webhook.MiddlewareOption) http.Handler {
	t.Helper()
	v := mustVerifier(t, keys, at(mwNow))
	return webhook.Middleware(v, opts...)(next)
}

func TestMiddlewareValid(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := newMiddleware(t, []string{katSecret}, rec)
	w := serve(h, signedRequest(t, mustSigner(t, katSecret), "evt_1", mwNow.Add(-3*time.Second), mwBody))
	if w.Code != http.StatusNoContent {
		t.Fatalf("status = %d (%s), want 204 from the handler", w.Code, w.Body)
	}
	if rec.count() != 1 {
		t.Fatalf("handler called %d times, want 1", rec.count())
	}
	// The raw body reaches the handler unchanged, and the event is in the context.
	if rec.bodies[0] != mwBody {
		t.Errorf("handler read %q, want the raw body %q", rec.bodies[0], mwBody)
	}
	if len(rec.events) != 1 {
		t.Fatal("EventFromContext found no event")
	}
	ev := rec.events[0]
	if ev.ID != "evt_1" || ev.Type != "tester.created" || string(ev.Data) != `{"name":"Ada"}` ||
		!ev.Timestamp.Equal(mwNow.Add(-3*time.Second)) || string(ev.Body) != mwBody {
		t.Errorf("event = %+v", ev)
	}
	if _, ok := webhook.EventFromContext(context.Background()); ok {
		t.Error("EventFromContext found an event in a bare context")
	}
}

func TestMiddlewareRefuses(t *testing.T) {
	t.Parallel()
	signer := mustSigner(t, katSecret)
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
		want   error
	}{
		{"tampered body", func() *http.Request {
			r := signedRequest(t, signer, "evt_1", mwNow, mwBody)
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(mwBody, "Ada", "Eve", 1)))
			return r
		}, http.StatusUnauthorized, webhook.ErrNoMatchingSignature},
		{"tampered id", func() *http.Request {
			r := signedRequest(t, signer, "evt_1", mwNow, mwBody)
			r.Header.Set(webhook.HeaderID, "evt_2")
			return r
		}, http.StatusUnauthorized, webhook.ErrNoMatchingSignature},
		{"wrong secret", func() *http.Request {
			return signedRequest(t, mustSigner(t, mustSecret(t)), "evt_1", mwNow, mwBody)
		}, http.StatusUnauthorized, webhook.ErrNoMatchingSignature},
		{"replayed an hour later", func() *http.Request {
			return signedRequest(t, signer, "evt_1", mwNow.Add(-time.Hour), mwBody)
		}, http.StatusUnauthorized, webhook.ErrTimestampTooOld},
		{"from the future", func() *http.Request {
			return signedRequest(t, signer, "evt_1", mwNow.Add(time.Hour), mwBody)
		}, http.StatusUnauthorized, webhook.ErrTimestampTooNew},
		{"unsigned", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/webhooks", strings.NewReader(mwBody))
		}, http.StatusBadRequest, webhook.ErrMissingHeader},
		{"malformed signature", func() *http.Request {
			r := signedRequest(t, signer, "evt_1", mwNow, mwBody)
			r.Header.Set(webhook.HeaderSignature, "v1,!!!")
			return r
		}, http.StatusBadRequest, webhook.ErrMalformedSignature},
		{"GET", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/webhooks", nil)
		}, http.StatusMethodNotAllowed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			var gotErr error
			var gotStatus int
			h := newMiddleware(t, []string{katSecret}, rec, webhook.WithErrorHandler(
				func(w http.ResponseWriter, r *http.Request, status int, err error) {
					gotStatus, gotErr = status, err
					http.Error(w, err.Error(), status)
				}))
			w := serve(h, tc.req())
			if w.Code != tc.status {
				t.Errorf("status = %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tc.status)
			}
			if rec.count() != 0 {
				t.Errorf("handler was called for a refused request")
			}
			if gotStatus != tc.status {
				t.Errorf("error handler got status %d, want %d", gotStatus, tc.status)
			}
			if tc.want != nil && !errors.Is(gotErr, tc.want) {
				t.Errorf("error = %v, want %v", gotErr, tc.want)
			}
		})
	}
}

func TestMiddlewareDefaultErrorAnswer(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := newMiddleware(t, []string{katSecret}, rec)
	w := serve(h, signedRequest(t, mustSigner(t, katSecret), "evt_1", mwNow.Add(-time.Hour), mwBody))
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "timestamp too old") {
		t.Errorf("answer = %d %q, want 401 naming the reason", w.Code, w.Body)
	}
}

func TestMiddlewareBodyLimit(t *testing.T) {
	t.Parallel()
	signer := mustSigner(t, katSecret)
	for _, tc := range []struct {
		size          int
		chunked       bool
		status, calls int
	}{
		{100, false, http.StatusNoContent, 1},
		{101, false, http.StatusRequestEntityTooLarge, 0},
		{101, true, http.StatusRequestEntityTooLarge, 0},
		{100, true, http.StatusNoContent, 1},
	} {
		rec := &recorder{}
		h := newMiddleware(t, []string{katSecret}, rec, webhook.WithMaxBodyBytes(100))
		body := `{"data":"` + strings.Repeat("x", tc.size-11) + `"}`
		r := signedRequest(t, signer, "evt_"+strconv.Itoa(tc.size), mwNow, body)
		if tc.chunked {
			r.ContentLength = -1 // unknown length: the limit applies while reading
		}
		w := serve(h, r)
		if w.Code != tc.status || rec.count() != tc.calls {
			t.Errorf("%d bytes (chunked %v): status %d, %d calls; want %d, %d calls", tc.size, tc.chunked, w.Code, rec.count(), tc.status, tc.calls)
		}
	}
	// The default bounds bodies too.
	rec := &recorder{}
	h := newMiddleware(t, []string{katSecret}, rec)
	big := strings.Repeat("x", webhook.DefaultMaxBodyBytes+1)
	if w := serve(h, signedRequest(t, signer, "evt_big", mwNow, big)); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("body over the default limit: status %d, want 413", w.Code)
	}
}

func TestMiddlewareRotation(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := mustSecret(t), mustSecret(t)
	oldPriv, oldPub := mustKeyPair(t)
	rec := &recorder{}
	// The receiver knows both secrets (and a public key) while the sender rotates.
	h := newMiddleware(t, []string{newSecret, oldSecret, oldPub}, rec)
	for i, signer := range []*webhook.Signer{
		mustSigner(t, oldSecret),
		mustSigner(t, newSecret, oldSecret),
		mustSigner(t, newSecret),
		mustSigner(t, oldPriv),
	} {
		w := serve(h, signedRequest(t, signer, fmt.Sprintf("evt_%d", i), mwNow, mwBody))
		if w.Code != http.StatusNoContent {
			t.Errorf("signer %d (%s): status %d (%s)", i, signer, w.Code, w.Body)
		}
	}
	if rec.count() != 4 {
		t.Errorf("handler called %d times, want 4", rec.count())
	}
	// Once the old secret is dropped, webhooks signed only with it are refused.
	h = newMiddleware(t, []string{newSecret}, rec)
	if w := serve(h, signedRequest(t, mustSigner(t, oldSecret), "evt_9", mwNow, mwBody)); w.Code != http.StatusUnauthorized {
		t.Errorf("old secret after rotation: status %d, want 401", w.Code)
	}
}

func TestMiddlewareDuplicate(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	signer := mustSigner(t, katSecret)
	h := newMiddleware(t, []string{katSecret}, rec, webhook.WithDeduplicator(webhook.NewMemoryDeduplicator(100, time.Hour)))
	if w := serve(h, signedRequest(t, signer, "evt_1", mwNow, mwBody)); w.Code != http.StatusNoContent {
		t.Fatalf("first: status %d", w.Code)
	}
	// A retry of the same webhook, signed again a second later.
	w := serve(h, signedRequest(t, signer, "evt_1", mwNow.Add(time.Second), mwBody))
	if w.Code != http.StatusOK {
		t.Errorf("duplicate: status %d, want 200", w.Code)
	}
	if rec.count() != 1 {
		t.Errorf("handler called %d times, want 1", rec.count())
	}
	// Another id is processed.
	if w := serve(h, signedRequest(t, signer, "evt_2", mwNow, mwBody)); w.Code != http.StatusNoContent || rec.count() != 2 {
		t.Errorf("other id: status %d, %d calls", w.Code, rec.count())
	}
	// A forged request with a known id is refused, not answered as a duplicate.
	r := signedRequest(t, mustSigner(t, mustSecret(t)), "evt_1", mwNow, mwBody)
	if w := serve(h, r); w.Code != http.StatusUnauthorized {
		t.Errorf("forged duplicate: status %d, want 401", w.Code)
	}
}

func TestMiddlewareFailingHandlerReleases(t *testing.T) {
	t.Parallel()
	signer := mustSigner(t, katSecret)
	for _, tc := range []struct {
		name string
		fail http.HandlerFunc
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "db down", http.StatusInternalServerError) }},
		{"503 after writing", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("later"))
		}},
		{"409", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusConflict) }},
		{"panic", func(w http.ResponseWriter, r *http.Request) { panic("handler bug") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var failing atomic.Bool
			failing.Store(true)
			var processed atomic.Int32
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if failing.Load() {
					tc.fail(w, r)
					return
				}
				processed.Add(1)
				w.WriteHeader(http.StatusOK)
			})
			h := newMiddleware(t, []string{katSecret}, next, webhook.WithDeduplicator(webhook.NewMemoryDeduplicator(100, time.Hour)))
			func() {
				defer func() {
					if p := recover(); p != nil && tc.name != "panic" {
						t.Errorf("unexpected panic %v", p)
					}
				}()
				w := serve(h, signedRequest(t, signer, "evt_1", mwNow, mwBody))
				if w.Code < 300 {
					t.Errorf("failing handler answered %d through the middleware", w.Code)
				}
			}()
			failing.Store(false)
			if w := serve(h, signedRequest(t, signer, "evt_1", mwNow.Add(time.Minute), mwBody)); w.Code != http.StatusOK || processed.Load() != 1 {
				t.Errorf("retry after a failure: status %d, processed %d times; want 200, once", w.Code, processed.Load())
			}
			// Now it succeeded, the next retry is a duplicate.
			serve(h, signedRequest(t, signer, "evt_1", mwNow.Add(2*time.Minute), mwBody))
			if processed.Load() != 1 {
				t.Errorf("processed %d times after success and a duplicate, want 1", processed.Load())
			}
		})
	}
}

// Two deliveries of one id at once (a sender that timed out and retried while the
// first attempt still runs) must not both run the handler. The second is answered
// 409 so the sender retries later; by then the first has finished.
func TestMiddlewareConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int32
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	})
	signer := mustSigner(t, katSecret)
	h := newMiddleware(t, []string{katSecret}, next, webhook.WithDeduplicator(webhook.NewMemoryDeduplicator(100, time.Hour)))
	done := make(chan int)
	go func() { done <- serve(h, signedRequest(t, signer, "evt_1", mwNow, mwBody)).Code }()
	<-entered
	w := serve(h, signedRequest(t, signer, "evt_1", mwNow, mwBody))
	if w.Code != http.StatusConflict || w.Header().Get("Retry-After") == "" {
		t.Errorf("concurrent duplicate: status %d, Retry-After %q; want 409 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	close(release)
	if code := <-done; code != http.StatusNoContent {
		t.Errorf("first: status %d", code)
	}
	if w := serve(h, signedRequest(t, signer, "evt_1", mwNow, mwBody)); w.Code != http.StatusOK {
		t.Errorf("after the first finished: status %d, want 200 (duplicate)", w.Code)
	}
	if calls.Load() != 1 {
		t.Errorf("handler ran %d times, want 1", calls.Load())
	}

	// Many at once: exactly one runs.
	var many atomic.Int32
	gate := make(chan struct{})
	next2 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		many.Add(1)
		<-gate
		w.WriteHeader(http.StatusNoContent)
	})
	h2 := newMiddleware(t, []string{katSecret}, next2, webhook.WithDeduplicator(webhook.NewMemoryDeduplicator(100, time.Hour)))
	var wg sync.WaitGroup
	codes := make(chan int, 16)
	for range 16 {
		wg.Go(func() { codes <- serve(h2, signedRequest(t, signer, "evt_2", mwNow, mwBody)).Code })
	}
	// All but the one in the handler answer without waiting for it.
	conflicts := 0
	for conflicts < 15 {
		if c := <-codes; c == http.StatusConflict {
			conflicts++
		} else {
			t.Fatalf("status %d while one request holds the id", c)
		}
	}
	close(gate)
	wg.Wait()
	if c := <-codes; c != http.StatusNoContent {
		t.Errorf("the one processed: status %d", c)
	}
	if many.Load() != 1 {
		t.Errorf("handler ran %d times for one id, want 1", many.Load())
	}
}

// failingDedup is a store that is down.
type failingDedup struct{}

func (failingDedup) Claim(context.Context, string) (webhook.ClaimResult, error) {
	return 0, errors.New("connection refused")
}
func (failingDedup) Complete(context.Context, string) error { return nil }
func (failingDedup) Release(context.Context, string) error  { return nil }

func TestMiddlewareDeduplicatorDown(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := newMiddleware(t, []string{katSecret}, rec, webhook.WithDeduplicator(failingDedup{}))
	w := serve(h, signedRequest(t, mustSigner(t, katSecret), "evt_1", mwNow, mwBody))
	if w.Code != http.StatusServiceUnavailable || rec.count() != 0 {
		t.Errorf("deduplicator down: status %d, %d calls; want 503 and no call (the sender retries)", w.Code, rec.count())
	}
	if strings.Contains(w.Body.String(), "connection refused") {
		t.Errorf("answer shows the store's error: %q", w.Body)
	}
}

func TestMiddlewareBodyIsNotJSON(t *testing.T) {
	t.Parallel()
	// Standard Webhooks senders send JSON, but the signature covers any bytes: an
	// authentic non-JSON body still reaches the handler, with an empty Type.
	rec := &recorder{}
	h := newMiddleware(t, []string{katSecret}, rec)
	w := serve(h, signedRequest(t, mustSigner(t, katSecret), "evt_1", mwNow, "not json"))
	if w.Code != http.StatusNoContent || len(rec.events) != 1 || rec.events[0].Type != "" || string(rec.events[0].Body) != "not json" {
		t.Errorf("status %d, events %+v", w.Code, rec.events)
	}
}

func TestMiddlewareOverHTTP(t *testing.T) {
	t.Parallel()
	// Through a real server: the handler can stream and flush through the wrapper.
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, _ := webhook.EventFromContext(r.Context())
		w.Write([]byte(ev.Type))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the middleware: %v", err)
		}
	})
	srv := httptest.NewServer(webhook.Middleware(mustVerifier(t, []string{katSecret}))(next))
	defer srv.Close()
	body := []byte(mwBody)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
	for name, vs := range mustSigner(t, katSecret).Headers("evt_1", time.Now(), body) {
		req.Header[name] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(got) != "tester.created" {
		t.Errorf("answer %d %q", resp.StatusCode, got)
	}
}

func TestMemoryDeduplicator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := webhook.NewMemoryDeduplicator(3, time.Hour)
	claim := func(id string) webhook.ClaimResult {
		t.Helper()
		r, err := d.Claim(ctx, id)
		if err != nil {
			t.Fatalf("Claim(%s): %v", id, err)
		}
		return r
	}
	if r := claim("a"); r != webhook.Claimed {
		t.Fatalf("first claim = %v", r)
	}
	if r := claim("a"); r != webhook.InProgress {
		t.Errorf("claim while in progress = %v, want InProgress", r)
	}
	d.Complete(ctx, "a")
	if r := claim("a"); r != webhook.Duplicate {
		t.Errorf("claim after Complete = %v, want Duplicate", r)
	}
	claim("b")
	d.Release(ctx, "b")
	if r := claim("b"); r != webhook.Claimed {
		t.Errorf("claim after Release = %v, want Claimed", r)
	}
	d.Complete(ctx, "b")
	// Bounded: the oldest completed id is forgotten first.
	for _, id := range []string{"c", "d"} {
		claim(id)
		d.Complete(ctx, id)
	}
	if n := d.Len(); n != 3 {
		t.Errorf("Len = %d, want 3 (the bound)", n)
	}
	if r := claim("a"); r != webhook.Claimed {
		t.Errorf("oldest id after eviction = %v, want Claimed", r)
	}
	// When every slot holds a request in progress, nothing can be evicted safely.
	full := webhook.NewMemoryDeduplicator(2, time.Hour)
	full.Claim(ctx, "x")
	full.Claim(ctx, "y")
	if _, err := full.Claim(ctx, "z"); !errors.Is(err, webhook.ErrDeduplicatorFull) {
		t.Errorf("Claim with every slot in progress: %v, want ErrDeduplicatorFull", err)
	}
}

func TestMiddlewarePanicsWithoutVerifier(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("Middleware(nil) did not panic")
		}
	}()
	webhook.Middleware(nil)
}
