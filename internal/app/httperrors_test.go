package app_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestErrorsNetHTTPWritesAreJSON: requests net/http refuses before any
// handler runs (it used to answer them in plain text) and those with a
// malformed query get the API's JSON error shape, with no-store.
func TestErrorsNetHTTPWritesAreJSON(t *testing.T) {
	s := start(t, nil)
	addr := strings.TrimPrefix(s.base, "http://")
	for _, tc := range []struct {
		name    string
		request string
		status  int
		code    string
		msg     string
	}{
		{"bad escape in the path", "GET /v1/projects/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_argument", "malformed HTTP request"},
		{"bad request line", "GET /v1/projects\r\nHost: x\r\n\r\n", 400, "invalid_argument", "malformed HTTP request"},
		{"NUL in a header", "GET /v1/projects HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k\x00\r\n\r\n", 400, "invalid_argument", "malformed HTTP request"},
		{"malformed Host", "GET /v1/projects HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid_argument", "malformed HTTP request: malformed Host header"},
		{"no Host", "GET /v1/projects HTTP/1.1\r\n\r\n", 400, "invalid_argument", "malformed HTTP request: missing required Host header"},
		{"headers too large", "GET /v1/projects HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 1<<20+8192) + "\r\n\r\n", 431, "request_headers_too_large", "request headers too large"},
		{"unsupported transfer encoding", "POST /v1/projects HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented", "unsupported transfer encoding"},
		{"bad escape in the query", "GET /v1/projects?limit=%zz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testAdminKey + "\r\n\r\n", 400, "invalid_argument", "query: malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			go func() { _, _ = io.WriteString(conn, tc.request) }() // the server may answer before reading it all
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var e struct {
				Error struct{ Code, Message string }
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" ||
				json.Unmarshal(raw, &e) != nil || e.Error.Code != tc.code || !strings.HasPrefix(e.Error.Message, tc.msg) {
				t.Errorf("%d %s %q; want %d application/json %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), raw, tc.status, tc.code, tc.msg)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}
}

// TestLargeBodyAnsweredThroughTheWrapper: behind the listener that rewrites
// net/http's own errors, a body over the limit still gets its 413 read by
// the client, not a broken connection.
func TestLargeBodyAnsweredThroughTheWrapper(t *testing.T) {
	s := start(t, nil)
	p := s.newProject("big")
	body := `{"type":"a","data":{"pad":"` + strings.Repeat("x", 10<<20) + `"}}`
	code, raw, err := s.send("POST", "/v1/projects/"+p.ID+"/events", p.Key, []byte(body))
	if err != nil {
		t.Fatalf("10 MiB publish: %v (want a 413 answer, not a broken connection)", err)
	}
	if code != 413 || !strings.Contains(string(raw), "payload_too_large") {
		t.Fatalf("10 MiB publish: %d %s", code, raw)
	}
}
