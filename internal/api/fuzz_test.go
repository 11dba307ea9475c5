package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// statusOfCode is the API's code → status table, as clients rely on it.
var statusOfCode = map[string]int{
	"invalid_argument": 400, "unauthenticated": 401, "permission_denied": 403, "insufficient_scope": 403, "not_found": 404,
	"method_not_allowed": 405, "conflict": 409, "payload_too_large": 413, "unprocessable": 422,
	"rate_limited": 429, "unavailable": 503, "internal": 500,
}

// checkAnswer fails on a 5xx, on a body that is not JSON, and on an error
// whose code does not match its status.
func checkAnswer(t *testing.T, r resp, input []byte) {
	t.Helper()
	if r.status >= 500 {
		t.Fatalf("status %d for %q: %s", r.status, input, r.body)
	}
	if r.status == http.StatusNoContent {
		return
	}
	if !json.Valid(r.body) {
		t.Fatalf("status %d with a body that is not JSON for %q: %s", r.status, input, r.body)
	}
	if r.status >= 400 {
		var eb errorBody
		if err := json.Unmarshal(r.body, &eb); err != nil || eb.Error.Message == "" || statusOfCode[eb.Error.Code] != r.status {
			t.Fatalf("status %d with error body %s for %q", r.status, r.body, input)
		}
	}
}

// fuzzBody feeds each input as the body of method path.
func fuzzBody(f *testing.F, method string, path func(e *env, pid, key string) string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	e := newEnv(f)
	pid, key := e.project("fuzz")
	p := path(e, pid, key)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAnswer(t, serve(t, e.handler, method, p, key, body), body)
	})
}

var commonSeeds = []string{
	``, ` `, `null`, `{}`, `[]`, `"x"`, `1`, `{`, `}`, `{"a":1}`, `{} {}`, `{}x`,
	`{"url":null}`, "\xff\xfe", `{"\u0000":1}`, strings.Repeat("[", 100000),
}

func FuzzCreateEndpoint(f *testing.F) {
	fuzzBody(f, "POST", func(e *env, pid, key string) string { return "/v1/projects/" + pid + "/endpoints" },
		append(commonSeeds,
			`{"url":"https://example.com/hook"}`,
			`{"url":"https://example.com/hook","description":"d","event_types":["a.*","*","b"],"enabled":false}`,
			`{"url":"ftp://example.com"}`, `{"url":"javascript:alert(1)"}`, `{"url":"//example.com"}`,
			`{"url":"https://[::1]:99999/"}`, `{"url":"https://example.com","event_types":[null]}`,
			`{"url":"https://example.com","event_types":{"a":1}}`, `{"url":"https://example.com","enabled":1}`,
			`{"url":"https://example.com","description":"`+strings.Repeat("é", 1001)+`"}`)...)
}

func FuzzPatchEndpoint(f *testing.F) {
	fuzzBody(f, "PATCH", func(e *env, pid, key string) string {
		ep := e.endpoint(pid, key, map[string]any{"url": "https://example.com/hook"})
		return "/v1/projects/" + pid + "/endpoints/" + ep.ID
	}, append(commonSeeds,
		`{"enabled":true}`, `{"enabled":false}`, `{"event_types":[]}`, `{"event_types":null}`,
		`{"url":"http://example.com:0/"}`, `{"description":""}`, `{"url":"https://example.com/x","enabled":null}`,
		`{"recover_since":1}`, `{"recover_since":"0000-01-01T00:00:00Z"}`, `{"recover_since":{}}`)...)
}

func FuzzPublishEvent(f *testing.F) {
	fuzzBody(f, "POST", func(e *env, pid, key string) string {
		e.endpoint(pid, key, map[string]any{"url": "https://example.com/hook"})
		return "/v1/projects/" + pid + "/events"
	}, append(commonSeeds,
		`{"type":"order.created","data":{"id":1}}`, `{"type":"a","data":{"x":"<\u2028>"}}`,
		`{"type":"a","data":{"n":1e400}}`, `{"type":"a","data":{"s":"\ud800"}}`, `{"type":"a","data":[]}`,
		`{"type":"","data":{}}`, `{"type":"a b","data":{}}`, `{"type":"a","data":{"a":{"b":{"c":[1,2,{"d":null}]}}}}`,
		`{"type":"a","data":{}, "type":"b"}`, `{"data":{},"type":"a"}`)...)
}

func FuzzPublishBatch(f *testing.F) {
	fuzzBody(f, "POST", func(e *env, pid, key string) string {
		e.endpoint(pid, key, map[string]any{"url": "https://example.com/hook"})
		return "/v1/projects/" + pid + "/events/batch"
	}, append(commonSeeds,
		`{"events":[{"type":"order.created","data":{"id":1}}]}`, `{"events":[]}`, `{"events":null}`,
		`{"events":[{"type":"a","data":{},"idempotency_key":"k"},{"type":"a","data":{"x":1},"idempotency_key":"k"}]}`,
		`{"events":[1,"x",null,[],{}]}`, `{"events":[{"type":"a","data":{"s":"\ud800"}}]}`,
		`{"events":[{"type":"hookd.x","data":{}},{"type":"a","data":{},"ordering_key":"o"}]}`,
		`{"events":[{"type":"a","data":{},"idempotency_key":""}],"more":1}`)...)
}

func FuzzTestEndpoint(f *testing.F) {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	f.Cleanup(receiver.Close)
	fuzzBody(f, "POST", func(e *env, pid, key string) string {
		ep := e.endpoint(pid, key, map[string]any{"url": receiver.URL})
		return "/v1/projects/" + pid + "/endpoints/" + ep.ID + "/test"
	}, append(commonSeeds, `{"type":"a.b"}`, `{"data":{"x":1}}`, `{"type":"a","data":null}`, `{"data":"x"}`)...)
}

func FuzzRotateSecret(f *testing.F) {
	fuzzBody(f, "POST", func(e *env, pid, key string) string { return "/v1/projects/" + pid + "/secret/rotate" },
		append(commonSeeds,
			`{"grace_period_seconds":60}`, `{"grace_period_seconds":604800}`, `{"grace_period_seconds":604801}`,
			`{"grace_period_seconds":-1}`, `{"grace_period_seconds":9223372036854775807}`,
			`{"grace_period_seconds":1e2}`, `{"signature_scheme":"ed25519"}`, `{"signature_scheme":"hmac","grace_period_seconds":0}`)...)
}

func FuzzCreateProject(f *testing.F) {
	for _, s := range append(commonSeeds, `{"name":"acme"}`, `{"name":"acme","signature_scheme":"ed25519"}`, `{"name":"\u0000"}`) {
		f.Add([]byte(s))
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAnswer(t, serve(t, e.handler, "POST", "/v1/projects", e.admin, body), body)
	})
}

func FuzzCreateAPIKey(f *testing.F) {
	seeds := append([]string{`{"name":"billing service","scope":"publish"}`, `{"scope":"admin"}`, `{"scope":"Read"}`,
		`{"name":"\u0000"}`, `{"scope":7}`}, commonSeeds...)
	fuzzBody(f, "POST", func(e *env, pid, key string) string { return "/v1/projects/" + pid + "/api-keys" }, seeds...)
}

// FuzzListQueries feeds query strings to every list.
func FuzzListQueries(f *testing.F) {
	for _, s := range []string{
		"", "limit=1", "limit=250", "limit=0", "limit=-5", "limit=99999999999999999999", "cursor=evt_x",
		"cursor=dlv_01JD0000000000000000000000", "status=failed&endpoint_id=ep_1&event_type=a.*",
		"since=2026-01-01T00:00:00Z&until=2025-01-01T00:00:00Z", "since=%zz", "type=%00",
	} {
		f.Add(s)
	}
	e := newEnv(f)
	pid, key := e.project("fuzz")
	e.endpoint(pid, key, map[string]any{"url": "https://example.com/hook"})
	e.publish(pid, key, "a.b", map[string]any{})
	lists := []string{"/v1/projects", "/v1/projects/" + pid + "/endpoints", "/v1/projects/" + pid + "/events",
		"/v1/projects/" + pid + "/deliveries", "/v1/projects/" + pid + "/api-keys"}
	f.Fuzz(func(t *testing.T, query string) {
		for _, l := range lists {
			req := newRequest(t, "GET", "http://hookd.test"+l, key, nil)
			// Set raw, so that what url.Parse would refuse still reaches
			// the handler.
			req.URL.RawQuery = query
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, req)
			r := resp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
			checkAnswer(t, r, []byte(query))
		}
	})
}

func FuzzCreatePortalSession(f *testing.F) {
	fuzzBody(f, "POST", func(e *env, pid, key string) string { return "/v1/projects/" + pid + "/portal-sessions" },
		append(commonSeeds,
			`{"access":"manage"}`, `{"access":"view","ttl_seconds":60,"return_url":"https://app.example.com/s"}`,
			`{"access":"view","ttl_seconds":9223372036854775807}`, `{"access":"view","ttl_seconds":-1}`,
			`{"access":"view","return_url":"http://[::1]:8080/x"}`, `{"access":"view","return_url":"https://a b/"}`,
			`{"access":"view","return_url":"https://x.example/\u0000"}`, `{"access":"MANAGE"}`, `{"access":["view"]}`)...)
}

func FuzzPatchProject(f *testing.F) {
	fuzzBody(f, "PATCH", func(e *env, pid, key string) string { return "/v1/projects/" + pid },
		append(commonSeeds,
			`{"portal":{}}`, `{"portal":null}`, `{"portal":{"name":"Acme","logo_url":"https://a.example/l.svg","accent_color":"#0A7f5c"}}`,
			`{"portal":{"accent_color":"#0a7f5"}}`, `{"portal":{"accent_color":"#0a7f5cc"}}`, `{"portal":{"logo_url":"https://a.example/l.svg';script-src *"}}`,
			`{"portal":{"name":"`+strings.Repeat("é", 101)+`"}}`, `{"portal":{"name":"a\u0000b"}}`, `{"name":"x"}`)...)
}
