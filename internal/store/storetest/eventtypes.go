package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// What the event types page and the endpoint form ask of the store.
var eventTypeCases = []testCase{
	{"EventTypes", testEventTypes},
	{"EventTypesPaging", testEventTypesPaging},
}

// typeRow is an EventType without its body, to compare.
type typeRow struct {
	Type   string
	Count  int64
	LastAt time.Time
	LastID string
}

func (f *fixture) eventTypes(projectID string, page store.Page) ([]typeRow, []store.EventType) {
	f.t.Helper()
	ts, err := f.s.ListEventTypes(f.ctx, projectID, page)
	f.must(err, "ListEventTypes")
	var rows []typeRow
	for _, t := range ts {
		rows = append(rows, typeRow{t.Type, t.Count, t.LastSeenAt, t.LastEventID})
	}
	return rows, ts
}

// testEventTypes: every type a project published, counted across batches,
// its newest event and that event's body; idempotent replays are not
// counted, other projects are not seen, case makes a different type, and
// retention leaves the count but takes the example with the event.
func testEventTypes(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	if rows, _ := f.eventTypes(p.ID, store.Page{Limit: 10}); len(rows) != 0 {
		t.Fatalf("no events yet: %v", rows)
	}
	at := func(ms int) time.Time { return Base.Add(time.Duration(ms) * time.Millisecond) }
	a1, a2, c1 := event(p.ID, "a.b", at(1)), event(p.ID, "a.b", at(2)), event(p.ID, "c.d", at(3))
	a1.IdempotencyKey = "k1"
	f.publish(a1, a2, c1, event(q.ID, "a.b", at(4)))
	a3, big := event(p.ID, "a.b", at(10)), event(p.ID, "A.b", at(11))
	f.publish(a3, big)
	// A replay of a1's key returns a1 and counts nothing.
	replay := event(p.ID, "a.b", at(12))
	replay.IdempotencyKey = "k1"
	if res, err := f.s.Publish(f.ctx, []store.Event{replay}, Base.Add(-time.Hour), nil); err != nil || !res[0].Existing {
		t.Fatalf("replay: %+v, %v", res, err)
	}

	rows, ts := f.eventTypes(p.ID, store.Page{Limit: 10})
	want := []typeRow{
		{"A.b", 1, at(11), big.ID}, // bytewise: upper case first
		{"a.b", 3, at(10), a3.ID},
		{"c.d", 1, at(3), c1.ID},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("ListEventTypes:\n got %v\nwant %v", rows, want)
	}
	if string(ts[1].LastBody) != string(a3.Body) {
		t.Errorf("a.b example = %s, want the newest event's body %s", ts[1].LastBody, a3.Body)
	}
	if rows, _ := f.eventTypes(q.ID, store.Page{Limit: 10}); len(rows) != 1 || rows[0].Count != 1 {
		t.Errorf("other project: %v", rows)
	}

	// Retention removes c.d's only event: counted still, no example.
	n, err := f.s.DeleteBefore(f.ctx, at(5), 100)
	f.must(err, "DeleteBefore")
	if n != 4 {
		t.Fatalf("DeleteBefore removed %d events, want 4", n)
	}
	rows, ts = f.eventTypes(p.ID, store.Page{Limit: 10})
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("after retention:\n got %v\nwant %v", rows, want)
	}
	if ts[2].LastBody != nil || string(ts[1].LastBody) != string(a3.Body) {
		t.Errorf("after retention: examples %q, %q", ts[1].LastBody, ts[2].LastBody)
	}
}

// testEventTypesPaging: by type ascending, after page.After.
func testEventTypesPaging(t *testing.T, f *fixture) {
	p := f.project()
	var evs []store.Event
	for i, typ := range []string{"e.e", "b.b", "d.d", "a.a", "c.c"} {
		evs = append(evs, event(p.ID, typ, Base.Add(time.Duration(i)*time.Millisecond)))
	}
	f.publish(evs...)
	var got []string
	after := ""
	for range 10 {
		rows, _ := f.eventTypes(p.ID, store.Page{After: after, Limit: 2})
		if len(rows) == 0 {
			break
		}
		for _, r := range rows {
			got = append(got, r.Type)
		}
		after = rows[len(rows)-1].Type
	}
	if fmt.Sprint(got) != "[a.a b.b c.c d.d e.e]" {
		t.Errorf("pages = %v", got)
	}
}
