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

func FuzzValid(f *testing.F) {
	f.Add("evt_01JD0000000000000000000000")
	f.Add("evt_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if Valid(Event, s) && !strings.HasPrefix(s, "evt_") {
			t.Fatalf("accepted %q", s)
		}
	})
}
