package ui_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/ui"
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
		q = escapeQuery(q)
		a := c.as(t).get("/ui/projects/" + s.p.ID + "/events?" + q)
		if a.StatusCode != http.StatusOK && a.StatusCode != http.StatusBadRequest {
			t.Fatalf("?%s: %d\n%.500s", q, a.StatusCode, a.body)
		}
		if a.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("?%s: no CSP", q)
		}
	})
}

// escapeQuery %-escapes the bytes a request line cannot carry, as a
// browser sends them; the page decodes them all the same.
func escapeQuery(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c >= 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzEndpointHealth: whatever query reaches an endpoint's health page
// and whatever time the Recover and Enable forms carry, the answer is the
// page (200), the page with the error beside the field (400) or, for
// Enable without a time, the redirect back to it (303); never an internal
// error.
func FuzzEndpointHealth(f *testing.F) {
	for _, seed := range [][2]string{
		{"", "2026-01-01T00:00"}, {"window=7d", ""}, {"window=24h&window=7d", "2026-01-01T00:00:00Z"},
		{"window=30d", "yesterday"}, {"window=%00", "2999-12-31T23:59"}, {"window=" + strings.Repeat("7", 300), "0000-01-01T00:00"},
		{"done=updated", "2026-02-30T25:61"}, {"window=7D", "\xff"},
	} {
		f.Add(seed[0], seed[1])
	}
	e := newEnv(f, false)
	s := seed(f, e, "Fuzz")
	c := e.client()
	csrf := c.signIn(s.p.Key)
	ep := "/ui/projects/" + s.p.ID + "/webhooks/" + s.endpointID
	f.Fuzz(func(t *testing.T, q, since string) {
		c := c.as(t)
		q = escapeQuery(q)
		for _, a := range []answer{
			c.get(ep + "?" + q),
			c.post(ep+"/recover", url.Values{"csrf": {csrf}, "since": {since}}, nil),
			c.post(ep+"/enable", url.Values{"csrf": {csrf}, "recover_since": {since}}, nil),
		} {
			if a.StatusCode != http.StatusOK && a.StatusCode != http.StatusBadRequest && a.StatusCode != http.StatusSeeOther {
				t.Fatalf("?%s since %q: %s %d\n%.500s", q, since, a.Request.URL.Path, a.StatusCode, a.body)
			}
			if a.Header.Get("Content-Security-Policy") == "" {
				t.Fatalf("?%s since %q: %s without a CSP", q, since, a.Request.URL.Path)
			}
		}
	})
}

// FuzzEndpointForm: whatever the endpoint form carries, limits included, it adds the
// endpoint (303) or shows the form again (400), never an internal error.
func FuzzEndpointForm(f *testing.F) {
	f.Add("https://example.com/h", "", "", "", "")
	f.Add("http://localhost:1/x", "desc <b>", "a.b, c.*, *", "20", "4")
	f.Add("ftp://x", "\x00", "bad type!", "-1", "1001")
	f.Add("https://user:pw@example.com", strings.Repeat("é", 1001), strings.Repeat("a,", 200), "1e3", "0x10")
	f.Add("", "\xff\xfe", "a..b", "99999999999999999999", " 7 ")
	e := newEnv(f, false)
	s := seed(f, e, "Fuzz")
	c := e.client()
	csrf := c.signIn(s.p.Key)
	f.Fuzz(func(t *testing.T, u, desc, types, rate, concurrency string) {
		a := c.as(t).post("/ui/projects/"+s.p.ID+"/webhooks", url.Values{"csrf": {csrf}, "url": {u}, "description": {desc}, "event_types": {types},
			"rate_limit_per_second": {rate}, "max_concurrency": {concurrency}}, nil)
		if a.StatusCode != http.StatusSeeOther && a.StatusCode != http.StatusBadRequest {
			t.Fatalf("url %q description %q types %q limits %q %q: %d\n%.500s", u, desc, types, rate, concurrency, a.StatusCode, a.body)
		}
	})
}

// FuzzDeliveryPage (issue 19): whatever body an event has — nested deep,
// wide, large, full of what HTML escapes — its delivery page answers 200
// and shows the body indented as json.Indent would, or as it is past the
// caps, never more than PrettyMaxBytes of it; the rest of the page is the
// same few KB whatever the body.
func FuzzDeliveryPage(f *testing.F) {
	f.Add(3, 2, `{"k":"<b>&amp;</b>"}`)
	f.Add(40, 1, `1`)
	f.Add(2, 30000, `"<<<<"`)
	f.Add(5000, 1, `[]`)
	f.Add(0, 1, `"\u2028 é \" \\"`)
	f.Add(30, 30000, `1`) // indented past PrettyMaxBytes: shown as it is
	e := newEnv(f, false)
	s := seed(f, e, "Fuzz")
	c := e.client()
	c.signIn(s.p.Key)
	pre := regexp.MustCompile(`(?s)<pre class="body" id="event-body">(.*?)</pre>`)
	f.Fuzz(func(t *testing.T, depth, width int, leaf string) {
		depth, width = max(0, depth%6000), max(1, width%40000)
		var b strings.Builder
		b.WriteString(`{"type":"fuzz.page","data":{"v":` + strings.Repeat("[", depth))
		for i := range width {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(leaf)
		}
		b.WriteString(strings.Repeat("]", depth) + "}}")
		if b.Len() > 250<<10 || !json.Valid([]byte(b.String())) {
			return // not an event hookd stores
		}
		req, err := http.NewRequest("POST", e.base+"/v1/projects/"+s.p.ID+"/events", strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+s.p.Key)
		req.Header.Set("Content-Type", "application/json")
		pub := c.as(t).do(req)
		switch pub.StatusCode {
		case http.StatusAccepted:
		case http.StatusBadRequest:
			return // hookd refuses it (a lone surrogate escape, too deep): no event to show
		default:
			t.Fatalf("publish: %d %.300s", pub.StatusCode, pub.body)
		}
		var ev struct{ ID string }
		if err := json.Unmarshal([]byte(pub.body), &ev); err != nil {
			t.Fatal(err)
		}
		var ds struct{ Items []struct{ ID string } }
		req, _ = http.NewRequest("GET", e.base+"/v1/projects/"+s.p.ID+"/deliveries?event_id="+ev.ID, nil)
		req.Header.Set("Authorization", "Bearer "+s.p.Key)
		if a := c.as(t).do(req); a.StatusCode != http.StatusOK || json.Unmarshal([]byte(a.body), &ds) != nil || len(ds.Items) != 1 {
			t.Fatalf("deliveries of %s: %d %.300s", ev.ID, a.StatusCode, a.body)
		}
		p := "/ui/projects/" + s.p.ID
		body := c.as(t).get(p + "/events/" + ev.ID + "/body")
		page := c.as(t).get(p + "/deliveries/" + ds.Items[0].ID)
		if page.StatusCode != http.StatusOK || body.StatusCode != http.StatusOK {
			t.Fatalf("delivery page %d, body %d", page.StatusCode, body.StatusCode)
		}
		m := pre.FindStringSubmatchIndex(page.body)
		if m == nil {
			t.Fatalf("no event body on the page:\n%.500s", page.body)
		}
		shown := html.UnescapeString(page.body[m[2]:m[3]])
		if len(shown) > ui.PrettyMaxBytes {
			t.Fatalf("a %d-byte body is shown as %d bytes, over %d", len(body.body), len(shown), ui.PrettyMaxBytes)
		}
		if want := ui.PrettyWhole([]byte(body.body)); shown != want {
			t.Fatalf("a %d-byte body is shown as %d bytes, want %d (json.Indent's or the raw cut)", len(body.body), len(shown), len(want))
		}
		if rest := len(page.body) - (m[3] - m[2]); rest > 64<<10 {
			t.Fatalf("the page around the body is %d bytes", rest)
		}
	})
}
