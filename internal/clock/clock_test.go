package clock

import (
	"testing"
	"time"
)

// TestFakeAfter: an After channel of the fake clock fires when the clock
// is moved to or past its time, and not before.
func TestFakeAfter(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f := NewFake(t0)
	if got := <-f.After(0); !got.Equal(t0) {
		t.Errorf("After(0) fired at %v, want %v", got, t0)
	}
	soon, later := f.After(time.Second), f.After(time.Minute)
	if n := f.Waiters(); n != 2 {
		t.Fatalf("Waiters = %d, want 2", n)
	}
	f.Advance(999 * time.Millisecond)
	select {
	case <-soon:
		t.Fatal("fired before its time")
	default:
	}
	f.Advance(time.Millisecond)
	if got := <-soon; !got.Equal(t0.Add(time.Second)) {
		t.Errorf("fired at %v, want %v", got, t0.Add(time.Second))
	}
	f.Set(t0.Add(time.Hour))
	<-later
	if n := f.Waiters(); n != 0 {
		t.Errorf("Waiters = %d after every channel fired, want 0", n)
	}
}
