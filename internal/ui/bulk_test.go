package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestBulkResend: a filtered Event Log offers to resend what it shows;
// the preview counts without changing anything, the confirmation resends
// and comes back to the same filters saying how many, and a reload of
// that page resends nothing more.
func TestBulkResend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	for i := range 3 {
		e.api(http.StatusAccepted, "POST", "/v1/projects/"+s.p.ID+"/events", s.p.Key,
			map[string]any{"type": "Invoice.Paid", "data": map[string]int{"n": i}}, nil)
	}
	s.rc.waitRequests(t, 4)
	c := e.client()
	csrf := c.signIn(s.p.Key)
	p := "/ui/projects/" + s.p.ID
	succeeded := func() int {
		t.Helper()
		var ds struct {
			Items []struct{} `json:"items"`
		}
		e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/deliveries?status=succeeded", s.p.Key, nil, &ds)
		return len(ds.Items)
	}
	for deadline := time.Now().Add(20 * time.Second); succeeded() < 4; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the deliveries never succeeded")
		}
	}

	if log := c.get(p + "/events"); strings.Contains(log.body, "Resend matching") {
		t.Error("the unfiltered log offers to resend everything")
	}
	filters := "status=succeeded&event_type=invoice.%2A"
	log := c.get(p + "/events?" + filters)
	if !strings.Contains(log.body, `href="`+p+`/events/resend?event_type=invoice.%2a&amp;status=succeeded"`) &&
		!strings.Contains(log.body, `/events/resend?event_type=invoice.%2A&amp;status=succeeded"`) {
		t.Errorf("the filtered log offers no bulk resend:\n%s", log.body)
	}
	preview := c.get(p + "/events/resend?" + filters)
	if preview.StatusCode != http.StatusOK || !strings.Contains(preview.body, "<strong>3 deliveries match</strong>; resend them?") {
		t.Errorf("preview: %d\n%s", preview.StatusCode, preview.body)
	}
	if n := succeeded(); n != 4 {
		t.Errorf("the preview changed something: %d succeeded", n)
	}
	if bad := c.get(p + "/events/resend?status=delivering"); bad.StatusCode != http.StatusBadRequest {
		t.Errorf("a preview of deliveries in flight: %d", bad.StatusCode)
	}

	post := c.post(p+"/events/resend", url.Values{"csrf": {csrf}, "status": {"succeeded"}, "event_type": {"invoice.*"}}, nil)
	to := post.Header.Get("Location")
	if post.StatusCode != http.StatusSeeOther || !strings.HasPrefix(to, p+"/events?") || !strings.Contains(to, "status=succeeded") {
		t.Fatalf("resend: %d to %q", post.StatusCode, to)
	}
	done := c.get(to)
	if !strings.Contains(done.body, "Resent 3 deliveries: they are due now.") {
		t.Errorf("the log does not say what was resent:\n%s", done.body)
	}
	s.rc.waitRequests(t, 7) // the 3 resent are sent again
}
