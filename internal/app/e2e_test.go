package app_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/hookd/hookd/webhook"
)

// TestDeliveredBodyHeadersAndSignature: the receiver gets the documented
// body and headers, and the signature verifies with the project's secret.
func TestDeliveredBodyHeadersAndSignature(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	recv := newReceiver(t, 200)
	p := s.newProject("acme")
	if !strings.HasPrefix(p.Secret, "whsec_") {
		t.Fatalf("secret %q does not start with whsec_", p.Secret)
	}
	s.newEndpoint(p, recv.URL())
	ev := s.publish(p, "tester.created", map[string]any{"name": "Ada", "n": 1})
	if !strings.HasPrefix(ev.ID, "evt_") || len(ev.Deliveries) != 1 {
		t.Fatalf("publish answered %+v", ev)
	}
	d := s.waitDelivery(p, ev.Deliveries[0].ID, finished)
	if d.Status != "succeeded" || d.AttemptCount != 1 || d.LastStatusCode != 200 {
		t.Fatalf("delivery = %+v", d)
	}
	got := recv.received()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	h := got[0].Header
	if h.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q", h.Get("Content-Type"))
	}
	if !strings.HasPrefix(h.Get("User-Agent"), "hookd/") {
		t.Errorf("User-Agent = %q", h.Get("User-Agent"))
	}
	if h.Get("webhook-id") != ev.ID {
		t.Errorf("webhook-id = %q, want the event id %q", h.Get("webhook-id"), ev.ID)
	}
	// The documented body, byte for byte: id, type, timestamp, data.
	want := regexp.MustCompile(`^\{"id":"` + ev.ID + `","type":"tester\.created","timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","data":\{"n":1,"name":"Ada"\}\}$`)
	if !want.Match(got[0].Body) {
		t.Errorf("body = %s", got[0].Body)
	}
	v, err := webhook.NewVerifier([]string{p.Secret})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(got[0].Body, h); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	// Tampering is detected.
	if err := v.Verify(append(got[0].Body[:len(got[0].Body):len(got[0].Body)], ' '), h); err == nil {
		t.Error("tampered body verified")
	}
}

// TestRetriesUntilSuccess: 500, 500, 200 → three attempts with exactly those
// codes, and the delivery ends succeeded with one webhook-id throughout.
func TestRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	recv := newReceiver(t, 500, 500, 200)
	p := s.newProject("retry")
	s.newEndpoint(p, recv.URL())
	ev := s.publish(p, "tester.applied", map[string]any{})
	d := s.waitDelivery(p, ev.Deliveries[0].ID, finished)
	if d.Status != "succeeded" {
		t.Fatalf("status = %s, want succeeded: %+v", d.Status, d)
	}
	var codes []int
	for _, a := range d.Attempts {
		codes = append(codes, a.StatusCode)
	}
	if len(codes) != 3 || codes[0] != 500 || codes[1] != 500 || codes[2] != 200 {
		t.Fatalf("attempt codes = %v, want [500 500 200]", codes)
	}
	for i, a := range d.Attempts {
		if a.Number != i+1 {
			t.Errorf("attempt %d has number %d", i, a.Number)
		}
	}
	for _, r := range recv.received() {
		if r.Header.Get("webhook-id") != ev.ID {
			t.Errorf("retry carried webhook-id %q, want %q", r.Header.Get("webhook-id"), ev.ID)
		}
	}
}

// TestGivesUpAfterSchedule: an always-failing receiver gets the first
// attempt plus one per scheduled delay, then the delivery is failed.
func TestGivesUpAfterSchedule(t *testing.T) {
	t.Parallel()
	s := start(t, nil) // schedule: 20ms, 20ms → 3 attempts
	recv := newReceiver(t, 503)
	p := s.newProject("down")
	s.newEndpoint(p, recv.URL())
	ev := s.publish(p, "tester.created", map[string]any{})
	d := s.waitDelivery(p, ev.Deliveries[0].ID, finished)
	if d.Status != "failed" || d.AttemptCount != 3 || len(d.Attempts) != 3 {
		t.Fatalf("delivery = %+v, want failed after 3 attempts", d)
	}
	if n := len(recv.received()); n != 3 {
		t.Fatalf("receiver got %d requests, want 3", n)
	}
	// A failed delivery can be resent by hand; the attempt numbers go on.
	s.must(202, "POST", "/v1/projects/"+p.ID+"/deliveries/"+d.ID+"/retry", p.Key, nil, nil)
	d = s.waitDelivery(p, d.ID, func(d delivery) bool { return d.AttemptCount == 4 && finished(d) })
	if d.Attempts[3].Number != 4 {
		t.Fatalf("resend attempt = %+v", d.Attempts[3])
	}
}

// TestTestEndpointLeavesNoTrace: the Test button returns the receiver's
// answer and nothing appears in the event log.
func TestTestEndpointLeavesNoTrace(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	recv := newReceiver(t, 418)
	p := s.newProject("test-button")
	ep := s.newEndpoint(p, recv.URL())
	var res struct {
		StatusCode   int    `json:"status_code"`
		DurationMS   *int64 `json:"duration_ms"`
		Error        string `json:"error"`
		ResponseBody string `json:"response_body"`
	}
	s.must(200, "POST", "/v1/projects/"+p.ID+"/endpoints/"+ep+"/test", p.Key, map[string]any{}, &res)
	if res.StatusCode != 418 || res.ResponseBody != "answer 1" || res.DurationMS == nil {
		t.Fatalf("test result = %+v", res)
	}
	got := recv.received()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests", len(got))
	}
	v, _ := webhook.NewVerifier([]string{p.Secret})
	if err := v.Verify(got[0].Body, got[0].Header); err != nil {
		t.Errorf("test event signature: %v", err)
	}
	var list struct{ Items []json.RawMessage }
	s.must(200, "GET", "/v1/projects/"+p.ID+"/deliveries", p.Key, nil, &list)
	if len(list.Items) != 0 {
		t.Errorf("event log has %d deliveries after a test call", len(list.Items))
	}
	s.must(200, "GET", "/v1/projects/"+p.ID+"/events", p.Key, nil, &list)
	if len(list.Items) != 0 {
		t.Errorf("event list has %d events after a test call", len(list.Items))
	}
}

// TestTestSendMatchesDelivery: the Test button and a real delivery of the
// same data send the same bytes, apart from id and timestamp (the type is
// the same here too): data with characters encoding/json's Marshal would
// escape included.
func TestTestSendMatchesDelivery(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	recv := newReceiver(t, 200)
	p := s.newProject("same-bytes")
	ep := s.newEndpoint(p, recv.URL())
	const typ = "order.created"
	const data = `{ "html" : "<script>&amp;</script> & <b>", "u":"é\u2028", "n" : [1, 2.50, {"x":null}] }`
	body := `{"type":"` + typ + `","data":` + data + `}`
	s.must(200, "POST", "/v1/projects/"+p.ID+"/endpoints/"+ep+"/test", p.Key, body, nil)
	var ev published
	s.must(202, "POST", "/v1/projects/"+p.ID+"/events", p.Key, body, &ev)
	s.waitDelivery(p, ev.Deliveries[0].ID, finished)

	got := recv.received()
	if len(got) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(got))
	}
	idAndTime := regexp.MustCompile(`^\{"id":"evt_[0-9A-Z]{26}","type":"` + typ + `","timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",`)
	var rest [2][]byte
	for i, r := range got {
		loc := idAndTime.FindIndex(r.Body)
		if loc == nil {
			t.Fatalf("request %d: body %s does not start with id, type and timestamp", i, r.Body)
		}
		rest[i] = r.Body[loc[1]:]
	}
	if string(rest[0]) != string(rest[1]) {
		t.Fatalf("test send and delivery differ:\ntest     %s\ndelivery %s", got[0].Body, got[1].Body)
	}
	if want := `"data":{"html":"<script>&amp;</script> & <b>","u":"é\u2028","n":[1,2.50,{"x":null}]}}`; string(rest[0]) != want {
		t.Fatalf("data sent as %s, want %s", rest[0], want)
	}
	v, _ := webhook.NewVerifier([]string{p.Secret})
	for i, r := range got {
		if err := v.Verify(r.Body, r.Header); err != nil {
			t.Errorf("request %d: signature: %v", i, err)
		}
	}
}

// TestFanOutSameWebhookID: an event matching two endpoints reaches both with
// the same webhook-id; an endpoint whose filter does not match gets nothing.
func TestFanOutSameWebhookID(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	a, b, c := newReceiver(t), newReceiver(t), newReceiver(t)
	p := s.newProject("fanout")
	s.newEndpoint(p, a.URL())
	s.newEndpoint(p, b.URL(), "tester.*")
	s.newEndpoint(p, c.URL(), "invoice.paid")
	ev := s.publish(p, "tester.created", map[string]any{"k": "v"})
	if len(ev.Deliveries) != 2 {
		t.Fatalf("event fanned out to %d endpoints, want 2", len(ev.Deliveries))
	}
	for _, dl := range ev.Deliveries {
		if d := s.waitDelivery(p, dl.ID, finished); d.Status != "succeeded" {
			t.Fatalf("delivery %+v", d)
		}
	}
	ra, rb := a.received(), b.received()
	if len(ra) != 1 || len(rb) != 1 || len(c.received()) != 0 {
		t.Fatalf("received a=%d b=%d c=%d, want 1 1 0", len(ra), len(rb), len(c.received()))
	}
	if ra[0].Header.Get("webhook-id") != ev.ID || rb[0].Header.Get("webhook-id") != ev.ID {
		t.Errorf("webhook-ids %q and %q, want both %q", ra[0].Header.Get("webhook-id"), rb[0].Header.Get("webhook-id"), ev.ID)
	}
	if string(ra[0].Body) != string(rb[0].Body) {
		t.Errorf("bodies differ:\n%s\n%s", ra[0].Body, rb[0].Body)
	}
}

// TestRotationSignsWithNewSecretOnly: after a rotation without grace only
// the new secret verifies.
func TestRotationSignsWithNewSecretOnly(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	recv := newReceiver(t)
	p := s.newProject("rotate")
	s.newEndpoint(p, recv.URL())
	first := s.publish(p, "tester.created", map[string]any{})
	s.waitDelivery(p, first.Deliveries[0].ID, finished)

	var rot struct{ Secret string }
	s.must(200, "POST", "/v1/projects/"+p.ID+"/secret/rotate", p.Key, map[string]any{}, &rot)
	if rot.Secret == p.Secret || !strings.HasPrefix(rot.Secret, "whsec_") {
		t.Fatalf("rotate answered %q", rot.Secret)
	}
	var read struct{ Secret string }
	s.must(200, "GET", "/v1/projects/"+p.ID+"/secret", p.Key, nil, &read)
	if read.Secret != rot.Secret {
		t.Fatalf("secret after rotation = %q, want %q", read.Secret, rot.Secret)
	}
	second := s.publish(p, "tester.created", map[string]any{})
	s.waitDelivery(p, second.Deliveries[0].ID, finished)
	got := recv.received()
	last := got[len(got)-1]
	if sigs := strings.Fields(last.Header.Get("webhook-signature")); len(sigs) != 1 {
		t.Errorf("signature header has %d entries, want 1 (old secret expired at once)", len(sigs))
	}
	newV, _ := webhook.NewVerifier([]string{rot.Secret})
	oldV, _ := webhook.NewVerifier([]string{p.Secret})
	if err := newV.Verify(last.Body, last.Header); err != nil {
		t.Errorf("new secret does not verify: %v", err)
	}
	if err := oldV.Verify(last.Body, last.Header); err == nil {
		t.Error("old secret still verifies after rotation")
	}
	// The first delivery was signed with the old secret only.
	if err := oldV.Verify(got[0].Body, got[0].Header); err != nil {
		t.Errorf("first delivery with old secret: %v", err)
	}
}
