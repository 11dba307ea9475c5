package api_test

import (
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/service"
)

// route is every route of project pid, with a body that would succeed.
type route struct{ method, path, body string }

func projectRoutes(pid, eid, evid, did, kid string) []route {
	p := "/v1/projects/" + pid
	return []route{
		{"GET", p, ""},
		{"POST", p + "/api-keys", ""},
		{"GET", p + "/api-keys", ""},
		{"DELETE", p + "/api-keys/" + kid, ""},
		{"POST", p + "/endpoints", `{"url":"https://example.com/x"}`},
		{"GET", p + "/endpoints", ""},
		{"GET", p + "/endpoints/" + eid, ""},
		{"PATCH", p + "/endpoints/" + eid, `{"enabled":false}`},
		{"DELETE", p + "/endpoints/" + eid, ""},
		{"POST", p + "/endpoints/" + eid + "/test", `{}`},
		{"POST", p + "/events", `{"type":"a","data":{}}`},
		{"GET", p + "/events", ""},
		{"GET", p + "/events/" + evid, ""},
		{"GET", p + "/deliveries", ""},
		{"GET", p + "/deliveries/" + did, ""},
		{"POST", p + "/deliveries/" + did + "/retry", ""},
		{"GET", p + "/secret", ""},
		{"POST", p + "/secret/rotate", `{}`},
	}
}

func TestOtherProjectsKeyGets404Everywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pidA, keyA := e.project("a")
	pidB, keyB := e.project("b")
	ep := e.endpoint(pidB, keyB, map[string]any{"url": "https://example.com/b"})
	ev := e.publish(pidB, keyB, "a", map[string]any{})
	e.attempt(500, "HTTP 500")
	kidB := keyID(t, e, keyB)
	before := e.state(pidB, keyB)
	beforeA := e.state(pidA, keyA)
	calls := e.tester.callCount()

	for _, r := range projectRoutes(pidB, ep.ID, ev.ID, ev.Deliveries[0].ID, kidB) {
		t.Run(r.method+" "+strings.ReplaceAll(r.path, pidB, "{pid}"), func(t *testing.T) {
			var body any
			if r.body != "" {
				body = r.body
			}
			e.do(r.method, r.path, keyA, body).wantError(t, 404, "not_found", "project not found")
		})
	}
	// Project B (and project A) are exactly as they were: nothing
	// created, changed, tested or revoked.
	if after := e.state(pidB, keyB); !reflect.DeepEqual(before, after) {
		t.Fatalf("project B changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if after := e.state(pidA, keyA); !reflect.DeepEqual(beforeA, after) {
		t.Fatalf("project A changed:\nbefore %+v\nafter  %+v", beforeA, after)
	}
	if e.tester.callCount() != calls || len(e.rotated) != 0 || e.wakes.Load() != 0 {
		t.Fatal("a refused request reached the Tester, OnRotate or Wake")
	}

	// The same 404 for a project that does not exist, with any key, and
	// for ids that are not project ids: existence never leaks.
	for _, key := range []string{keyA, e.admin} {
		for _, pid := range []string{ids.New(ids.Project, start), "prj_nope", "nope"} {
			for _, r := range projectRoutes(pid, ep.ID, ev.ID, ev.Deliveries[0].ID, kidB) {
				var body any
				if r.body != "" {
					body = r.body
				}
				e.do(r.method, r.path, key, body).wantError(t, 404, "not_found", "project not found")
			}
		}
	}
	// B's own key and the admin key still work.
	e.do("GET", "/v1/projects/"+pidB+"/endpoints/"+ep.ID, keyB, nil).decode(t, 200, nil)
	e.do("GET", "/v1/projects/"+pidB+"/endpoints/"+ep.ID, e.admin, nil).decode(t, 200, nil)
	// An endpoint id of B under A's path is "endpoint not found".
	e.do("GET", "/v1/projects/"+pidA+"/endpoints/"+ep.ID, keyA, nil).wantError(t, 404, "not_found", "endpoint not found")
	e.do("GET", "/v1/projects/"+pidA+"/deliveries/"+ev.Deliveries[0].ID, keyA, nil).wantError(t, 404, "not_found", "delivery not found")
	e.do("GET", "/v1/projects/"+pidA+"/events/"+ev.ID, keyA, nil).wantError(t, 404, "not_found", "event not found")
	e.do("DELETE", "/v1/projects/"+pidA+"/api-keys/"+kidB, keyA, nil).wantError(t, 404, "not_found", "api key not found")
	if after := e.state(pidB, keyB); !reflect.DeepEqual(before, after) {
		t.Fatal("project B changed through project A's paths")
	}
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	// Every route with every wrong key, from one address: far beyond the
	// sign-in limit, which TestSigninLimit tests.
	e := newEnv(t, func(c *service.Config) { c.SigninFailureBurst = 1 << 20 })
	pid, key := e.project("acme")
	revoked := func() string {
		var k keyOut
		e.do("POST", "/v1/projects/"+pid+"/api-keys", key, nil).decode(t, 201, &k)
		e.do("DELETE", "/v1/projects/"+pid+"/api-keys/"+k.ID, key, nil).decode(t, 204, nil)
		return k.Key
	}()
	before := e.state(pid, key)

	routes := append(projectRoutes(pid, ids.New(ids.Endpoint, start), ids.New(ids.Event, start), ids.New(ids.Delivery, start), ids.New(ids.APIKey, start)),
		route{"POST", "/v1/projects", `{"name":"x"}`}, route{"GET", "/v1/projects", ""})
	for _, auth := range []struct{ name, header string }{
		{"missing", ""},
		{"empty bearer", "Bearer "},
		{"basic", "Basic " + key},
		{"no scheme", key},
		{"wrong key", "Bearer " + key + "x"},
		{"revoked", "Bearer " + revoked},
		{"huge", "Bearer " + strings.Repeat("k", 4096)},
	} {
		t.Run(auth.name, func(t *testing.T) {
			for _, r := range routes {
				var body any
				if r.body != "" {
					body = r.body
				}
				var hdr []string
				if auth.header != "" {
					hdr = []string{"Authorization", auth.header}
				}
				got := e.do(r.method, r.path, "", body, hdr...)
				got.wantError(t, 401, "unauthenticated", "API key")
				if !strings.HasPrefix(got.header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("%s %s: WWW-Authenticate %q", r.method, r.path, got.header.Get("WWW-Authenticate"))
				}
			}
		})
	}
	if after := e.state(pid, key); !reflect.DeepEqual(before, after) {
		t.Fatal("unauthenticated requests changed the store")
	}
	// The scheme name is case-insensitive (RFC 9110).
	e.do("GET", "/v1/projects", "", nil, "Authorization", "bearer "+key).decode(t, 200, nil)
}

func TestProjectKeyCannotCreateProjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	before := e.state(pid)
	e.do("POST", "/v1/projects", key, `{"name":"mine"}`).wantError(t, 403, "insufficient_scope", "scope admin")
	if after := e.state(pid); !reflect.DeepEqual(before, after) {
		t.Fatal("a refused project was stored")
	}
}

func TestNoKeysOrSecretsInLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	var sec secretOut
	e.do("GET", "/v1/projects/"+pid+"/secret", key, nil).decode(t, 200, &sec)
	e.do("POST", "/v1/projects/"+pid+"/secret/rotate", key, `{"grace_period_seconds":60}`).decode(t, 200, nil)
	e.do("GET", "/v1/projects", key+"x", nil).decode(t, 401, nil)
	// Make the store fail so that internal errors get logged.
	e.db.Close()
	e.do("GET", "/v1/projects/"+pid+"/endpoints", key, nil)
	e.do("GET", "/readyz", "", nil)
	logs := e.logs.String()
	if !strings.Contains(logs, "level=") {
		t.Fatal("nothing was logged; the test proves nothing")
	}
	for _, s := range []string{e.admin, key, sec.Secret, strings.TrimPrefix(sec.Secret, "whsec_")} {
		if strings.Contains(logs, s) {
			t.Fatalf("logs contain a key or secret:\n%s", logs)
		}
	}
}

// TestSigninLimit: an address that keeps presenting wrong keys gets 429
// with Retry-After, until its allowance refills on the clock; a valid key
// from another address is not slowed meanwhile.
func TestSigninLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	other := net.IPv4(127, 0, 0, 3)
	for range service.DefaultSigninFailureBurst {
		e.doFrom(other, "GET", "/v1/projects/"+pid, key+"x", nil).wantError(t, 401, "unauthenticated", "API key")
	}
	got := e.doFrom(other, "GET", "/v1/projects/"+pid, key+"x", nil)
	got.wantError(t, 429, "rate_limited", "too many failed sign-ins")
	if ra := got.header.Get("Retry-After"); ra != "1" {
		t.Fatalf("Retry-After %q, want 1", ra)
	}
	e.do("GET", "/v1/projects/"+pid, key, nil).decode(t, 200, nil)
	e.do("GET", "/v1/projects/"+pid, key+"y", nil).wantError(t, 401, "unauthenticated", "API key")
	e.clock.Advance(time.Second)
	e.doFrom(other, "GET", "/v1/projects/"+pid, key+"x", nil).wantError(t, 401, "unauthenticated", "API key")

	// Each address's failures are in the admin's audit trail.
	var page struct {
		Items []struct {
			Action, Source, Detail string
			ActorKeyID             *string `json:"actor_key_id"`
		}
	}
	e.do("GET", "/v1/audit", e.admin, nil).decode(t, 200, &page)
	sources := map[string]bool{}
	for _, it := range page.Items {
		if it.Action == "signin.failed" {
			sources[it.Source] = true
			if it.ActorKeyID != nil {
				t.Errorf("signin.failed with an actor: %+v", it)
			}
		}
	}
	if !sources["127.0.0.3"] || !sources["127.0.0.1"] || len(sources) != 2 {
		t.Errorf("signin.failed records from %v", sources)
	}
}
