package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestResendKeepsHistory: Resend of a succeeded delivery leaves it
// succeeded and shows the new delivery that resends its event; Resend of a
// delivery whose endpoint is disabled says why it was refused and changes
// nothing.
func TestResendKeepsHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	c := e.client()
	csrf := c.signIn(s.p.Key)
	p := "/ui/projects/" + s.p.ID
	type delivery struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	get := func(id string) delivery {
		var d delivery
		e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/deliveries/"+id, s.p.Key, nil, &d)
		return d
	}
	for deadline := time.Now().Add(20 * time.Second); get(s.deliveryID).Status != "succeeded"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the seeded delivery never succeeded")
		}
	}

	a := c.post(p+"/deliveries/"+s.deliveryID+"/resend", url.Values{"csrf": {csrf}}, nil)
	to := a.Header.Get("Location")
	if a.StatusCode != http.StatusSeeOther || !strings.Contains(to, "/deliveries/dlv_") || strings.Contains(to, s.deliveryID) {
		t.Fatalf("Resend of a succeeded delivery: %d to %q, want the new delivery's page", a.StatusCode, to)
	}
	if a = c.get(to); !strings.Contains(a.body, "Resent as a new delivery") {
		t.Errorf("the new delivery's page does not say what happened")
	}
	if d := get(s.deliveryID); d.Status != "succeeded" {
		t.Errorf("the succeeded delivery is %s after Resend", d.Status)
	}

	c.submit(p+"/webhooks/"+s.endpointID+"/disable", url.Values{"csrf": {csrf}})
	before := get(s.deliveryID)
	a = c.submit(p+"/deliveries/"+s.deliveryID+"/resend", url.Values{"csrf": {csrf}})
	if !strings.Contains(a.body, "endpoint is disabled or deleted") || !strings.Contains(a.body, "Nothing was changed") {
		t.Errorf("Resend with the endpoint disabled does not say why it was refused")
	}
	if after := get(s.deliveryID); after != before {
		t.Errorf("a refused Resend changed the delivery: %+v, then %+v", before, after)
	}
}
