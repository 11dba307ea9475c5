package maintenance

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the Runner's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	leader  prometheus.Gauge
	deleted prometheus.Counter
	errors  prometheus.Counter
}

// NewMetrics registers the Runner's metrics with r.
func NewMetrics(r prometheus.Registerer) *Metrics {
	m := &Metrics{
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hookd_maintenance_leader",
			Help: "1 while this node leads cluster maintenance (as of its last round), else 0.",
		}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_retention_deleted_events_total",
			Help: "Events removed by retention on this node, with their deliveries and attempts.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_maintenance_errors_total",
			Help: "Maintenance rounds that failed (leadership check or retention).",
		}),
	}
	r.MustRegister(m.leader, m.deleted, m.errors)
	return m
}

func (m *Metrics) round(leading bool, deleted int, err error) {
	if m == nil {
		return
	}
	if leading {
		m.leader.Set(1)
	} else {
		m.leader.Set(0)
	}
	m.deleted.Add(float64(deleted))
	if err != nil {
		m.errors.Inc()
	}
}
