package api_test

import (
	"strings"
	"testing"
)

// TestHostileSmallOnes (issue 19, finding 9): a lone surrogate escape in
// event data, the reserved prefix in another case, a wrong-typed since,
// and the years 0 and 1 as since each get a 400 that says what is wrong.
func TestHostileSmallOnes(t *testing.T) {
	e := newEnv(t)
	pid, key := e.project("small")
	ep := e.endpoint(pid, key, map[string]any{"url": e.srv.URL + "/hook"})
	for _, tc := range []struct {
		name, path string
		body       string
		want       string // in the 400's message
	}{
		{"lone high surrogate", "/events", `{"type":"t.a","data":{"x":"\ud800"}}`, "data: must not hold a lone UTF-16 surrogate"},
		{"lone low surrogate in a key", "/events", `{"type":"t.a","data":{"\udc00":1}}`, "data: must not hold a lone UTF-16 surrogate"},
		{"high surrogate then not a low one", "/events", `{"type":"t.a","data":{"x":"\ud800\u0041"}}`, "data: must not hold a lone UTF-16 surrogate"},
		{"reserved prefix upper case", "/events", `{"type":"HOOKD.x","data":{}}`, "type: must not start with"},
		{"reserved prefix mixed case", "/events", `{"type":"Hookd.endpoint.failing","data":{}}`, "type: must not start with"},
		{"since a number", "/endpoints/" + ep.ID + "/recover", `{"since":5}`, "since: must be an RFC 3339 time"},
		{"since an object", "/endpoints/" + ep.ID + "/recover", `{"since":{}}`, "since: must be an RFC 3339 time"},
		{"since not a time", "/endpoints/" + ep.ID + "/recover", `{"since":"yesterday"}`, "since: must be an RFC 3339 time"},
		{"since year 1", "/endpoints/" + ep.ID + "/recover", `{"since":"0001-01-01T00:00:00Z"}`, "since: is required: an RFC 3339 time from 1970 on"},
		{"since year 0", "/endpoints/" + ep.ID + "/recover", `{"since":"0000-01-01T00:00:00Z"}`, "since: is required: an RFC 3339 time from 1970 on"},
		{"since missing", "/endpoints/" + ep.ID + "/recover", `{}`, "since: is required: an RFC 3339 time from 1970 on"},
		{"recover_since a number", "/endpoints/" + ep.ID, `{"recover_since":1}`, "recover_since: must be an RFC 3339 time"},
		{"recover_since year 0", "/endpoints/" + ep.ID, `{"recover_since":"0000-01-01T00:00:00Z"}`, "recover_since: is required: an RFC 3339 time from 1970 on"},
	} {
		method := "POST"
		if !strings.HasSuffix(tc.path, "/events") && !strings.HasSuffix(tc.path, "/recover") {
			method = "PATCH"
		}
		r := e.do(method, "/v1/projects/"+pid+tc.path, key, []byte(tc.body))
		if r.status != 400 || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d %s, want 400 saying %q", tc.name, r.status, r.body, tc.want)
		}
	}
	// A surrogate pair, an escaped backslash before "ud800", and the
	// prefix inside a type are fine.
	for _, body := range []string{
		`{"type":"t.a","data":{"x":"\ud83d\ude00"}}`,
		`{"type":"t.a","data":{"x":"\\ud800"}}`,
		`{"type":"my.hookd.x","data":{}}`,
	} {
		if r := e.do("POST", "/v1/projects/"+pid+"/events", key, []byte(body)); r.status != 202 {
			t.Errorf("%s: %d %s, want 202", body, r.status, r.body)
		}
	}
}
