package ui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzEventLogQuery: whatever query string reaches the Event Log, the
// page answers 200 or 400 with its headers, never an internal error.
func FuzzEventLogQuery(f *testing.F) {
	for _, q := range []string{
		"", "status=failed", "status=nope", "endpoint_id=ep_x", "event_type=a.b&since=2026-01-01T00:00",
		"since=2026-13-45T99:99", "until=2026-01-01T00:00:00Z&cursor=dlv_01JD", "cursor=%00", "status=%ff%fe",
		"since=" + strings.Repeat("9", 300),
	} {
		f.Add(q)
	}
	e := newEnv(f, false)
	s := seed(f, e, "Fuzz")
	c := e.client()
	c.signIn(s.p.Key)
	f.Fuzz(func(t *testing.T, q string) {
		// Bytes a request line cannot carry travel %-escaped, as a
		// browser sends them; the page decodes them all the same.
		var b strings.Builder
		for i := 0; i < len(q); i++ {
			if c := q[i]; c <= ' ' || c >= 0x7f || c == '#' {
				fmt.Fprintf(&b, "%%%02X", c)
			} else {
				b.WriteByte(c)
			}
		}
		q = b.String()
		a := c.as(t).get("/ui/projects/" + s.p.ID + "/events?" + q)
		if a.StatusCode != http.StatusOK && a.StatusCode != http.StatusBadRequest {
			t.Fatalf("?%s: %d\n%.500s", q, a.StatusCode, a.body)
		}
		if a.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("?%s: no CSP", q)
		}
	})
}

// FuzzEndpointForm: whatever the endpoint form carries, it adds the
// endpoint (303) or shows the form again (400), never an internal error.
func FuzzEndpointForm(f *testing.F) {
	f.Add("https://example.com/h", "", "")
	f.Add("http://localhost:1/x", "desc <b>", "a.b, c.*, *")
	f.Add("ftp://x", "\x00", "bad type!")
	f.Add("https://user:pw@example.com", strings.Repeat("é", 1001), strings.Repeat("a,", 200))
	f.Add("", "\xff\xfe", "a..b")
	e := newEnv(f, false)
	s := seed(f, e, "Fuzz")
	c := e.client()
	csrf := c.signIn(s.p.Key)
	f.Fuzz(func(t *testing.T, u, desc, types string) {
		a := c.as(t).post("/ui/projects/"+s.p.ID+"/webhooks", url.Values{"csrf": {csrf}, "url": {u}, "description": {desc}, "event_types": {types}}, nil)
		if a.StatusCode != http.StatusSeeOther && a.StatusCode != http.StatusBadRequest {
			t.Fatalf("url %q description %q types %q: %d\n%.500s", u, desc, types, a.StatusCode, a.body)
		}
	})
}
