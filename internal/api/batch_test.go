package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/store"
)

type batchOut struct {
	Items []struct {
		Status   int        `json:"status"`
		Event    publishOut `json:"event"`
		Replayed bool       `json:"replayed"`
		Error    struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"items"`
}

// TestPublishBatch: each event of a batch is answered on its own, in order;
// the valid ones are stored, the bad ones fail with the error a single
// publish would get, and none fails another.
func TestPublishBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	e.endpoint(pid, key, map[string]any{"url": "https://example.com/all"})
	first := e.publish(pid, key, "order.created", map[string]any{"n": 1}, "Idempotency-Key", "k-1")
	big := `{"pad":"` + strings.Repeat("x", 300<<10) + `"}`
	body := `{"events":[
		{"type":"order.created","data":{"n":2}},
		{"type":"order.created","data":[1]},
		{"data":{"n":3}},
		{"type":"order.created","data":{"n":1},"idempotency_key":"k-1"},
		{"type":"order.created","data":{"n":9},"idempotency_key":"k-1"},
		{"type":"order.created","data":{"n":4},"colour":"red"},
		{"type":"order.created","data":` + big + `},
		{"type":"hookd.endpoint.failing","data":{}},
		{"type":"order.created","data":{"n":5},"idempotency_key":""},
		"not an object",
		{"type":"order.shipped","data":{"n":6},"idempotency_key":"k-6"}
	]}`
	var out batchOut
	e.do("POST", "/v1/projects/"+pid+"/events/batch", key, body).decode(t, 200, &out)
	want := []struct {
		status int
		code   string
		msg    string
	}{
		{202, "", ""},
		{400, "invalid_argument", "data: must be a JSON object"},
		{400, "invalid_argument", "type"},
		{202, "", ""},
		{422, "idempotency_key_reused", ""},
		{400, "invalid_argument", "colour"},
		{413, "payload_too_large", ""},
		{400, "invalid_argument", "hookd."},
		{400, "invalid_argument", "idempotency_key"},
		{400, "invalid_argument", ""},
		{202, "", ""},
	}
	if len(out.Items) != len(want) {
		t.Fatalf("%d items, want %d", len(out.Items), len(want))
	}
	for i, w := range want {
		got := out.Items[i]
		if got.Status != w.status || got.Error.Code != w.code || !strings.Contains(got.Error.Message, w.msg) {
			t.Errorf("item %d: %d %s %q, want %d %s containing %q", i, got.Status, got.Error.Code, got.Error.Message, w.status, w.code, w.msg)
		}
		if w.status == 202 && (got.Event.ID == "" || len(got.Event.Deliveries) != 1) {
			t.Errorf("item %d: accepted without its event and delivery: %+v", i, got.Event)
		}
	}
	if !out.Items[3].Replayed || out.Items[3].Event.ID != first.ID {
		t.Fatalf("a replayed key answers the first event %s: %+v", first.ID, out.Items[3])
	}
	for _, i := range []int{0, 10} {
		if _, err := e.db.GetEvent(context.Background(), pid, out.Items[i].Event.ID); err != nil {
			t.Fatalf("item %d answered 202 but not stored: %v", i, err)
		}
	}
	var replay batchOut
	e.do("POST", "/v1/projects/"+pid+"/events/batch", key, `{"events":[{"type":"order.shipped","data":{"n":6},"idempotency_key":"k-6"}]}`).decode(t, 200, &replay)
	if !replay.Items[0].Replayed || replay.Items[0].Event.ID != out.Items[10].Event.ID {
		t.Fatalf("the batch's own key did not replay: %+v", replay.Items[0])
	}
}

// TestPublishBatchRefusedWhole: only a batch that is not one (not JSON, no
// events, too many, too large) is refused as a whole.
func TestPublishBatchRefusedWhole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf(`{"type":"a.b","data":{"i":%d}}`, i)
	}
	for _, c := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{"events":[`, 400, ""},
		{`{}`, 400, "events: must hold at least one event"},
		{`{"events":[]}`, 400, "events: must hold at least one event"},
		{`{"events":{}}`, 400, "events"},
		{`{"events":[` + strings.Join(many, ",") + `]}`, 400, "at most 100"},
		{`{"events":[{"type":"a.b","data":{"p":"` + strings.Repeat("x", 1100<<10) + `"}}]}`, 413, ""},
	} {
		r := e.do("POST", "/v1/projects/"+pid+"/events/batch", key, c.body)
		if r.status != c.status || !strings.Contains(string(r.body), c.msg) {
			t.Errorf("%.40s…: %d %s, want %d containing %q", c.body, r.status, r.body, c.status, c.msg)
		}
	}
	if r := e.do("POST", "/v1/projects/"+pid+"/events/batch", "", `{"events":[]}`); r.status != http.StatusUnauthorized {
		t.Fatalf("without a key: %d", r.status)
	}
	evs, err := e.db.ListEvents(context.Background(), pid, store.EventFilter{}, store.Page{Limit: 1000})
	if err != nil || len(evs) != 0 {
		t.Fatalf("a refused batch stored %d events (%v)", len(evs), err)
	}
}
