package health

import (
	"encoding/json"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// Operational event types, published in the endpoint's project.
const (
	EventFailing   = "hookd.endpoint.failing"
	EventDisabled  = "hookd.endpoint.disabled"
	EventRecovered = "hookd.endpoint.recovered"
)

// Events returns the operational event types a health change calls for, in
// the order they happened: failing when the breaker opens, recovered when
// an endpoint whose breaker was open answers again, disabled when the
// endpoint is disabled for failing too long. Each step of the change is
// looked at, so that a recovery and a new failure recorded together both
// count.
func Events(ch store.HealthChange) []Event {
	var out []Event
	b := ch.Before
	steps := ch.Steps
	if len(steps) == 0 {
		steps = []store.Endpoint{ch.After}
	}
	for _, a := range steps {
		if !b.Health.BreakerOpen() && a.Health.BreakerOpen() {
			out = append(out, Event{EventFailing, a})
		}
		if b.Health.BreakerOpen() && a.Health.Healthy() {
			out = append(out, Event{EventRecovered, a})
		}
		if b.Enabled && !a.Enabled {
			out = append(out, Event{EventDisabled, a})
		}
		b = a
	}
	return out
}

// Event is an operational event to publish: its type, and the endpoint it
// is about as it was then.
type Event struct {
	Type  string
	About store.Endpoint
}

// Data is the data of an operational event: the endpoint and its health
// after the change.
type Data struct {
	EndpointID          string     `json:"endpoint_id"`
	URL                 string     `json:"url"`
	Description         string     `json:"description"`
	FailingSince        *time.Time `json:"failing_since"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	NextProbeAt         *time.Time `json:"next_probe_at,omitempty"`
	DisabledReason      string     `json:"disabled_reason,omitempty"`
}

// EventData returns the JSON data of an operational event about e.
func EventData(e store.Endpoint) []byte {
	d := Data{
		EndpointID:          e.ID,
		URL:                 e.URL,
		Description:         e.Description,
		FailingSince:        ptr(e.Health.FailingSince),
		LastSuccessAt:       ptr(e.Health.LastSuccessAt),
		ConsecutiveFailures: e.Health.Failures,
		NextProbeAt:         ptr(e.Health.ProbeAt),
	}
	if !e.Enabled {
		d.DisabledReason = e.DisabledReason
		d.NextProbeAt = nil
	}
	b, _ := json.Marshal(d) // plain fields always marshal
	return b
}

func ptr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
