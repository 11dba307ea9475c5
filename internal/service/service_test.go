package service_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/publish"
	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
)

var start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// env is the services over a real SQLite file, publishing through the
// real group-commit batcher and testing through the real Tester.
type env struct {
	t       *testing.T
	db      *sqlite.DB
	clock   *clock.Fake
	batcher *publish.Batcher
	svc     *service.Service
	wakes   int
	rotated []string
	mu      sync.Mutex
}

func newEnv(t *testing.T, opts ...func(*service.Config)) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, db: db, clock: clock.NewFake(start)}
	e.batcher = publish.New(publish.Config{Store: db, Clock: e.clock})
	t.Cleanup(e.batcher.Close)
	client, err := outbound.New(outbound.Config{Timeout: 10 * time.Second, AllowPrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.CloseIdleConnections)
	keys := delivery.NewKeys(db, nil, time.Second)
	cfg := service.Config{
		Store:     db,
		Publisher: e.batcher,
		Tester:    &delivery.Tester{Keys: keys, Sender: client, Clock: e.clock},
		Clock:     e.clock,
		Wake: func() {
			e.mu.Lock()
			e.wakes++
			e.mu.Unlock()
		},
		OnRotate: func(pid string) {
			e.mu.Lock()
			e.rotated = append(e.rotated, pid)
			e.mu.Unlock()
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.svc, err = service.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) project(name string) string {
	e.t.Helper()
	p, err := e.svc.Projects.Create(context.Background(), service.CreateProject{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.ID
}

// wantError checks err is a service error with this code and field.
func wantError(t *testing.T, err error, code service.Code, field string) {
	t.Helper()
	var se *service.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want a *service.Error %s on %q", err, err, code, field)
	}
	if se.Code != code || se.Field != field {
		t.Fatalf("error %s on %q (%v), want %s on %q", se.Code, se.Field, se, code, field)
	}
}

func TestNewNeedsItsParts(t *testing.T) {
	if _, err := service.New(service.Config{}); err == nil {
		t.Fatal("New without a Store succeeded")
	}
}

func TestValidationNamesTheField(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid := e.project("acme")
	long := strings.Repeat("x", 1001)
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name  string
		err   error
		field string
	}{
		{"empty name", service.CreateProject{Name: "  "}.Validate(), "name"},
		{"scheme", service.CreateProject{Name: "a", SignatureScheme: "rsa"}.Validate(), "signature_scheme"},
		{"url", func() error {
			_, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "ftp://x"})
			return err
		}(), "url"},
		{"description", func() error {
			_, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "https://example.com", Description: long})
			return err
		}(), "description"},
		{"event type entry", func() error {
			_, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "https://example.com", EventTypes: []string{"a", "b c"}})
			return err
		}(), "event_types[1]"},
		{"update description", service.UpdateEndpoint{Description: str(long)}.Validate(), "description"},
		{"update url", service.UpdateEndpoint{URL: str("/relative")}.Validate(), "url"},
		{"create url", service.CreateEndpoint{URL: "https://u:p@example.com/"}.Validate(), "url"},
		{"publish type", service.PublishEvent{Type: "a b", Data: []byte(`{}`)}.Validate(), "type"},
		{"publish data array", service.PublishEvent{Type: "a", Data: []byte(`[1]`)}.Validate(), "data"},
		{"publish data broken", service.PublishEvent{Type: "a", Data: []byte(`{"a":`)}.Validate(), "data"},
		{"publish data broken, published", func() error {
			_, err := e.svc.Events.Publish(ctx, pid, service.PublishEvent{Type: "a", Data: []byte(`{"a":`)})
			return err
		}(), "data"},
		{"idempotency key", service.PublishEvent{Type: "a", Data: []byte(`{}`), IdempotencyKey: strings.Repeat("k", 256)}.Validate(), "Idempotency-Key"},
		{"test data", service.TestSend{Data: []byte(`"x"`)}.Validate(), "data"},
		{"test type", service.TestSend{Type: "a b"}.Validate(), "type"},
		{"grace", service.RotateSecret{GracePeriodSeconds: 604801}.Validate(), "grace_period_seconds"},
		{"negative grace", service.RotateSecret{GracePeriodSeconds: -1}.Validate(), "grace_period_seconds"},
		{"status", service.DeliveryFilter{Status: "done"}.Validate(), "status"},
		{"endpoint id", service.DeliveryFilter{EndpointID: "evt_x"}.Validate(), "endpoint_id"},
		{"event type filter", service.EventFilter{Type: "a*"}.Validate(), "type"},
		{"limit", func() error {
			_, err := e.svc.Endpoints.List(ctx, pid, service.Page{Limit: 251})
			return err
		}(), "limit"},
		{"cursor", func() error {
			_, err := e.svc.Events.List(ctx, pid, service.EventFilter{}, service.Page{Cursor: "ep_x"})
			return err
		}(), "cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantError(t, tc.err, service.CodeInvalidArgument, tc.field) })
	}
	// Valid inputs pass.
	for _, err := range []error{
		service.CreateProject{Name: "a", SignatureScheme: "ed25519"}.Validate(),
		service.PublishEvent{Type: "a.b", Data: []byte(` {"x":[1]} `)}.Validate(),
		service.TestSend{}.Validate(),
		service.TestSend{Data: []byte(`null`)}.Validate(),
		service.RotateSecret{GracePeriodSeconds: 604800}.Validate(),
		service.DeliveryFilter{Status: "failed", EventType: "a.b"}.Validate(),
	} {
		if err != nil {
			t.Errorf("valid input refused: %v", err)
		}
	}
	if msg := (&service.Error{Code: service.CodeInvalidArgument, Field: "url", Message: "must be https"}).Error(); msg != "url: must be https" {
		t.Errorf("Error() = %q", msg)
	}
}

// TestScopedByProject: every call takes the project id, and another
// project's ids are not found through it.
func TestScopedByProject(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.project("a"), e.project("b")
	ep, err := e.svc.Endpoints.Create(ctx, a, service.CreateEndpoint{URL: "https://example.com/h"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := e.svc.Events.Publish(ctx, a, service.PublishEvent{Type: "x", Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(pub.Deliveries) != 1 {
		t.Fatalf("published %+v", pub)
	}
	did := pub.Deliveries[0].ID
	type check struct {
		what string
		err  error
	}
	var checks []check
	add := func(what string, err error) { checks = append(checks, check{what, err}) }
	_, err = e.svc.Endpoints.Get(ctx, b, ep.ID)
	add("endpoint", err)
	_, err = e.svc.Endpoints.Update(ctx, b, ep.ID, service.UpdateEndpoint{})
	add("endpoint", err)
	add("endpoint", e.svc.Endpoints.Delete(ctx, b, ep.ID))
	_, err = e.svc.Endpoints.Test(ctx, b, ep.ID, service.TestSend{})
	add("endpoint", err)
	_, err = e.svc.Events.Get(ctx, b, pub.Event.ID)
	add("event", err)
	_, err = e.svc.Deliveries.Get(ctx, b, did)
	add("delivery", err)
	_, err = e.svc.Deliveries.Retry(ctx, b, did)
	add("delivery", err)
	_, err = e.svc.Projects.Get(ctx, "prj_nope")
	add("project", err)
	for _, c := range checks {
		wantError(t, c.err, service.CodeNotFound, "")
		if c.err.Error() != c.what+" not found" {
			t.Errorf("%s: message %q", c.what, c.err)
		}
	}
	l, err := e.svc.Deliveries.List(ctx, b, service.DeliveryFilter{}, service.Page{})
	if err != nil || len(l.Items) != 0 {
		t.Fatalf("project b lists %d deliveries (%v)", len(l.Items), err)
	}
	// Through its own project, all of it is there.
	d, err := e.svc.Deliveries.Get(ctx, a, did)
	if err != nil || d.ID != did || d.Attempts == nil {
		t.Fatalf("delivery %+v, %v", d, err)
	}
	if string(service.EventData(pub.Event)) != `{}` {
		t.Fatalf("event data %s", service.EventData(pub.Event))
	}
}

// TestPublishAfterCloseIsUnavailable: a publisher that is shutting down
// is a 503 for users ("try again"), not an internal error.
func TestPublishAfterCloseIsUnavailable(t *testing.T) {
	e := newEnv(t)
	pid := e.project("a")
	e.batcher.Close()
	_, err := e.svc.Events.Publish(context.Background(), pid, service.PublishEvent{Type: "x", Data: []byte(`{}`)})
	wantError(t, err, service.CodeUnavailable, "")
	if se, internal := service.AsError(errors.Join(errors.New("wrapped"), publish.ErrClosed)); internal || se.Code != service.CodeUnavailable {
		t.Fatalf("AsError(ErrClosed) = %v, %v", se, internal)
	}
	for _, err := range []error{store.ErrUnavailable, context.DeadlineExceeded} {
		if se, internal := service.AsError(err); internal || se.Code != service.CodeUnavailable {
			t.Errorf("AsError(%v) = %v, %v", err, se, internal)
		}
	}
	if se, internal := service.AsError(errors.New("disk on fire")); !internal || se.Code != service.CodeInternal || strings.Contains(se.Message, "fire") {
		t.Errorf("AsError(unknown) = %v, %v", se, internal)
	}
}

func TestRetryWakesTheEngine(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid := e.project("a")
	if _, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "https://example.com/h"}); err != nil {
		t.Fatal(err)
	}
	pub, err := e.svc.Events.Publish(ctx, pid, service.PublishEvent{Type: "x", Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.svc.Deliveries.Retry(ctx, pid, pub.Deliveries[0].ID)
	if err != nil || d.Status != store.StatusPending {
		t.Fatalf("retry: %+v, %v", d, err)
	}
	if e.wakes != 1 {
		t.Fatalf("%d wake-ups, want 1", e.wakes)
	}
}

func TestEndpointEnableDisable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid := e.project("a")
	ep, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "https://example.com/h", Disabled: true})
	if err != nil || ep.Enabled || ep.DisabledReason != service.DisabledByUser || ep.EventTypes == nil {
		t.Fatalf("created %+v, %v", ep, err)
	}
	if ep, err = e.svc.Endpoints.Enable(ctx, pid, ep.ID); err != nil || !ep.Enabled || ep.DisabledReason != "" {
		t.Fatalf("enabled %+v, %v", ep, err)
	}
	if ep, err = e.svc.Endpoints.Disable(ctx, pid, ep.ID); err != nil || ep.Enabled || ep.DisabledReason != service.DisabledByUser {
		t.Fatalf("disabled %+v, %v", ep, err)
	}
	got, err := e.svc.Endpoints.Get(ctx, pid, ep.ID)
	if err != nil || got.Enabled {
		t.Fatalf("read back %+v, %v", got, err)
	}
}

func TestRequireHTTPS(t *testing.T) {
	e := newEnv(t, func(c *service.Config) { c.RequireHTTPS = true })
	ctx := context.Background()
	pid := e.project("a")
	_, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "http://example.com/h"})
	wantError(t, err, service.CodeInvalidArgument, "url")
	ep, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "https://example.com/h"})
	if err != nil {
		t.Fatal(err)
	}
	http := "http://example.com/h"
	_, err = e.svc.Endpoints.Update(ctx, pid, ep.ID, service.UpdateEndpoint{URL: &http})
	wantError(t, err, service.CodeInvalidArgument, "url")
}

func TestSecrets(t *testing.T) {
	seal := func(v string) (string, error) { return "sealed:" + v, nil }
	open := func(v string) (string, error) { return strings.TrimPrefix(v, "sealed:"), nil }
	e := newEnv(t, func(c *service.Config) { c.Seal, c.Open = seal, open })
	ctx := context.Background()
	pid := e.project("a")
	first, err := e.svc.Secrets.Reveal(ctx, pid)
	if err != nil || !strings.HasPrefix(first.Secret, "whsec_") || first.PublicKey != "" {
		t.Fatalf("reveal %+v, %v", first, err)
	}
	stored, err := e.db.ActiveSecrets(ctx, pid, e.clock.Now())
	if err != nil || len(stored) != 1 || stored[0].Value != "sealed:"+first.Secret {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	next, err := e.svc.Secrets.Rotate(ctx, pid, service.RotateSecret{GracePeriodSeconds: 60})
	if err != nil || next.Secret == first.Secret || !strings.HasPrefix(next.Secret, "whsec_") {
		t.Fatalf("rotate %+v, %v", next, err)
	}
	if len(e.rotated) != 1 || e.rotated[0] != pid {
		t.Fatalf("OnRotate calls %v", e.rotated)
	}
	if active, _ := e.db.ActiveSecrets(ctx, pid, e.clock.Now()); len(active) != 2 {
		t.Fatalf("%d active secrets in the grace period, want 2", len(active))
	}
	e.clock.Advance(61 * time.Second)
	if active, _ := e.db.ActiveSecrets(ctx, pid, e.clock.Now()); len(active) != 1 {
		t.Fatalf("%d active secrets after the grace period, want 1", len(active))
	}
	// Switching scheme; the next rotation keeps it.
	ed, err := e.svc.Secrets.Rotate(ctx, pid, service.RotateSecret{SignatureScheme: "ed25519"})
	if err != nil || !strings.HasPrefix(ed.Secret, "whsk_") || !strings.HasPrefix(ed.PublicKey, "whpk_") {
		t.Fatalf("rotate to ed25519 %+v, %v", ed, err)
	}
	if again, err := e.svc.Secrets.Rotate(ctx, pid, service.RotateSecret{}); err != nil || !strings.HasPrefix(again.Secret, "whsk_") {
		t.Fatalf("rotation did not keep the scheme: %+v, %v", again, err)
	}
}

// TestTestSend: the test event reaches the endpoint signed, with the
// body a published event would have; refused input never reaches it.
func TestTestSend(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid := e.project("a")
	var (
		mu   sync.Mutex
		got  [][]byte
		sigs []string
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, sigs = append(got, b), append(sigs, r.Header.Get("webhook-signature"))
		mu.Unlock()
		w.WriteHeader(202)
		io.WriteString(w, "ok")
	}))
	defer recv.Close()
	ep, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: recv.URL})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Endpoints.Test(ctx, pid, ep.ID, service.TestSend{Data: []byte(` {"a" : "<&>"} `)})
	if err != nil || res.StatusCode != 202 || res.ResponseBody != "ok" || res.Error != "" {
		t.Fatalf("test %+v, %v", res, err)
	}
	_, err = e.svc.Endpoints.Test(ctx, pid, ep.ID, service.TestSend{Data: []byte(`[]`)})
	wantError(t, err, service.CodeInvalidArgument, "data")
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.HasPrefix(sigs[0], "v1,") {
		t.Fatalf("receiver got %d requests (%q)", len(got), sigs)
	}
	want := `","type":"webhook.test","timestamp":"2026-11-26T12:00:00Z","data":{"a":"<&>"}}`
	if !strings.HasPrefix(string(got[0]), `{"id":"evt_`) || !strings.HasSuffix(string(got[0]), want) {
		t.Fatalf("body %s", got[0])
	}
}

func TestKeys(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := service.NewKey(service.ProjectKeyPrefix)
		rest, ok := strings.CutPrefix(k, "hk_")
		if !ok || len(rest) != 43 || strings.Trim(rest, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("key %q is not hk_ + 43 base62 digits", k)
		}
		if seen[k] {
			t.Fatalf("key %q repeated", k)
		}
		seen[k] = true
	}
	sum := sha256.Sum256([]byte("hk_x"))
	if got := service.HashKey("hk_x"); string(got) != string(sum[:]) {
		t.Fatal("HashKey is not SHA-256 of the key")
	}
}
