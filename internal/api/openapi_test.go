package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/eventfeed"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// openAPIDoc is the part of the served document the route walk reads.
type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Parameters map[string]openAPIParam `json:"parameters"`
	} `json:"components"`
}

type openAPIParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

type openAPIOp struct {
	Parameters  []openAPIParam             `json:"parameters"`
	RequestBody json.RawMessage            `json:"requestBody"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

// statusesNotProvoked are documented on every route that reads the
// database but cannot be produced on demand by a request: an internal
// failure, and a database that is down (tested in the store and app
// packages).
var statusesNotProvoked = []int{http.StatusInternalServerError, http.StatusServiceUnavailable}

// TestOpenAPI holds the served OpenAPI document to the real router:
//
//   - a real validator accepts the document as OpenAPI 3.1;
//   - every pattern internal/api registers is a documented operation, and
//     every documented operation is registered;
//   - each operation documents exactly the path parameters of its pattern;
//   - requests made to every route (generic probes — no key, another
//     project's key, unknown ids, malformed and oversized bodies, bad
//     paging — and each route's own successes and conflicts) answer only
//     statuses the operation documents, with bodies its schemas accept,
//     and every documented status is answered by one of them (but 500 and
//     503, statusesNotProvoked).
//
// A route, parameter, status code or field added without the document,
// or documented and gone, fails here.
func TestOpenAPI(t *testing.T) {
	e := newEnv(t, func(c *service.Config) {
		// One stream per project, so the walk provokes the 429.
		hub, err := eventfeed.New(eventfeed.Config{Store: c.Store, Clock: c.Clock, MaxProjectStreams: 1})
		if err != nil {
			t.Fatal(err)
		}
		c.Feed = hub
	})
	r := e.do("GET", "/openapi.json", "", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s", r.status, r.header.Get("Content-Type"))
	}
	raw := r.body
	lib, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("libopenapi: %v", err)
	}
	v, errs := validator.NewValidator(lib)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, ve := range verrs {
			t.Errorf("document: %s: %s (%s)", ve.ValidationType, ve.Message, ve.Reason)
			for _, se := range ve.SchemaValidationErrors {
				t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
			}
		}
		t.FailNow()
	}
	var doc openAPIDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}

	// Routes: the mux's patterns and the document's operations.
	patterns := e.handler.(interface{ Patterns() []string }).Patterns()
	ops := map[string]openAPIOp{}       // "GET /v1/projects/{pid}"
	pathParams := map[string][]string{} // documented path parameters
	for path, item := range doc.Paths {
		var shared []openAPIParam
		if p, ok := item["parameters"]; ok {
			if err := json.Unmarshal(p, &shared); err != nil {
				t.Fatal(err)
			}
		}
		for method, body := range item {
			if method == "parameters" {
				continue
			}
			var op openAPIOp
			if err := json.Unmarshal(body, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			key := strings.ToUpper(method) + " " + path
			ops[key] = op
			var names []string
			for _, p := range append(slices.Clone(shared), op.Parameters...) {
				if p.Ref != "" {
					p = doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
				}
				if p.In == "path" {
					names = append(names, p.Name)
				}
			}
			sort.Strings(names)
			pathParams[key] = names
		}
	}
	for _, p := range patterns {
		if _, ok := ops[p]; !ok {
			t.Errorf("route %q is not in the OpenAPI document", p)
		}
	}
	for k := range ops {
		if !slices.Contains(patterns, k) {
			t.Errorf("the OpenAPI document has %q, which the router does not serve", k)
		}
	}
	placeholder := regexp.MustCompile(`\{([a-z]+)\}`)
	for _, p := range patterns {
		var want []string
		for _, m := range placeholder.FindAllStringSubmatch(p, -1) {
			want = append(want, m[1])
		}
		sort.Strings(want)
		if got := pathParams[p]; !slices.Equal(got, want) {
			t.Errorf("%s: documented path parameters %v, want %v", p, got, want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Statuses: probe every route, record what it answers.
	w := &walk{t: t, e: e, v: v, seen: map[string]map[int]bool{}}
	w.setUp()
	for _, p := range patterns {
		w.probe(p, ops[p])
	}
	w.successes()
	for _, p := range patterns {
		var documented []int
		for code := range ops[p].Responses {
			n, err := strconv.Atoi(code)
			if err != nil {
				t.Errorf("%s: response %q is not a status code", p, code)
				continue
			}
			documented = append(documented, n)
		}
		seen := slices.Sorted(maps.Keys(w.seen[p]))
		for _, code := range seen {
			if !slices.Contains(documented, code) {
				t.Errorf("%s answered %d, which the document does not list", p, code)
			}
		}
		for _, code := range documented {
			if !w.seen[p][code] && !slices.Contains(statusesNotProvoked, code) {
				t.Errorf("%s documents %d, which no request made it answer (documented but absent?)", p, code)
			}
		}
	}
}

// walk makes requests to the routes and records what they answer.
type walk struct {
	t    *testing.T
	e    *env
	v    validator.Validator
	seen map[string]map[int]bool // pattern → statuses answered

	pid, key   string // a project and its key
	readKey    string // a key of the project with scope read
	pubKey     string // a key of the project with scope publish
	qkey       string // another project's key
	ep         string // an enabled endpoint
	disabled   string // a disabled endpoint
	evt        string // an event
	inFlight   string // a delivery being delivered
	waiting    string // a delivery waiting
	receiver   *httptest.Server
	maxBody    int
	oversized  string
	streamDone chan struct{}
}

func (w *walk) setUp() {
	e := w.e
	w.receiver = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(200) }))
	w.t.Cleanup(w.receiver.Close)
	w.pid, w.key = e.project("walk")
	w.readKey = e.scopedKey(w.pid, w.key, "read").Key
	w.pubKey = e.scopedKey(w.pid, w.key, "publish").Key
	_, w.qkey = e.project("other")
	var ep endpointOut
	e.do("POST", "/v1/projects/"+w.pid+"/endpoints", w.key, map[string]any{"url": w.receiver.URL + "/hook"}).decode(w.t, 201, &ep)
	w.ep = ep.ID
	e.do("POST", "/v1/projects/"+w.pid+"/endpoints", w.key, map[string]any{"url": w.receiver.URL + "/off", "enabled": false}).decode(w.t, 201, &ep)
	w.disabled = ep.ID
	first := e.publish(w.pid, w.key, "invoice.paid", map[string]any{"n": 1})
	w.evt = first.ID
	// The first event's delivery is being delivered; the next one waits.
	claimed, err := e.db.Claim(context.Background(), store.ClaimParams{Now: e.clock.Now(), Limit: 10, Lease: time.Hour, Owner: "walk"})
	if err != nil || len(claimed) != 1 {
		w.t.Fatalf("claim: %v, %d claimed", err, len(claimed))
	}
	w.inFlight = claimed[0].Delivery.ID
	w.waiting = e.publish(w.pid, w.key, "invoice.paid", map[string]any{"n": 2}).Deliveries[0].ID
	w.oversized = `{"name":"` + strings.Repeat("a", api.DefaultMaxBodyBytes) + `"}`
	// Another address fails its sign-ins until it is refused (429).
	for range service.DefaultSigninFailureBurst {
		if r := e.doFrom(blockedSource, "GET", "/v1/projects", "hk_not_a_key", nil); r.status != http.StatusUnauthorized {
			w.t.Fatalf("failing sign-in: %d", r.status)
		}
	}
}

// blockedSource is the address the walk fails sign-ins from.
var blockedSource = net.IPv4(127, 0, 0, 2)

func (w *walk) callFrom(ip net.IP, pattern, path, key string, body any) resp {
	w.t.Helper()
	method, _, _ := strings.Cut(pattern, " ")
	r := w.e.doFrom(ip, method, path, key, body)
	w.seen[pattern][r.status] = true
	w.check(pattern, method, path, r)
	return r
}

// unknownKey is a well-formed API key id that names no key.
var unknownKey = ids.New(ids.APIKey, start)

// path fills a pattern's placeholders with the walk's ids.
func (w *walk) path(pattern string, ids map[string]string) string {
	_, path, _ := strings.Cut(pattern, " ")
	fill := map[string]string{"pid": w.pid, "eid": w.ep, "evid": w.evt, "did": w.waiting, "kid": unknownKey}
	maps.Copy(fill, ids)
	for name, v := range fill {
		path = strings.ReplaceAll(path, "{"+name+"}", v)
	}
	return path
}

// call makes one request to pattern and records the answer, checked
// against the document.
func (w *walk) call(pattern, path, key string, body any, hdr ...string) resp {
	w.t.Helper()
	method, _, _ := strings.Cut(pattern, " ")
	r := w.e.do(method, path, key, body, hdr...)
	if w.seen[pattern] == nil {
		w.seen[pattern] = map[int]bool{}
	}
	w.seen[pattern][r.status] = true
	w.check(pattern, method, path, r)
	return r
}

// check validates an answer against the document's schema for it.
func (w *walk) check(pattern, method, path string, r resp) {
	w.t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, nil)
	res := &http.Response{StatusCode: r.status, Header: r.header, Body: io.NopCloser(bytes.NewReader(r.body)), Request: req}
	if ok, verrs := w.v.ValidateHttpResponse(req, res); !ok {
		for _, ve := range verrs {
			msg := ve.Message + ": " + ve.Reason
			for _, se := range ve.SchemaValidationErrors {
				msg += fmt.Sprintf("; at %s: %s", se.FieldPath, se.Reason)
			}
			w.t.Errorf("%s answered %d %s, which the document does not accept: %s", pattern, r.status, r.body, msg)
		}
	}
}

// probe sends the requests every route of its kind gets.
func (w *walk) probe(pattern string, op openAPIOp) {
	w.t.Helper()
	public := pattern == "GET /healthz" || pattern == "GET /readyz" || pattern == "GET /openapi.json"
	path := w.path(pattern, nil)
	hasBody := len(op.RequestBody) > 0
	var body any
	if hasBody {
		body = map[string]any{}
	}
	if public {
		w.call(pattern, path, "", nil)
		return
	}
	w.call(pattern, path, "", body)                                // no key
	w.call(pattern, path, "hk_not_a_key", body)                    // a wrong key
	w.callFrom(blockedSource, pattern, path, "hk_not_a_key", body) // from an address over its failures
	if strings.Contains(pattern, "{pid}") {
		w.call(pattern, path, w.qkey, body) // another project's key
		w.call(pattern, w.path(pattern, map[string]string{"pid": ids.New(ids.Project, w.e.clock.Now())}), w.e.admin, body)
		// A key of the project whose scope does not cover the route.
		narrow := w.readKey
		if w.e.handler.(scoped).Scopes()[pattern] == service.ScopeRead {
			narrow = w.pubKey
		}
		w.call(pattern, path, narrow, body)
	} else {
		w.call(pattern, path, w.key, body) // a project key
	}
	key := w.key
	if !strings.Contains(pattern, "{pid}") {
		key = w.e.admin
	}
	for _, name := range []string{"eid", "evid", "did", "kid"} {
		if strings.Contains(pattern, "{"+name+"}") {
			prefix := map[string]string{"eid": ids.Endpoint, "evid": ids.Event, "did": ids.Delivery, "kid": ids.APIKey}[name]
			w.call(pattern, w.path(pattern, map[string]string{name: ids.New(prefix, w.e.clock.Now())}), key, body)
			w.call(pattern, w.path(pattern, map[string]string{name: "nope"}), key, body)
		}
	}
	if hasBody {
		w.call(pattern, path, key, "{")         // malformed JSON
		w.call(pattern, path, key, w.oversized) // over the body limit
		w.call(pattern, path, key, `{"no_such_field":1}`)
	}
	for _, p := range op.Parameters {
		if p.Ref == "#/components/parameters/limit" {
			w.call(pattern, path+"?limit=0", key, nil)
		}
	}
}

// successes makes each route's own requests: what it is for, and the
// conflicts only it has.
func (w *walk) successes() {
	w.t.Helper()
	e, P, K := w.e, "/v1/projects/"+w.pid, w.key
	since := e.clock.Now().Add(-time.Hour).Format(time.RFC3339)
	w.call("POST /v1/projects", "/v1/projects", e.admin, map[string]any{"name": "made by the walk"})
	w.call("GET /v1/projects", "/v1/projects", e.admin, nil)
	w.call("GET /v1/projects", "/v1/projects", w.pubKey, nil) // 403: a publish key only publishes
	w.call("GET /v1/projects/{pid}", P, K, nil)
	w.call("PATCH /v1/projects/{pid}", P, K, map[string]any{"portal": map[string]any{"name": "Acme", "accent_color": "#0a7f5c"}})
	w.call("PATCH /v1/projects/{pid}", P, K, map[string]any{"portal": map[string]any{"accent_color": "green"}}) // 400
	w.call("POST /v1/projects/{pid}/portal-sessions", P+"/portal-sessions", K, map[string]any{"access": "view", "ttl_seconds": 600})
	w.call("POST /v1/projects/{pid}/portal-sessions", P+"/portal-sessions", K, map[string]any{"access": "all"}) // 400

	var k keyOut
	w.call("POST /v1/projects/{pid}/api-keys", P+"/api-keys", K, map[string]any{"name": "walk", "scope": "read"}).decode(w.t, 201, &k)
	w.call("GET /v1/projects/{pid}/api-keys", P+"/api-keys", K, nil)
	w.call("DELETE /v1/projects/{pid}/api-keys/{kid}", P+"/api-keys/"+k.ID, K, nil)
	w.call("DELETE /v1/projects/{pid}/api-keys/{kid}", P+"/api-keys/"+keyID(w.t, e, K), K, nil) // 409: the last manager key

	var adm keyOut
	w.call("POST /v1/api-keys", "/v1/api-keys", e.admin, map[string]any{"name": "walk admin"}).decode(w.t, 201, &adm)
	w.call("GET /v1/api-keys", "/v1/api-keys", e.admin, nil)
	var rotated keyOut
	w.call("POST /v1/api-keys/{kid}/rotate", "/v1/api-keys/"+adm.ID+"/rotate", e.admin, nil).decode(w.t, 201, &rotated)
	w.call("POST /v1/api-keys/{kid}/rotate", "/v1/api-keys/"+adm.ID+"/rotate", e.admin, nil) // 409: revoked
	w.call("DELETE /v1/api-keys/{kid}", "/v1/api-keys/"+rotated.ID, e.admin, nil)

	var made endpointOut
	w.call("POST /v1/projects/{pid}/endpoints", P+"/endpoints", K, map[string]any{"url": w.receiver.URL + "/x"}).decode(w.t, 201, &made)
	w.call("POST /v1/projects/{pid}/endpoints", P+"/endpoints", K, map[string]any{"url": "ftp://nope"}) // 400
	w.call("GET /v1/projects/{pid}/endpoints", P+"/endpoints", K, nil)
	w.call("GET /v1/projects/{pid}/endpoints/{eid}", P+"/endpoints/"+w.ep, K, nil)
	w.call("PATCH /v1/projects/{pid}/endpoints/{eid}", P+"/endpoints/"+w.ep, K, map[string]any{"description": "walked"})
	w.call("PATCH /v1/projects/{pid}/endpoints/{eid}", P+"/endpoints/"+w.ep, K, map[string]any{"enabled": true, "recover_since": since})
	w.call("DELETE /v1/projects/{pid}/endpoints/{eid}", P+"/endpoints/"+made.ID, K, nil)
	w.call("POST /v1/projects/{pid}/endpoints/{eid}/test", P+"/endpoints/"+w.ep+"/test", K, nil)
	var limited endpointOut
	w.call("POST /v1/projects/{pid}/endpoints", P+"/endpoints", K, map[string]any{"url": w.receiver.URL + "/slow", "rate_limit_per_second": 1}).decode(w.t, 201, &limited)
	w.call("POST /v1/projects/{pid}/endpoints/{eid}/test", P+"/endpoints/"+limited.ID+"/test", K, nil)
	w.call("POST /v1/projects/{pid}/endpoints/{eid}/test", P+"/endpoints/"+limited.ID+"/test", K, nil) // 429
	w.call("POST /v1/projects/{pid}/endpoints/{eid}/recover", P+"/endpoints/"+w.ep+"/recover", K, map[string]any{"since": since})
	w.call("POST /v1/projects/{pid}/endpoints/{eid}/recover", P+"/endpoints/"+w.disabled+"/recover", K, map[string]any{"since": since}) // 409
	var dead endpointOut
	w.call("POST /v1/projects/{pid}/endpoints", P+"/endpoints", K, map[string]any{"url": w.receiver.URL + "/dead"}).decode(w.t, 201, &dead)
	w.call("POST /v1/projects/{pid}/endpoints/{eid}/probe", P+"/endpoints/"+dead.ID+"/probe", K, nil) // 409: closed
	if _, err := e.db.ObserveHealth(context.Background(), []store.HealthObservation{{EndpointID: dead.ID, At: e.clock.Now()}}, breaker); err != nil {
		w.t.Fatal(err)
	}
	w.call("POST /v1/projects/{pid}/endpoints/{eid}/probe", P+"/endpoints/"+dead.ID+"/probe", K, nil)
	w.call("GET /v1/projects/{pid}/endpoints/{eid}/stats", P+"/endpoints/"+w.ep+"/stats?window=7d", K, nil)
	w.call("GET /v1/projects/{pid}/endpoints/{eid}/stats", P+"/endpoints/"+w.ep+"/stats?window=1y", K, nil) // 400

	w.call("POST /v1/projects/{pid}/events", P+"/events", K, map[string]any{"type": "invoice.paid", "data": map[string]any{"a": 1}}, "Idempotency-Key", "walk-1")
	w.call("POST /v1/projects/{pid}/events", P+"/events", K, map[string]any{"type": "invoice.paid", "data": map[string]any{"a": 2}}, "Idempotency-Key", "walk-1") // 422
	w.call("POST /v1/projects/{pid}/events/batch", P+"/events/batch", K, map[string]any{"events": []any{
		map[string]any{"type": "invoice.paid", "data": map[string]any{"a": 3}, "idempotency_key": "walk-1"}, // 422 within a 200
		map[string]any{"type": "invoice.paid", "data": map[string]any{"a": 4}},
	}})
	w.call("POST /v1/projects/{pid}/events/batch", P+"/events/batch", K, `{"events":[`+strings.Repeat(`{"type":"a.b","data":{}},`, len(w.oversized)/6)+`{}]}`) // 413
	w.call("GET /v1/projects/{pid}/events", P+"/events?type=invoice.paid", K, nil)
	w.call("GET /v1/projects/{pid}/events/{evid}", P+"/events/"+w.evt, K, nil)
	w.call("GET /v1/projects/{pid}/event-types", P+"/event-types?limit=1", K, nil)
	w.call("GET /v1/projects/{pid}/event-types", P+"/event-types?limit=0", K, nil) // 400
	w.stream(P + "/events/stream?types=invoice.*")
	w.streamsToTheLimit(P + "/events/stream")
	w.call("GET /v1/projects/{pid}/events/stream", P+"/events/stream?types=not%20a%20type", K, nil)                // 400
	w.call("GET /v1/projects/{pid}/events/stream", P+"/events/stream", K, nil, "Last-Event-ID", "not-an-event-id") // 400

	w.call("GET /v1/projects/{pid}/deliveries", P+"/deliveries?status=retrying&endpoint_id="+w.ep, K, nil)
	w.call("GET /v1/projects/{pid}/deliveries", P+"/deliveries?status=nope", K, nil) // 400
	w.call("GET /v1/projects/{pid}/deliveries/{did}", P+"/deliveries/"+w.inFlight, K, nil)
	w.call("POST /v1/projects/{pid}/deliveries/{did}/retry", P+"/deliveries/"+w.waiting+"/retry", K, nil)
	w.call("POST /v1/projects/{pid}/deliveries/{did}/retry", P+"/deliveries/"+w.inFlight+"/retry", K, nil) // 409
	w.call("POST /v1/projects/{pid}/deliveries/retry", P+"/deliveries/retry", K, map[string]any{"status": "failed", "event_type": "invoice.*", "dry_run": true})
	w.call("POST /v1/projects/{pid}/deliveries/retry", P+"/deliveries/retry", K, map[string]any{"status": "delivering"}) // 400
	w.call("GET /v1/projects/{pid}/events", P+"/events?idempotency_key=walk-1", K, nil)

	w.call("GET /v1/projects/{pid}/audit", P+"/audit?limit=2", K, nil)
	w.call("GET /v1/audit", "/v1/audit", w.e.admin, nil)
	w.call("GET /v1/projects/{pid}/secret", P+"/secret", K, nil)
	w.call("POST /v1/projects/{pid}/secret/rotate", P+"/secret/rotate", K, map[string]any{"grace_period_seconds": 60})
	w.call("POST /v1/projects/{pid}/secret/rotate", P+"/secret/rotate", K, map[string]any{"grace_period_seconds": -1}) // 400
}

// streamsToTheLimit opens streams until one is refused (429), then
// leaves them all.
func (w *walk) streamsToTheLimit(path string) {
	w.t.Helper()
	const pattern = "GET /v1/projects/{pid}/events/stream"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 10 {
		req := w.e.request("GET", w.e.srv.URL+path, w.key, nil).WithContext(ctx)
		res, err := w.e.srv.Client().Do(req)
		if err != nil {
			w.t.Fatalf("stream: %v", err)
		}
		defer res.Body.Close()
		if res.StatusCode == 200 {
			continue
		}
		body, _ := io.ReadAll(res.Body)
		w.seen[pattern][res.StatusCode] = true
		w.check(pattern, "GET", path, resp{status: res.StatusCode, header: res.Header, body: body})
		if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
			w.t.Fatalf("a stream beyond the limit answered %d %s (Retry-After %q)", res.StatusCode, body, res.Header.Get("Retry-After"))
		}
		return
	}
	w.t.Fatal("no stream was refused")
}

// stream opens the event stream, checks it starts as documented, and
// leaves.
func (w *walk) stream(path string) {
	w.t.Helper()
	const pattern = "GET /v1/projects/{pid}/events/stream"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := w.e.request("GET", w.e.srv.URL+path, w.key, nil).WithContext(ctx)
	res, err := w.e.srv.Client().Do(req)
	if err != nil {
		w.t.Fatalf("stream: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		w.t.Fatalf("stream answered %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	first := make([]byte, len("retry: 1000\n"))
	if _, err := io.ReadFull(res.Body, first); err != nil || string(first) != "retry: 1000\n" {
		w.t.Fatalf("stream began %q (%v)", first, err)
	}
	if w.seen[pattern] == nil {
		w.seen[pattern] = map[int]bool{}
	}
	w.seen[pattern][res.StatusCode] = true
}
