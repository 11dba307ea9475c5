package ids

import (
	"strings"
	"testing"
	"time"
)

func TestNewSortsByTimeAndValidates(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	a, b := New(Event, base), New(Event, base.Add(time.Millisecond))
	if !strings.HasPrefix(a, "evt_") || a >= b {
		t.Fatalf("ids %q, %q: want evt_ prefix and time order", a, b)
	}
	same1, _, same2 := New(Event, base), New(Event, base.Add(time.Hour)), New(Event, base)
	if same1 == same2 || same1 >= same2 {
		t.Fatalf("ids made one after the other in one millisecond, another time's id between: %q, %q", same1, same2)
	}
	if !Valid(Event, a) || Valid(Delivery, a) || Valid(Event, "evt_") || Valid(Event, "evt_not-a-ulid") || Valid(Event, a+"x") {
		t.Fatal("Valid accepts or rejects the wrong ids")
	}
}

func TestTimeAndFloor(t *testing.T) {
	at := time.Date(2026, 11, 27, 6, 30, 0, 123_456_789, time.UTC)
	id := New(Event, at)
	got, ok := Time(Event, id)
	if !ok || !got.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("Time(%q) = %v, %v; want %v", id, got, ok, at.Truncate(time.Millisecond))
	}
	if _, ok := Time(Delivery, id); ok {
		t.Fatal("Time accepted an id of another prefix")
	}
	if _, ok := Time(Event, "evt_not-a-ulid"); ok {
		t.Fatal("Time accepted a malformed id")
	}
	floor := Floor(Event, at)
	before := New(Event, at.Add(-time.Millisecond))
	after := New(Event, at.Add(time.Millisecond))
	if !(before < floor && floor <= id && id < after) || !Valid(Event, floor) {
		t.Fatalf("Floor(%v) = %q; want between %q and %q, at or below %q", at, floor, before, after, id)
	}
	if f := Floor(Event, time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC)); f <= New(Event, at) {
		t.Fatalf("Floor past a ULID's range = %q, want above every id", f)
	}
}

func FuzzValid(f *testing.F) {
	f.Add("evt_01JD0000000000000000000000")
	f.Add("evt_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if Valid(Event, s) && !strings.HasPrefix(s, "evt_") {
			t.Fatalf("accepted %q", s)
		}
		// Time reads exactly the ids Valid accepts, and an id sorts at or
		// above the floor of its own millisecond.
		at, ok := Time(Event, s)
		if ok != Valid(Event, s) {
			t.Fatalf("Time ok=%v but Valid=%v for %q", ok, Valid(Event, s), s)
		}
		if ok && Floor(Event, at) > s {
			t.Fatalf("%q sorts below the floor of its millisecond %q", s, Floor(Event, at))
		}
	})
}
