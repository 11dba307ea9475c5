package delivery

import (
	"slices"
	"testing"
	"time"
)

// TestGoneMarkLifecycle: what a 410 makes a node do with the endpoint's
// deliveries, step by step (see goneMark). Held back until the disabling
// is recorded; then only deliveries claimed before that ask the database,
// and the database's "enabled" ends the mark; a mark whose outcome is
// dropped, or that nothing ends, goes after a lease.
func TestGoneMarkLifecycle(t *testing.T) {
	const lease = time.Minute
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s := newSlots(4, 2, lease)
	budget := func() *directBudget { return &directBudget{toRun: map[string]int{}, toQueue: map[string]int{}} }
	claimedBefore := t0.Add(-time.Second)

	if got := s.goneCheck("ep", claimedBefore, t0); got != goneSend {
		t.Fatalf("no 410: %d, want send", got)
	}
	s.markGone("ep", t0)
	if got := s.goneCheck("ep", claimedBefore, t0.Add(time.Second)); got != goneHold {
		t.Errorf("410 not recorded: %d, want hold", got)
	}
	if got := s.goneCheck("other", claimedBefore, t0.Add(time.Second)); got != goneSend {
		t.Errorf("another endpoint: %d, want send", got)
	}
	if got := s.goneHeld(t0.Add(time.Second)); !slices.Equal(got, []string{"ep"}) {
		t.Errorf("claims skip %v, want [ep]", got)
	}
	if s.admit("ep", t0.Add(time.Second), budget()) {
		t.Error("Direct admitted the endpoint whose 410 is not recorded")
	}

	recorded := t0.Add(2 * time.Second)
	s.goneRecorded("ep", t0, recorded, true)
	if got := s.goneHeld(recorded); len(got) != 0 {
		t.Errorf("claims skip %v once recorded, want none", got)
	}
	if !s.admit("ep", recorded, budget()) {
		t.Error("Direct refused the endpoint once its disabling was recorded (the store decides)")
	}
	if got := s.goneCheck("ep", recorded, recorded); got != goneAsk {
		t.Errorf("claimed as the disabling was recorded: %d, want ask", got)
	}
	if got := s.goneCheck("ep", recorded.Add(time.Millisecond), recorded.Add(time.Second)); got != goneSend {
		t.Errorf("claimed after the disabling was recorded: %d, want send", got)
	}
	// The database says enabled (an enable since): the mark goes.
	s.clearGone("ep")
	if got := s.goneCheck("ep", claimedBefore, recorded.Add(time.Second)); got != goneSend {
		t.Errorf("after the database said enabled: %d, want send", got)
	}

	// Recorded, and nothing ends it: it goes a lease after the record.
	s.markGone("ep", t0)
	s.goneRecorded("ep", t0, recorded, true)
	if got := s.goneCheck("ep", claimedBefore, recorded.Add(lease)); got != goneAsk {
		t.Errorf("a lease after the record: %d, want ask", got)
	}
	if got := s.goneCheck("ep", claimedBefore, recorded.Add(lease+time.Millisecond)); got != goneSend {
		t.Errorf("past a lease after the record: %d, want send", got)
	}

	// Dropped: the mark goes at once.
	s.markGone("ep", t0)
	s.goneRecorded("ep", t0, recorded, false)
	if got := s.goneCheck("ep", claimedBefore, recorded); got != goneSend {
		t.Errorf("disabling dropped: %d, want send", got)
	}

	// Never recorded nor dropped: held back for a lease at most.
	s.markGone("ep", t0)
	if got := s.goneHeld(t0.Add(lease + time.Millisecond)); len(got) != 0 {
		t.Errorf("claims skip %v a lease after an unrecorded 410, want none", got)
	}
	if got := s.goneCheck("ep", claimedBefore, t0.Add(lease+time.Millisecond)); got != goneSend {
		t.Errorf("a lease after an unrecorded 410: %d, want send", got)
	}

	// A second 410 while the first is not recorded keeps the first; the
	// record of either ends the hold.
	s.markGone("ep", t0)
	s.markGone("ep", t0.Add(time.Second))
	s.goneRecorded("ep", t0.Add(time.Second), recorded, true)
	if got := s.goneCheck("ep", recorded.Add(time.Millisecond), recorded.Add(time.Second)); got != goneSend {
		t.Errorf("after the second 410's record: %d, want send", got)
	}
	// A 410 after the record (enabled again, and gone again) holds anew.
	s.markGone("ep", recorded.Add(time.Minute))
	if got := s.goneCheck("ep", recorded.Add(time.Minute), recorded.Add(time.Minute)); got != goneHold {
		t.Errorf("a new 410 after the record: %d, want hold", got)
	}
}
