package ui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// TestHeldShown: a held delivery reads the same on the Event Log, its
// delivery page and its endpoint's health page: held, why, and when it
// goes ("Held: breaker open, next probe in 12 s").
func TestHeldShown(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	ep := store.Endpoint{ID: "ep_1", URL: "https://example.com/h", Enabled: true,
		Health: store.EndpointHealth{FailingSince: now.Add(-time.Minute), Failures: 9, ProbeAt: now.Add(12 * time.Second)}}
	d := store.Shown(store.Delivery{ID: "dlv_1", EndpointID: ep.ID, EventType: "order.created", Status: store.StatusPending,
		NextAttemptAt: now.Add(-30 * time.Second), CreatedAt: now.Add(-time.Minute)}, ep, true, now)
	const want = "Held: breaker open, next probe in 12 s"
	for _, tc := range []struct {
		page string
		data any
	}{
		{"events", logData{Form: form{Values: map[string]string{}, Errors: map[string]string{}}, Statuses: statuses,
			Deliveries: []service.Delivery{d}, URLs: map[string]string{ep.ID: ep.URL}, AllEndpoints: true}},
		{"delivery", deliveryData{Delivery: d, Endpoint: ep}},
		{"health", healthData{Endpoint: ep, Health: endpointHealth(ep), Stats: service.EndpointStats{Window: "24h"}, Window: "24 hours",
			Recover: form{Values: map[string]string{}, Errors: map[string]string{}}, Enable: form{Values: map[string]string{}, Errors: map[string]string{}},
			Held: []service.Delivery{d}}},
	} {
		var b bytes.Buffer
		if err := p.byName[tc.page].ExecuteTemplate(&b, "layout.html", view{Now: now, Data: tc.data}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) {
			t.Errorf("%s page lacks %q", tc.page, want)
		}
		if tc.page != "health" && !strings.Contains(b.String(), "status-held") {
			t.Errorf("%s page does not show the delivery as held", tc.page)
		}
	}
	for h, want := range map[store.Hold]string{
		{Reason: store.HeldBreakerOpen, Until: now.Add(-time.Second)}:            "Held: breaker open, next probe now",
		{Reason: store.HeldBreakerOpen, Until: now.Add(1500 * time.Millisecond)}: "Held: breaker open, next probe in 2 s",
		{Reason: store.HeldBreakerOpen, Until: now.Add(3 * time.Minute)}:         "Held: breaker open, next probe in 3 min",
		{Reason: store.HeldRateLimit}:                                            "Held: rate limit, waiting for a send slot",
		{Reason: store.HeldOrdering, After: "dlv_x"}:                             "Held: ordered, waiting for the delivery before it of its ordering key",
	} {
		if got := heldWhy(now, h); got != want {
			t.Errorf("heldWhy(%+v) = %q, want %q", h, got, want)
		}
	}
}
