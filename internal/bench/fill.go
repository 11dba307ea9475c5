package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	_ "github.com/hookd/hookd/internal/store/drivers" // every driver store.Open knows
)

// openStore opens the bench database directly, to fill it faster than the
// API could (the backlog and log-query scenarios need millions of rows).
func (r *run) openStore(ctx context.Context) (store.Store, error) {
	return store.Open(ctx, r.db)
}

// fillEvents publishes n events of project pid straight into the store, in
// batches, and returns how long that took. The events are dated as if
// published at 10,000 a second, starting an hour ago: ten per millisecond,
// as the API would make them at full speed. (Ids carry their millisecond,
// and SQLite finds an event's deliveries among those of its millisecond;
// a fill that dated every event alike would make each such lookup read
// the whole log.)
func fillEvents(ctx context.Context, s store.Store, pid string, n int, types []string) (time.Duration, error) {
	start := time.Now()
	const batch = 2000
	events := make([]store.Event, 0, batch)
	t0 := time.Now().UTC().Add(-time.Hour)
	for i := 0; i < n; {
		events = events[:0]
		for j := 0; j < batch && i < n; j, i = j+1, i+1 {
			t := t0.Add(time.Duration(i) * 100 * time.Microsecond)
			id := ids.New(ids.Event, t)
			typ := types[i%len(types)]
			events = append(events, store.Event{
				ID: id, ProjectID: pid, Type: typ, CreatedAt: t,
				Body: fmt.Appendf(nil, `{"id":"%s","type":"%s","timestamp":"%s","data":{"i":%d}}`, id, typ, t.Format(time.RFC3339), i),
			})
		}
		if _, err := s.Publish(ctx, events, t0.Add(-24*time.Hour), nil); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// backlog: Backlog pending deliveries are waiting when hookd starts; it
// must drain them at full speed with flat memory.
func (r *run) backlog(ctx context.Context) (Result, error) {
	pid, _, err := r.project(ctx, "backlog", "/backlog")
	if err != nil {
		return Result{}, err
	}
	// Stop hookd while the backlog is written, as after an outage.
	r.stopNodes()
	s, err := r.openStore(ctx)
	if err != nil {
		return Result{}, err
	}
	r.logf("backlog: writing %d pending deliveries", r.opt.Backlog)
	fillTime, err := fillEvents(ctx, s, pid, r.opt.Backlog, []string{"bench.event"})
	s.Close()
	if err != nil {
		return Result{}, err
	}
	r.logf("backlog: written in %v; starting hookd", fillTime.Round(time.Millisecond))
	start := time.Now()
	if err := r.ensureNodes(ctx); err != nil {
		return Result{}, err
	}
	// Sample RSS while it drains: flat memory means no per-pending-row
	// state in the process.
	var samples []int64
	want := int64(r.opt.Backlog)
	deadline := time.Now().Add(30 * time.Minute)
	var half time.Time
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for r.recv.got.Load() < want {
		if time.Now().After(deadline) {
			return Result{}, fmt.Errorf("backlog: only %d of %d drained", r.recv.got.Load(), want)
		}
		if half.IsZero() && r.recv.got.Load() >= want/2 {
			half = time.Now()
		}
		now, _ := r.peakRSS()
		samples = append(samples, now)
		<-tick.C
	}
	el := time.Since(start)
	_, peak := r.peakRSS()
	slices.Sort(samples)
	res := Result{
		Scenario: fmt.Sprintf("backlog (%d pending)", r.opt.Backlog), Events: r.opt.Backlog, Deliveries: r.recv.got.Load(),
		Seconds: el.Seconds(), PerSecond: float64(want) / el.Seconds(), Baseline: r.baseline,
		PeakRSSMiB: float64(peak) / (1 << 20),
		Duplicates: r.recv.duplicates(), BadSigs: r.recv.bad.Load(),
		Extra: map[string]float64{
			"fill_seconds":        fillTime.Seconds(),
			"rss_median_mib":      float64(samples[len(samples)/2]) / (1 << 20),
			"rss_max_sampled_mib": float64(samples[len(samples)-1]) / (1 << 20),
			"first_half_seconds":  half.Sub(start).Seconds(),
		},
		Note: "drain time includes hookd's start; per second is drained deliveries",
	}
	res.Ratio = res.PerSecond / r.baseline
	return res, nil
}

// logquery: LogAttempts attempts stored (10 per delivery over 10 endpoints
// and 5 event types, a tenth failed), then the event-log queries support
// staff make, through the API, each timed over repetitions.
func (r *run) logquery(ctx context.Context) (Result, error) {
	paths := make([]string, 10)
	for i := range paths {
		paths[i] = fmt.Sprintf("/log/%d", i)
	}
	// hookd is stopped while the log is written, and every delivery is
	// finished by then, so nothing is sent when it starts again.
	pid, eps, err := r.project(ctx, "logquery", paths...)
	if err != nil {
		return Result{}, err
	}
	r.stopNodes()
	s, err := r.openStore(ctx)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()
	const perDelivery = 10
	deliveries := r.opt.LogAttempts / perDelivery
	events := max(deliveries/len(eps), 1)
	types := []string{"invoice.paid", "invoice.created", "customer.created", "customer.deleted", "tester.applied"}
	r.logf("logquery: writing %d events → %d deliveries → %d attempts", events, events*len(eps), events*len(eps)*perDelivery)
	fillStart := time.Now()
	if _, err := fillEvents(ctx, s, pid, events, types); err != nil {
		return Result{}, err
	}
	// Claim everything and record ten attempts per delivery.
	now := time.Now().UTC()
	for done := 0; ; {
		claimed, err := s.Claim(ctx, store.ClaimParams{Now: now.Add(time.Hour), Limit: 1000, Lease: time.Hour, Owner: "bench"})
		if err != nil {
			return Result{}, err
		}
		if len(claimed) == 0 {
			break
		}
		// Every delivery is claimed once and finished by its last
		// outcome; claiming more than there are means it was not.
		if done += len(claimed); done > events*len(eps) {
			return Result{}, fmt.Errorf("logquery: deliveries claimed again after their final outcome")
		}
		outs := make([]store.Outcome, 0, len(claimed)*perDelivery)
		for i, c := range claimed {
			// A tenth fail, spread over the endpoints (deliveries of one
			// event are claimed next to each other, so i%10 alone would
			// put every failure on the same endpoint).
			failed := (i+i/len(eps))%10 == 0
			for a := 1; a <= perDelivery; a++ {
				// Only the last outcome carries the lease token: the
				// earlier ones are recorded as attempts without
				// touching the delivery, which ends in its final state.
				token := "bench-history"
				if a == perDelivery {
					token = c.Delivery.LeaseToken
				}
				d := c.Delivery
				d.LeaseToken = token
				// Attempts spread over the last 7 days and over 0.1-200 ms,
				// so the endpoint statistics read every hour of a week
				// and a full latency histogram.
				n := (done-len(claimed)+i)*perDelivery + a
				at := store.Attempt{Number: a, StartedAt: now.Add(-time.Duration(n%(7*24)) * time.Hour),
					Duration:   time.Duration(1+(n*37)%2000) * 100 * time.Microsecond,
					StatusCode: 500, Error: "endpoint answered HTTP 500", ResponseBody: "internal error"}
				o := store.RetryAt(d, at, now.Add(time.Hour), now)
				if a == perDelivery {
					if failed {
						o = store.Failed(d, at, now)
					} else {
						at.StatusCode, at.Error, at.ResponseBody = 200, "", "ok"
						o = store.Succeeded(d, at, now)
					}
				}
				outs = append(outs, o)
			}
		}
		if _, err := s.Complete(ctx, outs); err != nil {
			return Result{}, err
		}
	}
	fill := time.Since(fillStart)
	r.logf("logquery: filled in %v; starting hookd", fill.Round(time.Second))
	if err := r.ensureNodes(ctx); err != nil {
		return Result{}, err
	}
	base := r.base(0) + "/v1/projects/" + pid + "/deliveries"
	var firstPage struct {
		Items []struct {
			ID      string
			EventID string `json:"event_id"`
		}
		NextCursor string `json:"next_cursor"`
	}
	if _, err := r.api.do("GET", base+"?limit=50", nil, &firstPage); err != nil {
		return Result{}, err
	}
	deep, event := "", ""
	if len(firstPage.Items) > 0 {
		deep = firstPage.Items[len(firstPage.Items)-1].ID
		event = firstPage.Items[len(firstPage.Items)-1].EventID
	}
	// An endpoint added after the log was written has no deliveries: a
	// filter on it must find nothing fast, not walk the project's log.
	var empty struct{ ID string }
	if err := r.api.post(r.base(0)+"/v1/projects/"+pid+"/endpoints", map[string]any{"url": r.recv.URL("/log/empty")}, &empty); err != nil {
		return Result{}, err
	}
	queries := map[string]string{
		"page_newest":             "?limit=50",
		"filter_status_failed":    "?status=failed&limit=50",
		"filter_endpoint":         "?endpoint_id=" + eps[3] + "&limit=50",
		"filter_event_type":       "?event_type=customer.deleted&limit=50",
		"filter_endpoint_status":  "?endpoint_id=" + eps[7] + "&status=failed&limit=50",
		"empty_endpoint_status":   "?endpoint_id=" + empty.ID + "&status=failed&limit=50",
		"empty_endpoint":          "?endpoint_id=" + empty.ID + "&limit=50",
		"empty_status_retrying":   "?status=retrying&limit=50",
		"filter_since_last_hour":  "?since=" + url.QueryEscape(now.Add(-2*time.Hour).Format(time.RFC3339)) + "&status=failed&limit=50",
		"next_page_cursor":        "?status=failed&limit=50&cursor=" + deep,
		"filter_event":            "?event_id=" + event + "&limit=50",
		"filter_event_failed":     "?event_id=" + event + "&status=failed&limit=50",
		"one_delivery_with_10_at": "",
		// Not the event log: an endpoint's health over a day and a week,
		// from the counters Complete kept while the log was written.
		"endpoint_stats_24h": "",
		"endpoint_stats_7d":  "",
	}
	extra := map[string]float64{"fill_seconds": fill.Seconds(), "attempts_stored": float64(events * len(eps) * perDelivery)}
	var worst, worstUI float64
	for name, q := range queries {
		u := base + q
		switch name {
		case "one_delivery_with_10_at":
			u = base + "/" + deep
		case "endpoint_stats_24h", "endpoint_stats_7d":
			u = r.base(0) + "/v1/projects/" + pid + "/endpoints/" + eps[3] + "/stats?window=" + strings.TrimPrefix(name, "endpoint_stats_")
		}
		ms, err := medianOf21(func() error {
			_, err := r.api.do("GET", u, nil, nil)
			return err
		})
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", name, err)
		}
		extra[name+"_median_ms"] = ms
		worst = max(worst, ms)
	}

	// The same questions asked in the web UI, signed in with the
	// project's key: each page is rendered whole (the Event Log also
	// lists the project's endpoints for its filter).
	web, err := uiSession(r.base(0), r.api.key)
	if err != nil {
		return Result{}, err
	}
	ui := r.base(0) + "/ui/projects/" + pid
	since := url.QueryEscape(now.Add(-2 * time.Hour).Format("2006-01-02T15:04"))
	pages := map[string]string{
		"ui_webhooks":                  "/webhooks",
		"ui_log_newest":                "/events",
		"ui_log_status_failed":         "/events?status=failed",
		"ui_log_endpoint":              "/events?endpoint_id=" + eps[3],
		"ui_log_event_type":            "/events?event_type=customer.deleted",
		"ui_log_endpoint_status":       "/events?endpoint_id=" + eps[7] + "&status=failed",
		"ui_log_since_status":          "/events?since=" + since + "&status=failed",
		"ui_log_next_page_cursor":      "/events?status=failed&cursor=" + deep,
		"ui_log_empty_endpoint_status": "/events?endpoint_id=" + empty.ID + "&status=failed",
		"ui_delivery_with_10_at":       "/deliveries/" + deep,
		// An endpoint's health: its statistics drawn as a chart.
		"ui_endpoint_health_24h": "/webhooks/" + eps[3],
		"ui_endpoint_health_7d":  "/webhooks/" + eps[3] + "?window=7d",
	}
	// Search goes straight to what it found (303, measured without
	// following it); the bulk-resend preview counts what the filters
	// match, up to 10,001.
	searches := map[string]string{
		"ui_search_delivery_id":  deep,
		"ui_search_event_id":     event,
		"ui_search_endpoint_url": r.recv.URL(paths[3]),
		"ui_search_no_match":     "order-that-was-never-published",
	}
	for name, q := range searches {
		want := http.StatusSeeOther
		if name == "ui_search_no_match" {
			want = http.StatusNotFound
		}
		ms, err := medianOf21(func() error {
			_, err := uiFetch(web, ui+"/events?q="+url.QueryEscape(q), want)
			return err
		})
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", name, err)
		}
		extra[name+"_median_ms"] = ms
		worstUI = max(worstUI, ms)
	}
	pages["ui_bulk_preview_endpoint_failed"] = "/events/resend?status=failed&endpoint_id=" + eps[7]
	pages["ui_bulk_preview_failed"] = "/events/resend?status=failed"
	pages["ui_bulk_preview_event_type"] = "/events/resend?status=failed&event_type=customer.*"
	for name, body := range map[string]map[string]any{
		"bulk_dry_run_endpoint_failed": {"status": "failed", "endpoint_id": eps[7], "dry_run": true},
		"bulk_dry_run_failed":          {"status": "failed", "dry_run": true},
	} {
		ms, err := medianOf21(func() error {
			return r.api.post(r.base(0)+"/v1/projects/"+pid+"/deliveries/retry", body, nil)
		})
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", name, err)
		}
		extra[name+"_median_ms"] = ms
		worst = max(worst, ms)
	}
	for name, path := range pages {
		ms, err := medianOf21(func() error {
			_, err := uiGet(web, ui+path)
			return err
		})
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", name, err)
		}
		extra[name+"_median_ms"] = ms
		worstUI = max(worstUI, ms)
	}
	return Result{
		Scenario: fmt.Sprintf("event log at %d attempts", events*len(eps)*perDelivery), Events: events,
		Deliveries: int64(events * len(eps)), Extra: extra,
		Note: fmt.Sprintf("median of 21 calls per query (HTTP round trip included); slowest median %.2f ms through the API, %.2f ms for a web UI page", worst, worstUI),
	}, nil
}
