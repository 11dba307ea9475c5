package store

import (
	"testing"
	"time"
)

func TestLatencyBuckets(t *testing.T) {
	for k := 1; k < NumLatencyBuckets; k++ {
		if LatencyBound(k) <= LatencyBound(k-1) {
			t.Fatalf("bound %d (%v) not above bound %d (%v)", k, LatencyBound(k), k-1, LatencyBound(k-1))
		}
	}
	for _, d := range []time.Duration{0, 1, latencyBase, latencyBase + 1, time.Millisecond, 150 * time.Millisecond,
		LatencyBound(10), LatencyBound(10) + 1, 15 * time.Second, time.Hour} {
		k := LatencyBucket(d)
		if d > LatencyBound(k) && k != NumLatencyBuckets-1 {
			t.Errorf("%v in bucket %d whose bound is %v", d, k, LatencyBound(k))
		}
		if k > 0 && d <= LatencyBound(k-1) {
			t.Errorf("%v in bucket %d, but bucket %d (bound %v) holds it", d, k, k-1, LatencyBound(k-1))
		}
	}
	if LatencyBucket(time.Hour) != NumLatencyBuckets-1 {
		t.Errorf("an hour is not in the last bucket")
	}
}

func TestOutcomeBucket(t *testing.T) {
	for _, tc := range []struct {
		a    Attempt
		want int
	}{
		{Attempt{StatusCode: 204}, BucketSucceeded},
		{Attempt{StatusCode: 302}, BucketFailed3xx},
		{Attempt{StatusCode: 410}, BucketFailed4xx},
		{Attempt{StatusCode: 503}, BucketFailed5xx},
		{Attempt{StatusCode: 199}, BucketFailed5xx},
		{Attempt{Error: "timeout after 15s waiting for response headers"}, BucketTimedOut},
		{Attempt{Error: "connection refused: dial tcp 127.0.0.1:1"}, BucketConnectionFailed},
		{Attempt{Error: "tls: certificate signed by unknown authority"}, BucketConnectionFailed},
	} {
		if got := OutcomeBucket(tc.a); got != tc.want {
			t.Errorf("OutcomeBucket(%d, %q) = %d, want %d", tc.a.StatusCode, tc.a.Error, got, tc.want)
		}
	}
}

func TestHourCeil(t *testing.T) {
	on := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if got, want := HourCeil(on), on.Unix()/3600; got != want {
		t.Errorf("HourCeil(12:00) = %d, want %d", got, want)
	}
	for _, d := range []time.Duration{time.Nanosecond, time.Second, 59 * time.Minute} {
		if got, want := HourCeil(on.Add(d)), on.Unix()/3600+1; got != want {
			t.Errorf("HourCeil(12:00 + %v) = %d, want %d", d, got, want)
		}
	}
}
