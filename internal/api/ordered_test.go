package api_test

import (
	"strings"
	"testing"
)

// TestOrderedDelivery: an endpoint is created and patched ordered; an
// event's ordering_key is taken on a single and a batch publish, shown on
// the event and on the ordered endpoint's deliveries, and the one behind
// an unfinished one of its key is listed held by ordering, naming it.
func TestOrderedDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	var ep struct {
		ID      string `json:"id"`
		Ordered bool   `json:"ordered"`
	}
	e.do("POST", "/v1/projects/"+pid+"/endpoints", key, map[string]any{"url": "https://example.com/o", "ordered": true}).decode(t, 201, &ep)
	if !ep.Ordered {
		t.Fatalf("created endpoint not ordered")
	}
	var plain struct {
		ID      string `json:"id"`
		Ordered bool   `json:"ordered"`
	}
	e.do("POST", "/v1/projects/"+pid+"/endpoints", key, map[string]any{"url": "https://example.com/p"}).decode(t, 201, &plain)
	if plain.Ordered {
		t.Fatalf("an endpoint is ordered by default")
	}
	e.do("PATCH", "/v1/projects/"+pid+"/endpoints/"+plain.ID, key, map[string]any{"ordered": true}).decode(t, 200, &plain)
	if !plain.Ordered {
		t.Fatalf("patched endpoint not ordered")
	}
	e.do("PATCH", "/v1/projects/"+pid+"/endpoints/"+plain.ID, key, map[string]any{"ordered": false}).decode(t, 200, &plain)
	if plain.Ordered {
		t.Fatalf("patched endpoint still ordered")
	}

	type published struct {
		ID          string `json:"id"`
		OrderingKey string `json:"ordering_key"`
		Deliveries  []struct {
			ID         string `json:"id"`
			EndpointID string `json:"endpoint_id"`
		} `json:"deliveries"`
	}
	var first published
	e.do("POST", "/v1/projects/"+pid+"/events", key,
		map[string]any{"type": "order.created", "data": map[string]any{}, "ordering_key": "order-7"}).decode(t, 202, &first)
	if first.OrderingKey != "order-7" {
		t.Fatalf("published %+v, want its ordering key", first)
	}
	var batch struct {
		Items []struct {
			Status int       `json:"status"`
			Event  published `json:"event"`
		} `json:"items"`
	}
	e.do("POST", "/v1/projects/"+pid+"/events/batch", key, map[string]any{"events": []map[string]any{
		{"type": "order.paid", "data": map[string]any{}, "ordering_key": "order-7"},
		{"type": "order.paid", "data": map[string]any{}, "ordering_key": ""},
		{"type": "order.paid", "data": map[string]any{}},
	}}).decode(t, 200, &batch)
	if len(batch.Items) != 3 || batch.Items[0].Status != 202 || batch.Items[1].Status != 400 || batch.Items[2].Status != 202 {
		t.Fatalf("batch items %+v, want 202, 400 (empty key), 202", batch.Items)
	}
	second := batch.Items[0].Event
	if second.OrderingKey != "order-7" {
		t.Fatalf("batch event %+v, want its ordering key", second)
	}
	var ev struct {
		OrderingKey string `json:"ordering_key"`
	}
	e.do("GET", "/v1/projects/"+pid+"/events/"+second.ID, key, nil).decode(t, 200, &ev)
	if ev.OrderingKey != "order-7" {
		t.Fatalf("event ordering_key %q", ev.OrderingKey)
	}

	to := func(p published, endpoint string) string {
		for _, d := range p.Deliveries {
			if d.EndpointID == endpoint {
				return d.ID
			}
		}
		t.Fatalf("event %s has no delivery to %s", p.ID, endpoint)
		return ""
	}
	type dlv struct {
		ID          string  `json:"id"`
		Status      string  `json:"status"`
		OrderingKey string  `json:"ordering_key"`
		HeldReason  *string `json:"held_reason"`
		HeldAfter   *string `json:"held_after"`
	}
	var held struct {
		Items []dlv `json:"items"`
	}
	e.do("GET", "/v1/projects/"+pid+"/deliveries?status=held", key, nil).decode(t, 200, &held)
	if len(held.Items) != 1 {
		t.Fatalf("held deliveries %+v, want the second of order-7 to the ordered endpoint", held.Items)
	}
	h := held.Items[0]
	if h.ID != to(second, ep.ID) || h.Status != "held" || h.OrderingKey != "order-7" ||
		h.HeldReason == nil || *h.HeldReason != "ordering" || h.HeldAfter == nil || *h.HeldAfter != to(first, ep.ID) {
		t.Fatalf("held delivery %+v, want %s held by ordering after %s", h, to(second, ep.ID), to(first, ep.ID))
	}
	var d dlv
	e.do("GET", "/v1/projects/"+pid+"/deliveries/"+to(second, plain.ID), key, nil).decode(t, 200, &d)
	if d.OrderingKey != "" || d.HeldReason != nil {
		t.Fatalf("delivery to the unordered endpoint %+v, want no key and not held", d)
	}
}

// TestOrderingKeyRefused: an ordering key that is empty, too long or
// holds control characters is refused, naming the field.
func TestOrderingKeyRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	for _, tc := range []struct {
		key, msg string
	}{
		{"", "empty string"},
		{strings.Repeat("k", 256), "1–255 bytes"},
		{"a\x00b", "control character"},
		{"a\nb", "control character"},
	} {
		e.do("POST", "/v1/projects/"+pid+"/events", key,
			map[string]any{"type": "order.created", "data": map[string]any{}, "ordering_key": tc.key}).
			wantError(t, 400, "invalid_argument", tc.msg)
	}
	var ok struct {
		OrderingKey string `json:"ordering_key"`
	}
	e.do("POST", "/v1/projects/"+pid+"/events", key,
		map[string]any{"type": "order.created", "data": map[string]any{}, "ordering_key": strings.Repeat("é", 127)}).decode(t, 202, &ok)
	if ok.OrderingKey != strings.Repeat("é", 127) {
		t.Errorf("a 254-byte key came back as %q", ok.OrderingKey)
	}
}
