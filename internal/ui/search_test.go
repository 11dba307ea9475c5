package ui_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSearch: the Event Log's search box goes straight to what a
// customer quoted — an event id, a delivery id, an idempotency key, an
// endpoint URL or id — and says so beside the box when nothing matches;
// the type filter takes a prefix in any case; a delivery opened from a
// filtered log links back to the same filters.
func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	c := e.client()
	c.signIn(s.p.Key)
	p := "/ui/projects/" + s.p.ID
	var pub struct {
		ID string `json:"id"`
	}
	e.api(http.StatusAccepted, "POST", "/v1/projects/"+s.p.ID+"/events", s.p.Key,
		map[string]any{"type": "Invoice.Paid", "data": map[string]int{"n": 2}}, &pub, "Idempotency-Key", "order 42/paid")
	s.rc.waitRequests(t, 2)

	find := func(q string) answer {
		t.Helper()
		return c.get(p + "/events?q=" + url.QueryEscape(q))
	}
	for _, tc := range []struct{ q, to string }{
		{s.deliveryID, p + "/deliveries/" + s.deliveryID},
		{"  " + s.deliveryID + " ", p + "/deliveries/" + s.deliveryID},
		{pub.ID, p + "/events?event_id=" + pub.ID},
		{"order 42/paid", p + "/events?event_id=" + pub.ID},
		{s.rc.srv.URL, p + "/events?endpoint_id=" + s.endpointID},
		{s.rc.srv.URL + "/", p + "/events?endpoint_id=" + s.endpointID},
		{s.endpointID, p + "/events?endpoint_id=" + s.endpointID},
	} {
		a := find(tc.q)
		if to := a.Header.Get("Location"); a.StatusCode != http.StatusSeeOther || to != tc.to {
			t.Errorf("search %q: %d to %q, want %s", tc.q, a.StatusCode, to, tc.to)
		}
	}
	// The event's deliveries: only its own.
	if a := c.get(p + "/events?event_id=" + pub.ID); !strings.Contains(a.body, "Invoice.Paid") || strings.Contains(a.body, "tester.created") ||
		!strings.Contains(a.body, `name="event_id" value="`+pub.ID+`"`) {
		t.Errorf("the event's deliveries: %d\n%.3000s", a.StatusCode, a.body)
	}
	other := e.project("Other")
	for _, q := range []string{"order 43", "evt_01JD0000000000000000000000", "https://nowhere.example/hook", "ep_nothing", "\x7f"} {
		a := find(q)
		if a.StatusCode != http.StatusNotFound || !strings.Contains(a.body, `id="q-error"`) || !strings.Contains(a.body, "Nothing matches") {
			t.Errorf("search %q: %d, no error beside the box", q, a.StatusCode)
		}
	}
	// Another project's ids are not found.
	oc := e.client()
	oc.signIn(other.Key)
	if a := oc.get("/ui/projects/" + other.ID + "/events?q=" + s.deliveryID); a.StatusCode != http.StatusNotFound {
		t.Errorf("another project finds the delivery: %d %s", a.StatusCode, a.Header.Get("Location"))
	}

	for _, typ := range []string{"invoice.*", "INVOICE.PAID", "invoice.paid"} {
		a := c.get(p + "/events?event_type=" + url.QueryEscape(typ))
		if a.StatusCode != http.StatusOK || !strings.Contains(a.body, "Invoice.Paid") || strings.Contains(a.body, "tester.created") {
			t.Errorf("event_type %q: %d, not just the invoice", typ, a.StatusCode)
		}
	}
	// Absolute UTC time beside the relative one.
	if a := c.get(p + "/events"); !strings.Contains(a.body, `<span class="abs">`) || !strings.Contains(a.body, " UTC</span>") {
		t.Error("the log shows no absolute time")
	}

	// Filters kept: the log's links carry them, the delivery page links
	// back to them, Resend comes back to a page that still does.
	log := c.get(p + "/events?status=succeeded&event_type=tester.*")
	href := `href="` + p + `/deliveries/` + s.deliveryID + `?back=`
	i := strings.Index(log.body, href)
	if i < 0 {
		t.Fatalf("the filtered log does not link the delivery with its filters:\n%s", log.body)
	}
	link := html.UnescapeString(log.body[i+len(`href="`) : i+strings.Index(log.body[i:], `">`)])
	wantBack := p + "/events?event_type=tester.%2A&status=succeeded"
	page := c.get(link)
	if !strings.Contains(html.UnescapeString(page.body), `href="`+wantBack+`">← Event Log`) {
		t.Errorf("the delivery page does not link back to %s", wantBack)
	}
	csrf := csrfRE.FindStringSubmatch(page.body)[1]
	u, _ := url.Parse(link)
	after := c.submit(p+"/deliveries/"+s.deliveryID+"/resend", url.Values{"csrf": {csrf}, "back": {u.Query().Get("back")}})
	if !strings.Contains(html.UnescapeString(after.body), `href="`+wantBack+`">← Event Log`) || !strings.Contains(after.body, "Resent") {
		t.Error("after Resend the page forgot the filters")
	}
	// A back parameter cannot point elsewhere.
	evil := c.get(p + "/deliveries/" + s.deliveryID + "?back=" + url.QueryEscape("x=1&status=//evil.example"))
	if strings.Contains(evil.body, `href="//evil`) || strings.Contains(evil.body, "x=1") {
		t.Error("the back link carries what is not a filter")
	}
}

// TestDeliveryPageLinks: a delivery links to its endpoint's page and to
// every delivery of its event, with exact times.
func TestDeliveryPageLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	c := e.client()
	c.signIn(s.p.Key)
	p := "/ui/projects/" + s.p.ID
	var d struct {
		EventID string `json:"event_id"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/deliveries/"+s.deliveryID, s.p.Key, nil, &d)
	page := c.get(p + "/deliveries/" + s.deliveryID).body
	for _, want := range []string{
		`href="` + p + `/webhooks/` + s.endpointID + `"`,
		`href="` + p + `/events?event_id=` + d.EventID + `">All its deliveries</a>`,
		` UTC</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the delivery page has no %s", want)
		}
	}
}

// TestEventBodyDownload (issue 19): the delivery page links to its event's
// body as sent, a download of every byte (the page indents a bounded part
// of it); another project's event answers 404.
func TestEventBodyDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	other := seed(t, e, "Other")
	c := e.client()
	c.signIn(s.p.Key)
	p := "/ui/projects/" + s.p.ID
	var d struct {
		EventID string `json:"event_id"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/deliveries/"+s.deliveryID, s.p.Key, nil, &d)
	link := p + "/events/" + d.EventID + "/body"
	page := c.get(p + "/deliveries/" + s.deliveryID).body
	if !strings.Contains(page, `href="`+link+`" download>Download it as sent (`) {
		t.Fatalf("the delivery page has no download link to %s", link)
	}
	a := c.get(link)
	if a.StatusCode != http.StatusOK || a.Header.Get("Content-Type") != "application/json" ||
		a.Header.Get("Content-Disposition") != `attachment; filename="`+d.EventID+`.json"` ||
		a.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("download: %d %v", a.StatusCode, a.Header)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(a.body), &ev); err != nil || ev["id"] != d.EventID {
		t.Fatalf("download is not the event's body: %v %.200s", err, a.body)
	}
	var od struct {
		EventID string `json:"event_id"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+other.p.ID+"/deliveries/"+other.deliveryID, other.p.Key, nil, &od)
	if a := c.get(p + "/events/" + od.EventID + "/body"); a.StatusCode != http.StatusNotFound {
		t.Fatalf("another project's event body: %d, want 404", a.StatusCode)
	}
}
