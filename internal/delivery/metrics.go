package delivery

import (
	"strconv"
	"sync/atomic"

	"github.com/hookd/hookd/internal/outbound"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus metrics. A nil *Metrics records
// nothing, so tests need not register any.
type Metrics struct {
	attempts    *prometheus.CounterVec
	duration    prometheus.Histogram
	claimErrors prometheus.Counter
	taken       *prometheus.CounterVec
	// inflight answers hookd_oldest_inflight_seconds: the engine's
	// oldestInflight, once New has made it.
	inflight atomic.Pointer[func(stage string) float64]
	counts   atomic.Pointer[func(stage string) int]
	claims   prometheus.Counter
}

// Stages of a delivery in flight, the stage label of
// hookd_oldest_inflight_seconds.
var inflightStages = []string{"queued", "paced", "sending", "recording"}

// NewMetrics registers the engine's metrics with r.
func NewMetrics(r prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_delivery_attempts_total",
			Help: "Delivery attempts by resulting delivery status and HTTP status class.",
		}, []string{"status", "code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookd_delivery_attempt_duration_seconds",
			Help:    "Time from sending a webhook to its response (or failure).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		claimErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_delivery_claim_errors_total",
			Help: "Failed attempts to claim due deliveries from the database.",
		}),
	}
	m.taken = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookd_deliveries_taken_total",
		Help: "Deliveries this node took to send, by how: claimed by the publish that created them, or by a claim of due work (retries, backlog, expired leases).",
	}, []string{"via"})
	m.claims = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hookd_delivery_claims_total",
		Help: "Claims of due deliveries this node's dispatcher made (each a write transaction), whatever they found.",
	})
	r.MustRegister(m.attempts, m.duration, m.claimErrors, m.taken, m.claims)
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hookd_health_watch_backlog",
		Help: "Endpoint health observations and operational events this node has yet to write or publish.",
	}, func() float64 {
		if f := m.counts.Load(); f != nil {
			return float64((*f)("health"))
		}
		return 0
	}))
	for _, stage := range inflightStages {
		r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "hookd_oldest_inflight_seconds",
			Help:        "Age (since this node claimed it) of the oldest delivery in each stage on this node: queued for a worker, paced (waiting for an endpoint limit's slot), sending, recording (its outcome waiting to be written); 0 when none is.",
			ConstLabels: prometheus.Labels{"stage": stage},
		}, func() float64 {
			if f := m.inflight.Load(); f != nil {
				return (*f)(stage)
			}
			return 0
		}))
		r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "hookd_inflight_deliveries",
			Help:        "Deliveries this node has claimed and not yet recorded, by stage (as hookd_oldest_inflight_seconds).",
			ConstLabels: prometheus.Labels{"stage": stage},
		}, func() float64 {
			if f := m.counts.Load(); f != nil {
				return float64((*f)(stage))
			}
			return 0
		}))
	}
	return m
}

// watchInflight makes oldest answer hookd_oldest_inflight_seconds and
// count hookd_inflight_deliveries and hookd_health_watch_backlog.
func (m *Metrics) watchInflight(oldest func(stage string) float64, count func(stage string) int) {
	if m != nil {
		m.inflight.Store(&oldest)
		m.counts.Store(&count)
	}
}

func (m *Metrics) claimed() {
	if m != nil {
		m.claims.Inc()
	}
}

func (m *Metrics) attempt(status string, r outbound.Result) {
	if m == nil {
		return
	}
	code := "none"
	if r.StatusCode > 0 {
		code = strconv.Itoa(r.StatusCode/100) + "xx"
	}
	m.attempts.WithLabelValues(status, code).Inc()
	m.duration.Observe(r.Duration.Seconds())
}

func (m *Metrics) claimError() {
	if m == nil {
		return
	}
	m.claimErrors.Inc()
}

// took counts n deliveries taken via "publish" or "claim".
func (m *Metrics) took(via string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.taken.WithLabelValues(via).Add(float64(n))
}
