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
	}
	r.MustRegister(m.batch, m.duration, m.failed, m.splits)
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
