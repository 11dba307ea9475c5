package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/service"
)

type endpointJSON struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Description    string    `json:"description"`
	EventTypes     []string  `json:"event_types"`
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabled_reason"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// Limits: 0 is none.
	RateLimitPerSecond int `json:"rate_limit_per_second"`
	MaxConcurrency     int `json:"max_concurrency"`
	// Ordered: the events of one ordering key are delivered one after
	// another.
	Ordered bool `json:"ordered"`
	// Health: null times are never (or not failing).
	FailingSince        *time.Time `json:"failing_since"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	// Breaker is "closed", or "open" while deliveries are held back and
	// one probe is sent at NextProbeAt.
	Breaker     string     `json:"breaker"`
	NextProbeAt *time.Time `json:"next_probe_at"`
}

func renderEndpoint(e service.Endpoint) endpointJSON {
	types := e.EventTypes
	if types == nil {
		types = []string{}
	}
	breaker := "closed"
	if e.Health.BreakerOpen() {
		breaker = "open"
	}
	return endpointJSON{
		ID:             e.ID,
		URL:            e.URL,
		Description:    e.Description,
		EventTypes:     types,
		Enabled:        e.Enabled,
		DisabledReason: e.DisabledReason,
		CreatedAt:      e.CreatedAt.UTC(),
		UpdatedAt:      e.UpdatedAt.UTC(),

		RateLimitPerSecond:  e.RateLimitPerSecond,
		MaxConcurrency:      e.MaxConcurrency,
		Ordered:             e.Ordered,
		FailingSince:        optionalTime(e.Health.FailingSince),
		LastSuccessAt:       optionalTime(e.Health.LastSuccessAt),
		ConsecutiveFailures: e.Health.Failures,
		Breaker:             breaker,
		NextProbeAt:         optionalTime(e.Health.ProbeAt),
	}
}

type createEndpointRequest struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
	Enabled     *bool    `json:"enabled"`

	RateLimitPerSecond int  `json:"rate_limit_per_second"`
	MaxConcurrency     int  `json:"max_concurrency"`
	Ordered            bool `json:"ordered"`
}

func (s *server) createEndpoint(w http.ResponseWriter, r *http.Request, c call) error {
	var in createEndpointRequest
	if err := decodeBody(w, r, s.maxBody, bodyRequired, &in); err != nil {
		return err
	}
	e, err := s.svc.Endpoints.Create(r.Context(), c.projectID, service.CreateEndpoint{
		URL:         in.URL,
		Description: in.Description,
		EventTypes:  in.EventTypes,
		Disabled:    in.Enabled != nil && !*in.Enabled,

		RateLimitPerSecond: in.RateLimitPerSecond,
		MaxConcurrency:     in.MaxConcurrency,
		Ordered:            in.Ordered,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, renderEndpoint(e))
	return nil
}

func (s *server) listEndpoints(w http.ResponseWriter, r *http.Request, c call) error {
	l, err := s.svc.Endpoints.List(r.Context(), c.projectID, pageQuery(r.URL.Query()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderList(l, renderEndpoint))
	return nil
}

func (s *server) getEndpoint(w http.ResponseWriter, r *http.Request, c call) error {
	e, err := s.svc.Endpoints.Get(r.Context(), c.projectID, r.PathValue("eid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderEndpoint(e))
	return nil
}

// patchEndpointRequest: absent (or null) fields stay as they are.
type patchEndpointRequest struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	EventTypes  *[]string `json:"event_types"`
	Enabled     *bool     `json:"enabled"`
	// Limits: 0 removes one.
	RateLimitPerSecond *int  `json:"rate_limit_per_second"`
	MaxConcurrency     *int  `json:"max_concurrency"`
	Ordered            *bool `json:"ordered"`
	// RecoverSince, with the endpoint enabled, resends what failed or was
	// cancelled since then (as POST …/recover).
	RecoverSince *time.Time `json:"recover_since"`
}

func (s *server) patchEndpoint(w http.ResponseWriter, r *http.Request, c call) error {
	var in patchEndpointRequest
	if err := decodeBody(w, r, s.maxBody, bodyRequired, &in); err != nil {
		return err
	}
	up := service.UpdateEndpoint{URL: in.URL, Description: in.Description, EventTypes: in.EventTypes, Enabled: in.Enabled,
		RateLimitPerSecond: in.RateLimitPerSecond, MaxConcurrency: in.MaxConcurrency, Ordered: in.Ordered}
	if in.RecoverSince == nil {
		e, err := s.svc.Endpoints.Update(r.Context(), c.projectID, r.PathValue("eid"), up)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, renderEndpoint(e))
		return nil
	}
	e, rec, err := s.svc.Endpoints.UpdateAndRecover(r.Context(), c.projectID, r.PathValue("eid"), up, *in.RecoverSince)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		endpointJSON
		recoverResponse
	}{renderEndpoint(e), renderRecovered(rec)})
	return nil
}

type recoverRequest struct {
	Since time.Time `json:"since"`
}

// recoverResponse says what a recovery did: recovered = resent +
// replayed; held is what the endpoint's open breaker still holds (as of
// the answer) and held_until its next probe (null when closed).
type recoverResponse struct {
	Recovered int        `json:"recovered"`
	Resent    int        `json:"resent"`
	Replayed  int        `json:"replayed"`
	Held      int        `json:"held"`
	HeldUntil *time.Time `json:"held_until"`
}

func renderRecovered(r service.Recovered) recoverResponse {
	out := recoverResponse{Recovered: r.Total(), Resent: r.Resent, Replayed: r.Replayed, Held: r.Held}
	if !r.HeldUntil.IsZero() {
		t := r.HeldUntil.UTC()
		out.HeldUntil = &t
	}
	return out
}

func (s *server) recoverEndpoint(w http.ResponseWriter, r *http.Request, c call) error {
	var in recoverRequest
	if err := decodeBody(w, r, s.maxBody, bodyRequired, &in); err != nil {
		return err
	}
	rec, err := s.svc.Endpoints.Recover(r.Context(), c.projectID, r.PathValue("eid"), in.Since)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderRecovered(rec))
	return nil
}

func (s *server) deleteEndpoint(w http.ResponseWriter, r *http.Request, c call) error {
	if err := s.svc.Endpoints.Delete(r.Context(), c.projectID, r.PathValue("eid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type testRequest struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// TestResult is what the test button shows.
type TestResult struct {
	StatusCode   int    `json:"status_code"` // 0: no response
	DurationMS   int64  `json:"duration_ms"`
	Error        string `json:"error"`
	ResponseBody string `json:"response_body"` // truncated
}

func (s *server) testEndpoint(w http.ResponseWriter, r *http.Request, c call) error {
	var in testRequest
	if err := decodeBody(w, r, s.maxBody, bodyOptional, &in); err != nil {
		return err
	}
	res, err := s.svc.Endpoints.Test(r.Context(), c.projectID, r.PathValue("eid"), service.TestSend(in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TestResult{
		StatusCode:   res.StatusCode,
		DurationMS:   res.Duration.Milliseconds(),
		Error:        res.Error,
		ResponseBody: res.ResponseBody,
	})
	return nil
}

type hourStatsJSON struct {
	Hour             time.Time `json:"hour"`
	Attempts         int64     `json:"attempts"`
	Succeeded        int64     `json:"succeeded"`
	Failed3xx        int64     `json:"failed_3xx"`
	Failed4xx        int64     `json:"failed_4xx"`
	Failed5xx        int64     `json:"failed_5xx"`
	ConnectionFailed int64     `json:"connection_failed"`
	TimedOut         int64     `json:"timed_out"`
}

type latencyJSON struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

type endpointStatsJSON struct {
	EndpointID  string          `json:"endpoint_id"`
	Window      string          `json:"window"`
	From        time.Time       `json:"from"`
	To          time.Time       `json:"to"`
	Attempts    int64           `json:"attempts"`
	Succeeded   int64           `json:"succeeded"`
	SuccessRate *float64        `json:"success_rate"`
	LatencyMS   *latencyJSON    `json:"latency_ms"`
	Hours       []hourStatsJSON `json:"hours"`
}

func (s *server) endpointStats(w http.ResponseWriter, r *http.Request, c call) error {
	st, err := s.svc.Endpoints.Stats(r.Context(), c.projectID, r.PathValue("eid"), r.URL.Query().Get("window"))
	if err != nil {
		return err
	}
	out := endpointStatsJSON{
		EndpointID: st.EndpointID, Window: st.Window, From: st.From, To: st.To,
		Attempts: st.Attempts, Succeeded: st.Succeeded, SuccessRate: st.SuccessRate,
		Hours: make([]hourStatsJSON, len(st.Hours)),
	}
	if st.LatencyP50 != nil && st.LatencyP99 != nil {
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		out.LatencyMS = &latencyJSON{P50: ms(*st.LatencyP50), P99: ms(*st.LatencyP99)}
	}
	for i, h := range st.Hours {
		out.Hours[i] = hourStatsJSON(h)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// probeEndpoint makes the next probe of an open breaker go now: 202 with
// the endpoint (its next_probe_at now), 409 when the breaker is closed.
func (s *server) probeEndpoint(w http.ResponseWriter, r *http.Request, c call) error {
	e, err := s.svc.Endpoints.Probe(r.Context(), c.projectID, r.PathValue("eid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, renderEndpoint(e))
	return nil
}
