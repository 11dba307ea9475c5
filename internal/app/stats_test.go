package app_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
)

// TestEndpointStats: attempts recorded by real deliveries show up in the
// endpoint's hourly statistics by outcome, with the success rate and
// latency percentiles, for 24 hours or 7 days.
func TestEndpointStats(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Now().Truncate(time.Hour).Add(30 * time.Minute))
	s := start(t, func(c *app.Config) {
		c.Clock = fake
		c.RetrySchedule = []time.Duration{time.Hour}
	})
	recv := newReceiver(t, 503, 200)
	p := s.newProject("stats")
	ep := s.newEndpoint(p, recv.URL())
	dead := s.newEndpoint(p, "http://127.0.0.1:1/nothing-listens")
	path := "/v1/projects/" + p.ID + "/endpoints/"

	first := s.publish(p, "invoice.paid", map[string]any{})
	for _, d := range first.Deliveries {
		s.waitDelivery(p, d.ID, func(d delivery) bool { return d.AttemptCount == 1 })
	}
	fake.Advance(time.Hour) // the retries come due in the next hour
	for _, d := range first.Deliveries {
		s.waitDelivery(p, d.ID, func(d delivery) bool { return d.AttemptCount == 2 })
	}

	type hour struct {
		Hour             time.Time `json:"hour"`
		Attempts         int64     `json:"attempts"`
		Succeeded        int64     `json:"succeeded"`
		Failed5xx        int64     `json:"failed_5xx"`
		ConnectionFailed int64     `json:"connection_failed"`
	}
	var st struct {
		Window      string    `json:"window"`
		From        time.Time `json:"from"`
		To          time.Time `json:"to"`
		Attempts    int64     `json:"attempts"`
		Succeeded   int64     `json:"succeeded"`
		SuccessRate *float64  `json:"success_rate"`
		LatencyMS   *struct {
			P50, P99 float64
		} `json:"latency_ms"`
		Hours []hour `json:"hours"`
	}
	s.must(200, "GET", path+ep+"/stats", p.Key, nil, &st)
	if st.Window != "24h" || len(st.Hours) != 24 || !st.To.Equal(fake.Now().Truncate(time.Hour).Add(time.Hour)) {
		t.Fatalf("window %q with %d hours to %v", st.Window, len(st.Hours), st.To)
	}
	prev, last := st.Hours[22], st.Hours[23]
	if prev.Attempts != 1 || prev.Failed5xx != 1 || last.Attempts != 1 || last.Succeeded != 1 {
		t.Fatalf("the last two hours: %+v, %+v; want a 503 and then a success", prev, last)
	}
	if st.Attempts != 2 || st.Succeeded != 1 || st.SuccessRate == nil || *st.SuccessRate != 0.5 {
		t.Fatalf("totals: %d attempts, %d succeeded, rate %v", st.Attempts, st.Succeeded, st.SuccessRate)
	}
	if st.LatencyMS == nil || st.LatencyMS.P50 <= 0 || st.LatencyMS.P99 < st.LatencyMS.P50 {
		t.Fatalf("latency %+v", st.LatencyMS)
	}

	// The endpoint nobody listens on: no response, so no latency.
	s.must(200, "GET", path+dead+"/stats?window=7d", p.Key, nil, &st)
	if len(st.Hours) != 7*24 || st.Attempts != 2 || st.Hours[len(st.Hours)-1].ConnectionFailed != 1 ||
		st.SuccessRate == nil || *st.SuccessRate != 0 || st.LatencyMS != nil {
		t.Fatalf("dead endpoint over 7d: %d hours, %d attempts, rate %v, latency %v, last hour %+v",
			len(st.Hours), st.Attempts, st.SuccessRate, st.LatencyMS, st.Hours[len(st.Hours)-1])
	}

	s.must(400, "GET", path+ep+"/stats?window=30d", p.Key, nil, nil)
	other := s.newProject("other")
	s.must(404, "GET", "/v1/projects/"+other.ID+"/endpoints/"+ep+"/stats", other.Key, nil, nil)
	s.must(404, "GET", path+"ep_01JD0000000000000000000000/stats", p.Key, nil, nil)
}
