package store

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
)

// Endpoint statistics are counted as attempts are recorded (Complete), per
// endpoint and hour, in buckets: one per outcome, and a latency histogram
// of the attempts that got a response. Reading a week of them is a few
// hundred rows whatever the number of attempts.

// Outcome buckets of an attempt.
const (
	BucketSucceeded        = 0 // 2xx
	BucketFailed3xx        = 1 // a redirect (not followed: a failure)
	BucketFailed4xx        = 2
	BucketFailed5xx        = 3 // and any other status that is not 2xx, 3xx or 4xx
	BucketConnectionFailed = 4 // no response: refused, reset, DNS, TLS, blocked address
	BucketTimedOut         = 5 // no response within the timeout
	NumOutcomeBuckets      = 6
)

// Latency buckets are LatencyBucket0 + k: attempts whose duration is at
// most LatencyBound(k) and more than LatencyBound(k-1). Bounds grow by
// 2^(1/4) (19 %) from 100 µs; the last bucket holds everything longer.
const (
	LatencyBucket0     = 100
	NumLatencyBuckets  = 80
	latencyBase        = 100 * time.Microsecond
	latencyStepsPerTwo = 4
)

// LatencyBound is the upper bound of latency bucket k.
func LatencyBound(k int) time.Duration {
	return time.Duration(float64(latencyBase) * math.Exp2(float64(k)/latencyStepsPerTwo))
}

// LatencyBucket is the latency bucket index k (0 … NumLatencyBuckets-1)
// of duration d.
func LatencyBucket(d time.Duration) int {
	if d <= latencyBase {
		return 0
	}
	k := int(math.Ceil(latencyStepsPerTwo * math.Log2(float64(d)/float64(latencyBase))))
	// Floating point may land one off at an exact bound.
	for k > 0 && d <= LatencyBound(k-1) {
		k--
	}
	for k < NumLatencyBuckets-1 && d > LatencyBound(k) {
		k++
	}
	return min(k, NumLatencyBuckets-1)
}

// OutcomeBucket classifies an attempt. Attempts without a response are
// told apart by their error text: the outbound client starts every
// timeout's reason with "timeout".
func OutcomeBucket(a Attempt) int {
	switch c := a.StatusCode; {
	case c == 0 && strings.HasPrefix(a.Error, "timeout"):
		return BucketTimedOut
	case c == 0:
		return BucketConnectionFailed
	case c >= 200 && c < 300:
		return BucketSucceeded
	case c >= 300 && c < 400:
		return BucketFailed3xx
	case c >= 400 && c < 500:
		return BucketFailed4xx
	}
	return BucketFailed5xx
}

// StatsKey names one counter.
type StatsKey struct {
	EndpointID string
	Hour       int64 // Unix hours: StartedAt.Unix() / 3600
	Bucket     int
}

// StatsDelta is what a batch of attempts adds to the counters.
type StatsDelta map[StatsKey]int64

// Add counts attempt a of endpoint endpointID.
func (d StatsDelta) Add(endpointID string, a Attempt) {
	hour := a.StartedAt.Unix() / 3600
	d[StatsKey{endpointID, hour, OutcomeBucket(a)}]++
	if a.StatusCode != 0 {
		d[StatsKey{endpointID, hour, LatencyBucket0 + LatencyBucket(a.Duration)}]++
	}
}

// Sorted returns the keys in one order, so that writers that lock the
// counters lock them in the same order and never wait in a cycle.
func (d StatsDelta) Sorted() []StatsKey {
	keys := make([]StatsKey, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b StatsKey) int {
		return cmp.Or(strings.Compare(a.EndpointID, b.EndpointID), cmp.Compare(a.Hour, b.Hour), cmp.Compare(a.Bucket, b.Bucket))
	})
	return keys
}

// StatsCount is one counter as read back.
type StatsCount struct {
	Hour   time.Time // the start of the hour, UTC
	Bucket int
	N      int64
}

// HourCeil is the first Unix hour that starts at or after t, so that the
// hours starting in [from, to) are HourCeil(from) ≤ h < HourCeil(to).
func HourCeil(t time.Time) int64 {
	h := t.Unix() / 3600
	if t.Unix()%3600 != 0 || t.Nanosecond() != 0 {
		h++
	}
	return h
}
