package api_test

import (
	"encoding/json"
	"testing"
	"time"
)

// TestEventTypes: the types a project published, with counts, the newest
// event's time and data, by type, paged; another project's are not seen.
func TestEventTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	other, otherKey := e.project("other")
	publish := func(pid, key, body string) {
		t.Helper()
		e.do("POST", "/v1/projects/"+pid+"/events", key, body).decode(t, 202, nil)
	}
	publish(pid, key, `{"type":"order.created","data":{"n":1}}`)
	publish(pid, key, `{"type":"invoice.paid","data":{"n":2}}`)
	e.clock.Advance(time.Second)
	publish(pid, key, `{"type":"order.created","data":{"n":3}}`)
	publish(other, otherKey, `{"type":"secret.type","data":{}}`)

	type item struct {
		Type       string          `json:"type"`
		Count      int64           `json:"count"`
		LastSeenAt time.Time       `json:"last_seen_at"`
		Example    json.RawMessage `json:"example"`
	}
	var page struct {
		Items      []item `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	e.do("GET", "/v1/projects/"+pid+"/event-types?limit=1", key, nil).decode(t, 200, &page)
	if len(page.Items) != 1 || page.Items[0].Type != "invoice.paid" || page.Items[0].Count != 1 ||
		string(page.Items[0].Example) != `{"n":2}` || page.NextCursor != "invoice.paid" {
		t.Fatalf("first page %+v", page)
	}
	cursor := page.NextCursor
	page.Items, page.NextCursor = nil, ""
	e.do("GET", "/v1/projects/"+pid+"/event-types?cursor="+cursor, key, nil).decode(t, 200, &page)
	if len(page.Items) != 1 || page.NextCursor != "" {
		t.Fatalf("second page %+v", page)
	}
	got := page.Items[0]
	if got.Type != "order.created" || got.Count != 2 || string(got.Example) != `{"n":3}` || !got.LastSeenAt.Equal(e.clock.Now()) {
		t.Fatalf("order.created = %+v (now %v)", got, e.clock.Now())
	}
	e.do("GET", "/v1/projects/"+pid+"/event-types?limit=251", key, nil).decode(t, 400, nil)
}
