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
// and comes back to the same filters saying how many.
func TestBulkResend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	down := newReceiver(t, http.StatusServiceUnavailable, "down")
	e.api(http.StatusCreated, "POST", "/v1/projects/"+s.p.ID+"/endpoints", s.p.Key,
		map[string]any{"url": down.srv.URL, "event_types": []string{"invoice.*"}}, nil)
	for i := range 3 {
		e.api(http.StatusAccepted, "POST", "/v1/projects/"+s.p.ID+"/events", s.p.Key,
			map[string]any{"type": "invoice.paid", "data": map[string]int{"n": i}}, nil)
	}
	c := e.client()
	csrf := c.signIn(s.p.Key)
	p := "/ui/projects/" + s.p.ID
	retrying := func() int {
		t.Helper()
		var ds struct {
			Items []struct{} `json:"items"`
		}
		e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/deliveries?status=retrying", s.p.Key, nil, &ds)
		return len(ds.Items)
	}
	for deadline := time.Now().Add(20 * time.Second); retrying() < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the deliveries to the failing endpoint never retried")
		}
	}

	if log := c.get(p + "/events"); strings.Contains(log.body, "Resend matching") {
		t.Error("the unfiltered log offers to resend everything")
	}
	filters := "status=retrying&event_type=Invoice.%2A"
	log := c.get(p + "/events?" + filters)
	if !strings.Contains(log.body, `/events/resend?event_type=Invoice.%2a&amp;status=retrying"`) &&
		!strings.Contains(log.body, `/events/resend?event_type=Invoice.%2A&amp;status=retrying"`) {
		t.Errorf("the filtered log offers no bulk resend:\n%s", log.body)
	}
	preview := c.get(p + "/events/resend?" + filters)
	if preview.StatusCode != http.StatusOK || !strings.Contains(preview.body, "<strong>3 deliveries match</strong>; resend them?") {
		t.Errorf("preview: %d\n%s", preview.StatusCode, preview.body)
	}
	if n := retrying(); n != 3 {
		t.Errorf("the preview changed something: %d retrying", n)
	}
	for _, bad := range []string{"status=delivering", "status=succeeded"} {
		if a := c.get(p + "/events/resend?" + bad); a.StatusCode != http.StatusBadRequest {
			t.Errorf("a preview of %s: %d", bad, a.StatusCode)
		}
	}

	post := c.post(p+"/events/resend", url.Values{"csrf": {csrf}, "status": {"retrying"}, "event_type": {"Invoice.*"}}, nil)
	to := post.Header.Get("Location")
	if post.StatusCode != http.StatusSeeOther || !strings.HasPrefix(to, p+"/events?") || !strings.Contains(to, "status=retrying") {
		t.Fatalf("resend: %d to %q", post.StatusCode, to)
	}
	done := c.get(to)
	if !strings.Contains(done.body, "Resent 3 deliveries: they are due now.") {
		t.Errorf("the log does not say what was resent:\n%s", done.body)
	}
	down.waitRequests(t, 6) // the 3 resent are sent again
}
