package ui_test

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var (
	rowRE   = regexp.MustCompile(`href="/ui/projects/[^/]+/deliveries/(dlv_[0-9A-Z]+)(?:\?[^"]*)?"`)
	olderRE = regexp.MustCompile(`href="([^"]+)">Older →`)
)

// TestEventLogPaging: the Event Log shows 50 deliveries a page, newest
// first, and Older → goes on from the last one with the same filters.
func TestEventLogPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme") // one tester.created, delivered
	for i := range 55 {
		e.api(http.StatusAccepted, "POST", "/v1/projects/"+s.p.ID+"/events", s.p.Key,
			map[string]any{"type": "invoice.paid", "data": map[string]int{"n": i}}, nil)
	}
	s.rc.waitRequests(t, 56)
	c := e.client()
	c.signIn(s.p.Key)

	var all []string
	page := "/ui/projects/" + s.p.ID + "/events?event_type=invoice.paid"
	for n := 0; page != ""; n++ {
		if n > 3 {
			t.Fatal("more pages than there are deliveries")
		}
		a := c.get(page)
		if a.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", page, a.StatusCode)
		}
		rows := rowRE.FindAllStringSubmatch(a.body, -1)
		if n == 0 && len(rows) != 50 {
			t.Errorf("first page: %d rows, want 50", len(rows))
		}
		if n > 0 && !strings.Contains(a.body, "← Newest") {
			t.Errorf("page %d has no way back to the newest", n+1)
		}
		if strings.Contains(a.body, `">tester.created</a>`) {
			t.Errorf("page %d shows a delivery the filter leaves out", n+1)
		}
		for _, r := range rows {
			all = append(all, r[1])
		}
		page = ""
		if m := olderRE.FindStringSubmatch(a.body); m != nil {
			page = html.UnescapeString(m[1])
			if !strings.Contains(page, "event_type=invoice.paid") {
				t.Errorf("Older → drops the filter: %s", page)
			}
		}
	}
	if len(all) != 55 {
		t.Fatalf("%d deliveries over the pages, want 55", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i] >= all[i-1] {
			t.Fatalf("not newest first at %d: %s after %s", i, all[i], all[i-1])
		}
	}
	if a := c.get(fmt.Sprintf("/ui/projects/%s/events?status=succeeded&event_type=tester.created", s.p.ID)); len(rowRE.FindAllString(a.body, -1)) != 1 {
		t.Error("status and type filters together do not find the one delivery")
	}
}
