package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/service"
)

// scoped is what the test needs of the API's handler: its routes and the
// scope each needs.
type scoped interface {
	Patterns() []string
	Scopes() map[string]service.Scope
}

// scopedKey makes a key of scope in project pid with key by.
func (e *env) scopedKey(pid, by, scope string) keyOut {
	e.t.Helper()
	var k keyOut
	e.do("POST", "/v1/projects/"+pid+"/api-keys", by, map[string]any{"name": scope + " key", "scope": scope}).decode(e.t, 201, &k)
	return k
}

// TestEveryRouteHasItsScope probes every route with a key of each scope:
// a key whose scope covers the route's passes the check (whatever the
// route then answers), any other gets 403 insufficient_scope naming the
// scope needed.
func TestEveryRouteHasItsScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, mgr := e.project("scopes")
	keys := map[service.Scope]string{
		service.ScopeAdmin:   e.admin,
		service.ScopeProject: mgr,
		service.ScopePublish: e.scopedKey(pid, mgr, "publish").Key,
		service.ScopeRead:    e.scopedKey(pid, mgr, "read").Key,
	}
	h := e.handler.(scoped)
	want := map[string]service.Scope{
		"POST /v1/projects": "admin", "GET /v1/projects": "read", "GET /v1/projects/{pid}": "read", "GET /v1/egress": "read",
		"POST /v1/api-keys": "admin", "GET /v1/api-keys": "admin", "DELETE /v1/api-keys/{kid}": "admin",
		"POST /v1/api-keys/{kid}/rotate":                  "admin",
		"PATCH /v1/projects/{pid}":                        "project",
		"POST /v1/projects/{pid}/portal-sessions":         "project",
		"POST /v1/projects/{pid}/api-keys":                "project",
		"GET /v1/projects/{pid}/api-keys":                 "project",
		"DELETE /v1/projects/{pid}/api-keys/{kid}":        "project",
		"POST /v1/projects/{pid}/endpoints":               "project",
		"GET /v1/projects/{pid}/endpoints":                "read",
		"GET /v1/projects/{pid}/endpoints/{eid}":          "read",
		"PATCH /v1/projects/{pid}/endpoints/{eid}":        "project",
		"DELETE /v1/projects/{pid}/endpoints/{eid}":       "project",
		"POST /v1/projects/{pid}/endpoints/{eid}/test":    "project",
		"POST /v1/projects/{pid}/endpoints/{eid}/recover": "project",
		"POST /v1/projects/{pid}/endpoints/{eid}/probe":   "project",
		"GET /v1/projects/{pid}/endpoints/{eid}/stats":    "read",
		"POST /v1/projects/{pid}/events":                  "publish",
		"POST /v1/projects/{pid}/events/batch":            "publish",
		"GET /v1/projects/{pid}/events":                   "read",
		"GET /v1/projects/{pid}/events/stream":            "read",
		"GET /v1/projects/{pid}/events/{evid}":            "read",
		"GET /v1/projects/{pid}/event-types":              "read",
		"GET /v1/projects/{pid}/deliveries":               "read",
		"GET /v1/projects/{pid}/deliveries/{did}":         "read",
		"POST /v1/projects/{pid}/deliveries/{did}/retry":  "project",
		"POST /v1/projects/{pid}/deliveries/retry":        "project",
		"GET /v1/projects/{pid}/secret":                   "project",
		"POST /v1/projects/{pid}/secret/rotate":           "project",
		"GET /v1/projects/{pid}/audit":                    "project",
		"GET /v1/audit":                                   "admin",
	}
	scopes := h.Scopes()
	// Ids that name nothing: a request that passes the scope check ends
	// in 404 or 400 and changes nothing.
	fill := strings.NewReplacer("{pid}", pid, "{eid}", ids.New(ids.Endpoint, start), "{evid}", ids.New(ids.Event, start),
		"{did}", ids.New(ids.Delivery, start), "{kid}", ids.New(ids.APIKey, start))
	for _, pattern := range h.Patterns() {
		if pattern == "GET /healthz" || pattern == "GET /readyz" || pattern == "GET /openapi.json" {
			continue
		}
		need, ok := scopes[pattern]
		if !ok {
			t.Errorf("%s has no scope", pattern)
			continue
		}
		// The table above is the contract: a route whose scope changes,
		// or a new route, is a decision to write down here.
		if w, ok := want[pattern]; !ok || w != need {
			t.Errorf("%s needs scope %q; the contract says %q", pattern, need, w)
		}
		method, path, _ := strings.Cut(pattern, " ")
		path = fill.Replace(path)
		if pattern == "GET /v1/projects/{pid}/events/stream" {
			path += "?types=no.such.type" // answered, then held open: see below
		}
		for _, have := range service.Scopes {
			var body any
			if method == "POST" || method == "PATCH" {
				body = `{"no_such_field":1}` // 400 once past the check
			}
			if pattern == "GET /v1/projects/{pid}/events/stream" && have.Covers(need) {
				continue // a stream that is allowed does not end; TestOpenAPI covers it
			}
			r := e.do(method, path, keys[have], body)
			var eb errorBody
			_ = json.Unmarshal(r.body, &eb)
			if r.status == 401 {
				t.Errorf("%s with a %s key: 401 %s", pattern, have, r.body)
			}
			if have.Covers(need) {
				if eb.Error.Code == "insufficient_scope" {
					t.Errorf("%s with a %s key: %d %s, want it past the scope check", pattern, have, r.status, r.body)
				}
				continue
			}
			if r.status != 403 || eb.Error.Code != "insufficient_scope" || !strings.Contains(eb.Error.Message, "scope "+string(need)) {
				t.Errorf("%s with a %s key: %d %s, want 403 insufficient_scope naming %s", pattern, have, r.status, r.body, need)
			}
		}
	}
}

// TestPublishKey: the key a publishing service gets publishes and does
// nothing else, and cannot make itself a wider key.
func TestPublishKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, mgr := e.project("acme")
	pub := e.scopedKey(pid, mgr, "publish")
	if pub.Scope != "publish" || pub.Name != "publish key" || pub.CreatedBy == nil || *pub.CreatedBy != keyID(t, e, mgr) {
		t.Fatalf("publish key %+v", pub)
	}
	e.publish(pid, pub.Key, "invoice.paid", map[string]any{})
	e.do("GET", "/v1/projects/"+pid+"/events", pub.Key, nil).wantError(t, 403, "insufficient_scope", "scope read")
	e.do("POST", "/v1/projects/"+pid+"/api-keys", pub.Key, map[string]any{"scope": "publish"}).
		wantError(t, 403, "insufficient_scope", "scope project")
	e.do("POST", "/v1/projects/"+pid+"/api-keys", mgr, map[string]any{"scope": "admin"}).
		wantError(t, 400, "invalid_argument", "scope:")
	e.do("POST", "/v1/api-keys", mgr, map[string]any{"scope": "admin"}).wantError(t, 403, "insufficient_scope", "scope admin")

	// Revoking the manager key revokes the publish key it made.
	e.do("DELETE", "/v1/projects/"+pid+"/api-keys/"+keyID(t, e, mgr), e.admin, nil).decode(t, 204, nil)
	e.do("POST", "/v1/projects/"+pid+"/events", pub.Key, map[string]any{"type": "a", "data": map[string]any{}}).
		wantError(t, 401, "unauthenticated", "")
}

// TestAdminKeys: admin keys are made, listed, rotated and revoked by an
// admin key; a rotated key's keys survive it.
func TestAdminKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ops keyOut
	e.do("POST", "/v1/api-keys", e.admin, map[string]any{"name": "ops"}).decode(t, 201, &ops)
	if ops.Scope != "admin" || !strings.HasPrefix(ops.Key, service.AdminKeyPrefix) {
		t.Fatalf("admin key %+v", ops)
	}
	e.do("POST", "/v1/api-keys", e.admin, map[string]any{"scope": "project"}).wantError(t, 400, "invalid_argument", "scope:")
	var p projectOut
	e.do("POST", "/v1/projects", ops.Key, map[string]any{"name": "by ops"}).decode(t, 201, &p)
	var made keyOut
	e.do("POST", "/v1/projects/"+p.ID+"/api-keys", ops.Key, nil).decode(t, 201, &made)

	var pg page[keyOut]
	e.do("GET", "/v1/api-keys", e.admin, nil).decode(t, 200, &pg)
	if len(pg.Items) != 2 || pg.Items[1].ID != ops.ID || pg.Items[1].Key != "" {
		t.Fatalf("admin keys %+v", pg.Items)
	}
	var next keyOut
	e.do("POST", "/v1/api-keys/"+ops.ID+"/rotate", e.admin, nil).decode(t, 201, &next)
	if next.ID == ops.ID || next.Name != "ops" || next.Key == "" {
		t.Fatalf("rotated %+v", next)
	}
	e.do("GET", "/v1/projects", ops.Key, nil).wantError(t, 401, "unauthenticated", "")
	e.do("GET", "/v1/projects", next.Key, nil).decode(t, 200, nil)
	e.do("GET", "/v1/projects/"+p.ID, made.Key, nil).decode(t, 200, nil)
	e.do("POST", "/v1/api-keys/"+ops.ID+"/rotate", e.admin, nil).wantError(t, 409, "conflict", "revoked")

	e.do("DELETE", "/v1/api-keys/"+next.ID, e.admin, nil).decode(t, 204, nil)
	e.do("GET", "/v1/projects", next.Key, nil).wantError(t, 401, "unauthenticated", "")
	e.do("GET", "/v1/projects/"+p.ID, made.Key, nil).wantError(t, 401, "unauthenticated", "")
	// A project key's id is not an admin key's.
	e.do("DELETE", "/v1/api-keys/"+made.ID, e.admin, nil).wantError(t, 404, "not_found", "api key not found")
}
