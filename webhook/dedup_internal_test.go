package webhook

import (
	"context"
	"testing"
	"time"
)

func TestMemoryDeduplicatorTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	d := NewMemoryDeduplicator(10, time.Hour)
	d.now = func() time.Time { return now }
	d.Claim(ctx, "a")
	d.Complete(ctx, "a")
	now = now.Add(59 * time.Minute)
	if r, _ := d.Claim(ctx, "a"); r != Duplicate {
		t.Errorf("within ttl: %v, want Duplicate", r)
	}
	now = now.Add(time.Minute)
	if r, _ := d.Claim(ctx, "a"); r != Claimed {
		t.Errorf("after ttl: %v, want Claimed", r)
	}
	if n := d.Len(); n != 1 {
		t.Errorf("Len = %d, want 1 (the new claim)", n)
	}
	// Ids in progress do not expire: their handler is still running.
	now = now.Add(24 * time.Hour)
	if r, _ := d.Claim(ctx, "a"); r != InProgress {
		t.Errorf("in progress a day later: %v, want InProgress", r)
	}
}
