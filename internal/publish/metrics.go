package publish

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Batcher's Prometheus metrics. A nil *Metrics records
// nothing, so tests need not register any.
//
// Group commit is what makes accepting events cheap, and how well it works
// depends on load: the events per commit say how much each durable commit
// is shared, and the commit time is what every publisher of the batch
// waits for before its 202.
type Metrics struct {
	batch    prometheus.Histogram
	duration prometheus.Histogram
	failed   prometheus.Counter
	splits   prometheus.Counter
	timeouts *prometheus.CounterVec
}

// NewMetrics registers the Batcher's metrics with r.
func NewMetrics(r prometheus.Registerer) *Metrics {
	m := &Metrics{
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookd_publish_batch_events",
			Help:    "Events per group commit (one database transaction, one fsync on SQLite).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 500},
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookd_publish_commit_seconds",
			Help:    "Time from starting a group commit until it is durable (or failed).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_publish_commit_errors_total",
			Help: "Group commits that failed (a batch refused for one member's data is then split and committed in parts).",
		}),
		splits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_publish_batch_splits_total",
			Help: "Refused group commits split in halves, so that only the publish at fault fails.",
		}),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_publish_timeouts_total",
			Help: "Publishes answered 503 because their commit did not finish within the publish timeout (a stalled disk or database): " +
				`stored="no" when no commit had taken the event, "unknown" when the commit that took it was still running.`,
		}, []string{"stored"}),
	}
	// Both series exist from the start, so that a rate() over them is 0
	// rather than absent until the first stall.
	m.timeouts.WithLabelValues("no")
	m.timeouts.WithLabelValues("unknown")
	r.MustRegister(m.batch, m.duration, m.failed, m.splits, m.timeouts)
	return m
}

func (m *Metrics) committed(events int, took time.Duration, err error) {
	if m == nil {
		return
	}
	m.batch.Observe(float64(events))
	m.duration.Observe(took.Seconds())
	if err != nil {
		m.failed.Inc()
	}
}

func (m *Metrics) split() {
	if m != nil {
		m.splits.Inc()
	}
}

// timedOut counts a publish answered for the timeout; taken: a commit had
// taken its event, which may still be stored.
func (m *Metrics) timedOut(taken bool) {
	if m == nil {
		return
	}
	stored := "no"
	if taken {
		stored = "unknown"
	}
	m.timeouts.WithLabelValues(stored).Inc()
}
