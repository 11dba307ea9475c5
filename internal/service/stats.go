package service

import (
	"context"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// StatsWindow is a window Stats answers for: the last Hours hours, the
// current hour included.
type StatsWindow struct {
	Name  string // as the window parameter names it
	Hours int
}

// StatsWindows are the windows Stats answers for, shortest first (the
// first is the default).
var StatsWindows = []StatsWindow{{"24h", 24}, {"7d", 7 * 24}}

func statsWindow(name string) (int, bool) {
	for _, w := range StatsWindows {
		if w.Name == name {
			return w.Hours, true
		}
	}
	return 0, false
}

// HourStats is one hour of an endpoint's attempts by outcome.
type HourStats struct {
	Hour             time.Time // the start of the hour, UTC
	Attempts         int64
	Succeeded        int64 // 2xx
	Failed3xx        int64 // redirects are not followed: a failure
	Failed4xx        int64
	Failed5xx        int64 // and other statuses that are not 2xx, 3xx or 4xx
	ConnectionFailed int64 // no response: refused, reset, DNS, TLS, a blocked address
	TimedOut         int64
}

// EndpointStats is an endpoint's health over a window.
type EndpointStats struct {
	EndpointID string
	Window     string    // "24h" or "7d"
	From, To   time.Time // the window's hours start in [From, To)
	Attempts   int64
	Succeeded  int64
	// SuccessRate is Succeeded/Attempts; nil without attempts.
	SuccessRate *float64
	// LatencyP50 and LatencyP99 are percentiles of the attempts that got
	// a response, as the upper bound of the histogram bucket that holds
	// them (at most 19 % above the true value); nil without any.
	LatencyP50, LatencyP99 *time.Duration
	Hours                  []HourStats // every hour of the window, oldest first
}

// Stats answers how endpoint id of project projectID fared over window
// ("24h" when empty, or "7d"): attempts by hour and outcome, success rate
// and latency percentiles.
func (s *Endpoints) Stats(ctx context.Context, projectID, id, window string) (EndpointStats, error) {
	if window == "" {
		window = StatsWindows[0].Name
	}
	hours, ok := statsWindow(window)
	if !ok {
		return EndpointStats{}, Invalid("window", "must be 24h or 7d")
	}
	if !ids.Valid(ids.Endpoint, id) {
		return EndpointStats{}, NotFound("endpoint")
	}
	to := s.c.now().Truncate(time.Hour).Add(time.Hour)
	from := to.Add(-time.Duration(hours) * time.Hour)
	// An endpoint that does not exist (or is another project's) has no
	// counters either; reading it tells the two apart.
	if _, err := s.Get(ctx, projectID, id); err != nil {
		return EndpointStats{}, err
	}
	counts, err := s.c.store.EndpointStats(ctx, projectID, id, from, to)
	if err != nil {
		return EndpointStats{}, translate(err, "endpoint")
	}
	out := EndpointStats{EndpointID: id, Window: window, From: from, To: to, Hours: make([]HourStats, hours)}
	for i := range out.Hours {
		out.Hours[i].Hour = from.Add(time.Duration(i) * time.Hour)
	}
	var latency [store.NumLatencyBuckets]int64
	for _, c := range counts {
		i := int(c.Hour.Sub(from) / time.Hour)
		if i < 0 || i >= hours {
			continue
		}
		h := &out.Hours[i]
		if c.Bucket >= store.LatencyBucket0 {
			if k := c.Bucket - store.LatencyBucket0; k < store.NumLatencyBuckets {
				latency[k] += c.N
			}
			continue
		}
		switch c.Bucket {
		case store.BucketSucceeded:
			h.Succeeded += c.N
		case store.BucketFailed3xx:
			h.Failed3xx += c.N
		case store.BucketFailed4xx:
			h.Failed4xx += c.N
		case store.BucketFailed5xx:
			h.Failed5xx += c.N
		case store.BucketConnectionFailed:
			h.ConnectionFailed += c.N
		case store.BucketTimedOut:
			h.TimedOut += c.N
		default:
			continue
		}
		h.Attempts += c.N
		out.Attempts += c.N
		if c.Bucket == store.BucketSucceeded {
			out.Succeeded += c.N
		}
	}
	if out.Attempts > 0 {
		rate := float64(out.Succeeded) / float64(out.Attempts)
		out.SuccessRate = &rate
	}
	out.LatencyP50, out.LatencyP99 = percentile(latency[:], 0.50), percentile(latency[:], 0.99)
	return out, nil
}

// percentile is the upper bound of the latency bucket that holds the
// p-quantile of the histogram; nil when it is empty.
func percentile(buckets []int64, p float64) *time.Duration {
	var total int64
	for _, n := range buckets {
		total += n
	}
	if total == 0 {
		return nil
	}
	// The smallest value with at least p of the attempts at or below it.
	rank := int64(p * float64(total))
	if float64(rank) < p*float64(total) {
		rank++
	}
	rank = max(rank, 1)
	var seen int64
	for k, n := range buckets {
		seen += n
		if seen >= rank {
			d := store.LatencyBound(k)
			return &d
		}
	}
	d := store.LatencyBound(len(buckets) - 1)
	return &d
}
