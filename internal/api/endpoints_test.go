package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/service"
)

func TestEndpointLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	base := "/v1/projects/" + pid + "/endpoints"

	ep := e.endpoint(pid, key, map[string]any{"url": "https://example.com/hook"})
	want := endpointOut{ID: ep.ID, URL: "https://example.com/hook", EventTypes: []string{}, Enabled: true, CreatedAt: start, UpdatedAt: start,
		Breaker: "closed"}
	if !ids.Valid(ids.Endpoint, ep.ID) || !reflect.DeepEqual(ep, want) {
		t.Fatalf("created %+v, want %+v", ep, want)
	}
	var got endpointOut
	e.do("GET", base+"/"+ep.ID, key, nil).decode(t, 200, &got)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GET %+v, want %+v", got, want)
	}

	patch := func(body any) endpointOut {
		t.Helper()
		e.clock.Advance(time.Minute)
		var out endpointOut
		e.do("PATCH", base+"/"+ep.ID, key, body).decode(t, 200, &out)
		var stored endpointOut
		e.do("GET", base+"/"+ep.ID, key, nil).decode(t, 200, &stored)
		if !reflect.DeepEqual(out, stored) {
			t.Fatalf("PATCH answered %+v but stored %+v", out, stored)
		}
		return out
	}

	// Each field alone; the others stay.
	got = patch(map[string]any{"description": "orders"})
	want.Description, want.UpdatedAt = "orders", e.clock.Now()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after description: %+v, want %+v", got, want)
	}
	got = patch(map[string]any{"event_types": []string{"order.*", "invoice.paid"}})
	want.EventTypes, want.UpdatedAt = []string{"order.*", "invoice.paid"}, e.clock.Now()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after event_types: %+v, want %+v", got, want)
	}
	got = patch(map[string]any{"url": "http://example.org:8080/h?x=1"})
	want.URL, want.UpdatedAt = "http://example.org:8080/h?x=1", e.clock.Now()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after url: %+v, want %+v", got, want)
	}
	got = patch(map[string]any{"rate_limit_per_second": 20, "max_concurrency": 4})
	want.RateLimitPerSecond, want.MaxConcurrency, want.UpdatedAt = 20, 4, e.clock.Now()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after limits: %+v, want %+v", got, want)
	}
	got = patch(map[string]any{"rate_limit_per_second": 0})
	want.RateLimitPerSecond, want.UpdatedAt = 0, e.clock.Now()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after removing the rate limit: %+v, want %+v", got, want)
	}
	got = patch(map[string]any{"enabled": false})
	want.Enabled, want.DisabledReason, want.UpdatedAt = false, "disabled by user", e.clock.Now()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after disabling: %+v, want %+v", got, want)
	}
	got = patch(map[string]any{"enabled": true, "event_types": []string{}})
	want.Enabled, want.DisabledReason, want.EventTypes, want.UpdatedAt = true, "", []string{}, e.clock.Now()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after re-enabling: %+v, want %+v", got, want)
	}
	// null and {} change nothing, not even updated_at.
	got = patch(map[string]any{"description": nil})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after null: %+v, want %+v", got, want)
	}
	got = patch(map[string]any{})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after {}: %+v, want %+v", got, want)
	}

	e.do("DELETE", base+"/"+ep.ID, key, nil).decode(t, 204, nil)
	e.do("GET", base+"/"+ep.ID, key, nil).wantError(t, 404, "not_found", "endpoint not found")
	e.do("DELETE", base+"/"+ep.ID, key, nil).wantError(t, 404, "not_found", "endpoint not found")
	e.do("PATCH", base+"/"+ep.ID, key, `{}`).wantError(t, 404, "not_found", "endpoint not found")
}

func TestCreateEndpointAllFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	ep := e.endpoint(pid, key, map[string]any{
		"url": "https://example.com/hook", "description": "<b>ops</b> & co",
		"event_types": []string{"*", "a.*", "a:b_c-d.e"}, "enabled": false,
	})
	if ep.Description != "<b>ops</b> & co" || len(ep.EventTypes) != 3 || ep.Enabled || ep.DisabledReason != "disabled by user" ||
		ep.RateLimitPerSecond != 0 || ep.MaxConcurrency != 0 {
		t.Fatalf("created %+v", ep)
	}
	limited := e.endpoint(pid, key, map[string]any{"url": "https://example.com/slow", "event_types": []string{"other.*"}, "rate_limit_per_second": 10, "max_concurrency": 2})
	if limited.RateLimitPerSecond != 10 || limited.MaxConcurrency != 2 || limited.Breaker != "closed" || limited.FailingSince != nil {
		t.Fatalf("created %+v", ep)
	}
	// Disabled endpoints get no deliveries.
	if out := e.publish(pid, key, "a.b", map[string]any{}); len(out.Deliveries) != 0 {
		t.Fatalf("a disabled endpoint got deliveries %+v", out.Deliveries)
	}
}

func TestDisablingEndpointCancelsItsDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	ep := e.endpoint(pid, key, map[string]any{"url": "https://example.com/hook"})
	ev := e.publish(pid, key, "a.b", map[string]any{})
	e.do("PATCH", "/v1/projects/"+pid+"/endpoints/"+ep.ID, key, map[string]any{"enabled": false}).decode(t, 200, nil)
	var d deliveryOut
	e.do("GET", "/v1/projects/"+pid+"/deliveries/"+ev.Deliveries[0].ID, key, nil).decode(t, 200, &d)
	if d.Status != "cancelled" || !strings.Contains(d.LastError, "disabled by user") {
		t.Fatalf("delivery after disabling: %+v", d)
	}
}

func TestListEndpointsPaginates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	otherPID, otherKey := e.project("other")
	e.endpoint(otherPID, otherKey, map[string]any{"url": "https://example.com/other"})
	var want []string
	for i := range 7 {
		want = append(want, e.endpoint(pid, key, map[string]any{"url": fmt.Sprintf("https://example.com/%d", i)}).ID)
	}
	var got []string
	cursor := ""
	for n := 0; ; n++ {
		if n > 5 {
			t.Fatal("pagination does not end")
		}
		var pg page[endpointOut]
		e.do("GET", "/v1/projects/"+pid+"/endpoints?limit=3&cursor="+cursor, key, nil).decode(t, 200, &pg)
		for _, it := range pg.Items {
			got = append(got, it.ID)
		}
		if cursor = pg.NextCursor; cursor == "" {
			break
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paged %v, want %v", got, want)
	}
	var pg page[endpointOut]
	e.do("GET", "/v1/projects/"+pid+"/endpoints", key, nil).decode(t, 200, &pg)
	if len(pg.Items) != 7 || pg.NextCursor != "" {
		t.Fatalf("default limit: %d items, cursor %q", len(pg.Items), pg.NextCursor)
	}
}

func TestEndpointValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	ep := e.endpoint(pid, key, map[string]any{"url": "https://example.com/keep"})
	strict := e.newHandler(func(c *service.Config) { c.RequireHTTPS = true })
	before := e.state(pid)

	tooMany := make([]string, 101)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("t%d", i)
	}
	cases := []struct {
		name string
		body any
		msg  string
	}{
		{"ftp url", map[string]any{"url": "ftp://example.com/x"}, "url: must be an absolute https or http URL"},
		{"javascript url", map[string]any{"url": "javascript:alert(1)"}, "url: must be an absolute https or http URL"},
		{"relative url", map[string]any{"url": "/hooks"}, "url: must be an absolute https or http URL"},
		{"empty url", map[string]any{"url": ""}, "url:"},
		{"credentials", map[string]any{"url": "https://u:p@example.com/"}, "url: must not contain credentials"},
		{"url not a string", `{"url":42}`, "url: must be a string"},
		{"long description", map[string]any{"url": "https://example.com", "description": strings.Repeat("x", 1001)}, "description: must be at most 1000 characters"},
		{"bad type char", map[string]any{"url": "https://example.com", "event_types": []string{"a b"}}, "event_types[0]:"},
		{"star without dot", map[string]any{"url": "https://example.com", "event_types": []string{"ok", "a*"}}, "event_types[1]:"},
		{"bare dot star", map[string]any{"url": "https://example.com", "event_types": []string{".*"}}, "event_types[0]:"},
		{"empty type", map[string]any{"url": "https://example.com", "event_types": []string{""}}, "event_types[0]:"},
		{"long type", map[string]any{"url": "https://example.com", "event_types": []string{strings.Repeat("a", 129)}}, "event_types[0]:"},
		{"too many types", map[string]any{"url": "https://example.com", "event_types": tooMany}, "event_types: at most 100"},
		{"types not an array", `{"url":"https://example.com","event_types":"a.b"}`, "event_types: must be an array of strings"},
		{"type not a string", `{"url":"https://example.com","event_types":[1]}`, "event_types: must be a string"},
		{"enabled not a bool", `{"url":"https://example.com","enabled":"yes"}`, "enabled: must be a boolean"},
		{"negative rate limit", map[string]any{"url": "https://example.com", "rate_limit_per_second": -1}, "rate_limit_per_second: must be 0 (no limit) up to 10000"},
		{"huge rate limit", map[string]any{"url": "https://example.com", "rate_limit_per_second": 10001}, "rate_limit_per_second: must be 0 (no limit) up to 10000"},
		{"huge concurrency", map[string]any{"url": "https://example.com", "max_concurrency": 1001}, "max_concurrency: must be 0 (no limit) up to 1000"},
		{"concurrency not a number", `{"url":"https://example.com","max_concurrency":"2"}`, "max_concurrency: must be"},
		{"unknown field", `{"url":"https://example.com","secret":"x"}`, "secret: unknown field"},
		{"malformed", `{"url":"https://example.com"`, "body: malformed JSON"},
		{"trailing garbage", `{"url":"https://example.com"} x`, "body: must contain a single JSON value"},
	}
	for _, tc := range cases {
		t.Run("create/"+tc.name, func(t *testing.T) {
			e.do("POST", "/v1/projects/"+pid+"/endpoints", key, tc.body).wantError(t, 400, "invalid_argument", tc.msg)
		})
		if strings.HasPrefix(tc.name, "empty url") || strings.HasPrefix(tc.name, "malformed") {
			continue
		}
		t.Run("patch/"+tc.name, func(t *testing.T) {
			e.do("PATCH", "/v1/projects/"+pid+"/endpoints/"+ep.ID, key, tc.body).wantError(t, 400, "invalid_argument", tc.msg)
		})
	}
	t.Run("http when https is required", func(t *testing.T) {
		rec := httptest.NewRecorder()
		strict.ServeHTTP(rec, e.request("POST", "http://hookd.test/v1/projects/"+pid+"/endpoints", key, map[string]any{"url": "http://example.com/"}))
		resp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}.wantError(t, 400, "invalid_argument", "url: must use https")
	})
	if after := e.state(pid); !reflect.DeepEqual(before, after) {
		t.Fatalf("refused requests changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestTestEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	var (
		mu       sync.Mutex
		received []string
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, string(b))
		mu.Unlock()
		w.WriteHeader(201)
		io.WriteString(w, "thanks")
	}))
	defer receiver.Close()
	ep := e.endpoint(pid, key, map[string]any{"url": receiver.URL + "/hook"})
	before := e.state(pid)

	var res api.TestResult
	e.do("POST", "/v1/projects/"+pid+"/endpoints/"+ep.ID+"/test", key,
		`{"type":"order.created","data":{ "id" : 1 }}`).decode(t, 200, &res)
	if res.StatusCode != 201 || res.ResponseBody != "thanks" || res.Error != "" {
		t.Fatalf("test result %+v", res)
	}
	// Without a body: the default type and an empty object.
	e.do("POST", "/v1/projects/"+pid+"/endpoints/"+ep.ID+"/test", key, nil).decode(t, 200, &res)
	mu.Lock()
	defer mu.Unlock()
	if len(received) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(received))
	}
	for i, want := range []string{`{"data":{"id":1},"type":"order.created"}`, `{"data":{},"type":"webhook.test"}`} {
		if received[i] != want {
			t.Errorf("request %d: %s, want %s", i, received[i], want)
		}
	}
	// Test events are not in the event log.
	if after := e.state(pid); !reflect.DeepEqual(before, after) {
		t.Fatalf("a test changed the store:\nbefore %+v\nafter  %+v", before, after)
	}

	// A receiver that is down is a result, not an API error.
	down := e.endpoint(pid, key, map[string]any{"url": "http://127.0.0.1:1/"})
	e.do("POST", "/v1/projects/"+pid+"/endpoints/"+down.ID+"/test", key, `{}`).decode(t, 200, &res)
	if res.StatusCode != 0 || res.Error == "" {
		t.Fatalf("down receiver: %+v", res)
	}

	calls := e.tester.callCount()
	for _, tc := range []struct {
		path, body string
		status     int
		code, msg  string
	}{
		{ids.New(ids.Endpoint, start) + "/test", `{}`, 404, "not_found", "endpoint not found"},
		{"ep_nope/test", `{}`, 404, "not_found", "endpoint not found"},
		{ep.ID + "/test", `{"type":"a b"}`, 400, "invalid_argument", "type:"},
		{ep.ID + "/test", `{"data":[1]}`, 400, "invalid_argument", "data: must be a JSON object"},
		{ep.ID + "/test", `{"data":"x"}`, 400, "invalid_argument", "data: must be a JSON object"},
		{ep.ID + "/test", `{"type":1}`, 400, "invalid_argument", "type: must be a string"},
		{ep.ID + "/test", `{"url":"https://evil.example"}`, 400, "invalid_argument", "url: unknown field"},
	} {
		e.do("POST", "/v1/projects/"+pid+"/endpoints/"+tc.path, key, tc.body).wantError(t, tc.status, tc.code, tc.msg)
	}
	if got := e.tester.callCount(); got != calls {
		t.Fatalf("refused tests reached the Tester: %d calls, want %d", got, calls)
	}
	var sent testCall
	e.tester.mu.Lock()
	sent = e.tester.calls[0]
	e.tester.mu.Unlock()
	if sent.ProjectID != pid || sent.URL != ep.URL || sent.Type != "order.created" || !json.Valid([]byte(sent.Data)) {
		t.Fatalf("Tester called with %+v", sent)
	}
}
