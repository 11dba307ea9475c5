package api_test

import (
	"context"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/publish"
	"github.com/hookd/hookd/internal/service"
)

func TestPublishEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	all := e.endpoint(pid, key, map[string]any{"url": "https://example.com/all"})
	orders := e.endpoint(pid, key, map[string]any{"url": "https://example.com/orders", "event_types": []string{"order.*"}})
	e.endpoint(pid, key, map[string]any{"url": "https://example.com/invoices", "event_types": []string{"invoice.paid"}})
	e.clock.Advance(1500 * time.Millisecond)

	r := e.do("POST", "/v1/projects/"+pid+"/events", key,
		"{ \"type\": \"order.created\",\n \"data\" : { \"b\" : 1, \"a\":\"<x>&é\", \"n\": [1, 2.50] } }")
	var out publishOut
	r.decode(t, 202, &out)
	if !ids.Valid(ids.Event, out.ID) || out.Type != "order.created" || !out.CreatedAt.Equal(e.clock.Now()) {
		t.Fatalf("published %+v", out)
	}
	if r.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("a first publish is not a replay")
	}
	gotEPs := map[string]bool{}
	for _, d := range out.Deliveries {
		if !ids.Valid(ids.Delivery, d.ID) {
			t.Fatalf("delivery id %q", d.ID)
		}
		gotEPs[d.EndpointID] = true
	}
	if !reflect.DeepEqual(gotEPs, map[string]bool{all.ID: true, orders.ID: true}) {
		t.Fatalf("fanned out to %v, want %s and %s", gotEPs, all.ID, orders.ID)
	}

	// The body is built once, compact, in field order, timestamp in whole
	// seconds, the publisher's characters untouched.
	stored, err := e.db.GetEvent(context.Background(), pid, out.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + out.ID + `","type":"order.created","timestamp":"2026-11-26T12:00:01Z","data":{"b":1,"a":"<x>&é","n":[1,2.50]}}`
	if string(stored.Body) != want {
		t.Fatalf("stored body\n%s\nwant\n%s", stored.Body, want)
	}

	var ev eventOut
	e.do("GET", "/v1/projects/"+pid+"/events/"+out.ID, key, nil).decode(t, 200, &ev)
	if ev.ID != out.ID || ev.Type != "order.created" || string(ev.Data) != `{"b":1,"a":"<x>&é","n":[1,2.50]}` ||
		!ev.CreatedAt.Equal(out.CreatedAt) || ev.IdempotencyKey != "" {
		t.Fatalf("GET event %+v (data %s)", ev, ev.Data)
	}
	if body := string(e.do("GET", "/v1/projects/"+pid+"/events/"+out.ID, key, nil).body); strings.Contains(body, "idempotency_key") {
		t.Fatalf("an event without a key shows idempotency_key: %s", body)
	}
	e.do("GET", "/v1/projects/"+pid+"/events/"+ids.New(ids.Event, start), key, nil).wantError(t, 404, "not_found", "event not found")
	e.do("GET", "/v1/projects/"+pid+"/events/evt_x", key, nil).wantError(t, 404, "not_found", "event not found")
}

func TestPublishWithoutContentType(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	req := e.request("POST", e.srv.URL+"/v1/projects/"+pid+"/events", key, `{"type":"a","data":{}}`)
	req.Header.Del("Content-Type")
	r, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 202 {
		t.Fatalf("status %d, want 202", r.StatusCode)
	}
}

func TestIdempotentPublish(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	other, otherKey := e.project("other")
	e.endpoint(pid, key, map[string]any{"url": "https://example.com/all"})

	first := e.publish(pid, key, "a.b", map[string]any{"n": 1}, "Idempotency-Key", "order-42")
	e.clock.Advance(time.Hour)
	r := e.do("POST", "/v1/projects/"+pid+"/events", key, map[string]any{"type": "a.b", "data": map[string]any{"n": 1}}, "Idempotency-Key", "order-42")
	var replay publishOut
	r.decode(t, 202, &replay)
	if r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("replay lacks Idempotent-Replayed: true")
	}
	if !reflect.DeepEqual(replay, first) {
		t.Fatalf("replay %+v, want the original %+v", replay, first)
	}
	var ev eventOut
	e.do("GET", "/v1/projects/"+pid+"/events/"+first.ID, key, nil).decode(t, 200, &ev)
	if ev.IdempotencyKey != "order-42" {
		t.Fatalf("idempotency_key %q", ev.IdempotencyKey)
	}
	if n := len(e.state(pid).Events); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
	// Keys are per project.
	if o := e.publish(other, otherKey, "a.b", map[string]any{}, "Idempotency-Key", "order-42"); o.ID == first.ID {
		t.Fatal("another project's key replayed this project's event")
	}
	// After the window the key is fresh again.
	e.clock.Advance(24 * time.Hour)
	if again := e.publish(pid, key, "a.b", map[string]any{}, "Idempotency-Key", "order-42"); again.ID == first.ID {
		t.Fatal("a key older than 24 h still replays")
	}
}

// chunked hides the length of a body, so the client sends it chunked and
// only the MaxBytesReader can stop it.
type chunked struct{ io.Reader }

func TestPublishInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	e.endpoint(pid, key, map[string]any{"url": "https://example.com/all"})
	before := e.state(pid)
	huge := `{"type":"a","data":{"x":"` + strings.Repeat("A", 10<<20) + `"}}`

	for _, tc := range []struct {
		name   string
		body   any
		hdr    []string
		status int
		code   string
		msg    string
	}{
		{"no body", nil, nil, 400, "invalid_argument", "body: must be a JSON object"},
		{"malformed", `{"type":"a","data":{}`, nil, 400, "invalid_argument", "body: malformed JSON"},
		{"not json", `type=a`, nil, 400, "invalid_argument", "body: malformed JSON"},
		{"unknown field", `{"type":"a","data":{},"id":"evt_x"}`, nil, 400, "invalid_argument", "id: unknown field"},
		{"type not a string", `{"type":5,"data":{}}`, nil, 400, "invalid_argument", "type: must be a string"},
		{"no type", `{"data":{}}`, nil, 400, "invalid_argument", "type: must be 1–128 characters"},
		{"bad type", `{"type":"a/b","data":{}}`, nil, 400, "invalid_argument", "type:"},
		{"long type", `{"type":"` + strings.Repeat("a", 129) + `","data":{}}`, nil, 400, "invalid_argument", "type:"},
		{"no data", `{"type":"a"}`, nil, 400, "invalid_argument", "data: must be a JSON object"},
		{"null data", `{"type":"a","data":null}`, nil, 400, "invalid_argument", "data: must be a JSON object"},
		{"array data", `{"type":"a","data":[]}`, nil, 400, "invalid_argument", "data: must be a JSON object"},
		{"string data", `{"type":"a","data":"x"}`, nil, 400, "invalid_argument", "data: must be a JSON object"},
		{"two values", `{"type":"a","data":{}} {}`, nil, 400, "invalid_argument", "single JSON value"},
		{"long idempotency key", `{"type":"a","data":{}}`, []string{"Idempotency-Key", strings.Repeat("k", 256)}, 400, "invalid_argument", "Idempotency-Key: must be 1–255 printable ASCII characters"},
		{"10 MiB", huge, nil, 413, "payload_too_large", "body: must be at most 262144 bytes"},
		{"10 MiB chunked", chunked{strings.NewReader(huge)}, nil, 413, "payload_too_large", "body:"},
		{"big whitespace after value", `{"type":"a","data":{}}` + strings.Repeat(" ", 300<<10), nil, 413, "payload_too_large", "body:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any = tc.body
			if c, ok := tc.body.(chunked); ok {
				req := e.request("POST", e.srv.URL+"/v1/projects/"+pid+"/events", key, nil)
				req.Body = io.NopCloser(c)
				req.ContentLength = -1
				r, err := e.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Body.Close()
				b, _ := io.ReadAll(r.Body)
				resp{status: r.StatusCode, header: r.Header, body: b}.wantError(t, tc.status, tc.code, tc.msg)
				return
			}
			e.do("POST", "/v1/projects/"+pid+"/events", key, body, tc.hdr...).wantError(t, tc.status, tc.code, tc.msg)
		})
	}
	if after := e.state(pid); !reflect.DeepEqual(before, after) {
		t.Fatalf("refused events were stored:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestPublishWhileShuttingDown: a publisher that is closing answers 503
// with Retry-After, as for a database outage: the publisher retries
// (safely, with its Idempotency-Key) and another node takes it.
func TestPublishWhileShuttingDown(t *testing.T) {
	t.Parallel()
	var b *publish.Batcher
	e := newEnv(t, func(c *service.Config) {
		b = publish.New(publish.Config{Store: c.Store, Clock: c.Clock})
		c.Publisher = b
	})
	pid, key := e.project("acme")
	b.Close()
	r := e.do("POST", "/v1/projects/"+pid+"/events", key, `{"type":"a","data":{}}`)
	r.wantError(t, 503, "unavailable", "try again")
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After on 503")
	}
	if strings.Contains(e.logs.String(), "internal error") {
		t.Errorf("shutting down was logged as an internal error: %s", e.logs)
	}
}

func TestListEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	other, otherKey := e.project("other")
	e.publish(other, otherKey, "order.created", map[string]any{})

	var all []publishOut // oldest first
	for i, typ := range []string{"order.created", "order.paid", "order.created", "invoice.sent", "order.created"} {
		all = append(all, e.publish(pid, key, typ, map[string]any{"i": i}, "Idempotency-Key", typ+string(rune('0'+i))))
		e.clock.Advance(time.Minute)
	}
	idsOf := func(path string) []string {
		t.Helper()
		var got []string
		cursor := ""
		for n := 0; ; n++ {
			if n > 10 {
				t.Fatal("pagination does not end")
			}
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			var pg page[eventOut]
			e.do("GET", "/v1/projects/"+pid+"/events"+path+sep+"limit=2&cursor="+cursor, key, nil).decode(t, 200, &pg)
			for _, it := range pg.Items {
				if !json.Valid(it.Data) || it.Data[0] != '{' {
					t.Fatalf("item data %s", it.Data)
				}
				got = append(got, it.ID)
			}
			if cursor = pg.NextCursor; cursor == "" {
				return got
			}
		}
	}
	rev := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, all[i].ID)
		}
		return out
	}
	minute := func(i int) string { return start.Add(time.Duration(i) * time.Minute).Format(time.RFC3339) }
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", rev(4, 3, 2, 1, 0)},
		{"?type=order.created", rev(4, 2, 0)},
		{"?since=" + minute(2), rev(4, 3, 2)},
		{"?until=" + minute(2), rev(1, 0)},
		{"?type=order.created&since=" + minute(1) + "&until=" + minute(4), rev(2)},
		{"?type=nothing", nil},
		// A prefix, as endpoint filters take it, and any case.
		{"?type=order.*", rev(4, 2, 1, 0)},
		{"?type=ORDER.Created", rev(4, 2, 0)},
		{"?type=*", rev(4, 3, 2, 1, 0)},
		// The event published with a key; none for another's.
		{"?idempotency_key=order.paid1", rev(1)},
		{"?idempotency_key=order.paid2", nil},
	} {
		if got := idsOf(tc.query); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("events%s: %v, want %v", tc.query, got, tc.want)
		}
	}

	for _, tc := range []struct{ query, msg string }{
		{"?limit=0", "limit: must be an integer from 1 to 250"},
		{"?limit=251", "limit:"},
		{"?limit=ten", "limit:"},
		{"?cursor=" + ids.New(ids.Delivery, start), "cursor:"},
		{"?cursor=garbage", "cursor:"},
		{"?since=yesterday", "since: must be an RFC 3339 time"},
		{"?until=2026-13-01T00:00:00Z", "until:"},
		{"?type=a%20b", "type:"},
		{"?type=a.*.b", "type:"},
		{"?idempotency_key=%7F", "idempotency_key:"},
	} {
		e.do("GET", "/v1/projects/"+pid+"/events"+tc.query, key, nil).wantError(t, 400, "invalid_argument", tc.msg)
	}
	var pg page[eventOut]
	e.do("GET", "/v1/projects/"+pid+"/events?limit=250", key, nil).decode(t, 200, &pg)
	if len(pg.Items) != 5 || pg.Items[0].IdempotencyKey != "order.created4" {
		t.Fatalf("limit=250: %+v", pg.Items)
	}
}
