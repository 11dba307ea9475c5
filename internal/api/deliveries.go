package api

import (
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/service"
)

type deliveryJSON struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EndpointID     string     `json:"endpoint_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	AttemptCount   int        `json:"attempt_count"`
	LastStatusCode int        `json:"last_status_code"`
	LastError      string     `json:"last_error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	// OrderingKey: its event's, while its endpoint is ordered.
	OrderingKey string `json:"ordering_key,omitempty"`
	// HeldReason and HeldUntil are set while status is held; HeldAfter,
	// held by ordering, is the delivery it waits for.
	HeldReason *string    `json:"held_reason"`
	HeldUntil  *time.Time `json:"held_until"`
	HeldAfter  *string    `json:"held_after"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// deliveryDetailJSON is one delivery with its attempts.
type deliveryDetailJSON struct {
	deliveryJSON
	Attempts []attemptJSON `json:"attempts"`
}

type attemptJSON struct {
	Number       int       `json:"number"`
	StartedAt    time.Time `json:"started_at"`
	DurationMS   int64     `json:"duration_ms"`
	StatusCode   int       `json:"status_code"`
	Error        string    `json:"error"`
	ResponseBody string    `json:"response_body"`
	// Signature is the webhook-signature header the attempt was sent
	// with ("" when not recorded); never a secret.
	Signature string `json:"webhook_signature"`
}

func renderDelivery(d service.Delivery) deliveryJSON {
	var reason, after *string
	if d.Hold.Reason != "" {
		reason = &d.Hold.Reason
	}
	if d.Hold.After != "" {
		after = &d.Hold.After
	}
	return deliveryJSON{
		HeldReason:     reason,
		HeldUntil:      optionalTime(d.Hold.Until),
		HeldAfter:      after,
		OrderingKey:    d.OrderingKey,
		ID:             d.ID,
		EventID:        d.EventID,
		EndpointID:     d.EndpointID,
		EventType:      d.EventType,
		Status:         d.Status,
		AttemptCount:   d.AttemptCount,
		LastStatusCode: d.LastStatusCode,
		LastError:      d.LastError,
		NextAttemptAt:  optionalTime(d.NextAttemptAt),
		CreatedAt:      d.CreatedAt.UTC(),
		UpdatedAt:      d.UpdatedAt.UTC(),
	}
}

func (s *server) listDeliveries(w http.ResponseWriter, r *http.Request, c call) error {
	q := r.URL.Query()
	f := service.DeliveryFilter{
		Status:     q.Get("status"),
		EndpointID: q.Get("endpoint_id"),
		EventID:    q.Get("event_id"),
		EventType:  q.Get("event_type"),
	}
	var err error
	if f.Since, err = timeQuery(q, "since"); err != nil {
		return err
	}
	if f.Until, err = timeQuery(q, "until"); err != nil {
		return err
	}
	l, err := s.svc.Deliveries.List(r.Context(), c.projectID, f, pageQuery(q))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderList(l, renderDelivery))
	return nil
}

func (s *server) getDelivery(w http.ResponseWriter, r *http.Request, c call) error {
	d, err := s.svc.Deliveries.Get(r.Context(), c.projectID, r.PathValue("did"))
	if err != nil {
		return err
	}
	out := deliveryDetailJSON{deliveryJSON: renderDelivery(d.Delivery)}
	out.Attempts = make([]attemptJSON, 0, len(d.Attempts))
	for _, a := range d.Attempts {
		out.Attempts = append(out.Attempts, attemptJSON{
			Number:       a.Number,
			StartedAt:    a.StartedAt.UTC(),
			DurationMS:   a.Duration.Milliseconds(),
			StatusCode:   a.StatusCode,
			Error:        a.Error,
			ResponseBody: a.ResponseBody,
			Signature:    a.Signature,
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) retryDelivery(w http.ResponseWriter, r *http.Request, c call) error {
	d, err := s.svc.Deliveries.Retry(r.Context(), c.projectID, r.PathValue("did"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, renderDelivery(d))
	return nil
}

// bulkRetryRequest is POST …/deliveries/retry: the list's filters.
type bulkRetryRequest struct {
	Status     string     `json:"status"`
	EndpointID string     `json:"endpoint_id"`
	EventType  string     `json:"event_type"`
	Since      *time.Time `json:"since"`
	Until      *time.Time `json:"until"`
	DryRun     bool       `json:"dry_run"`
}

type bulkRetryResponse struct {
	Matched   int  `json:"matched"`
	Resent    int  `json:"resent"`
	Truncated bool `json:"truncated"`
}

// retryDeliveries resends what the filters match, at most
// service.MaxBulkRetry per call; dry_run only counts.
func (s *server) retryDeliveries(w http.ResponseWriter, r *http.Request, c call) error {
	var in bulkRetryRequest
	if err := decodeBody(w, r, s.maxBody, bodyRequired, &in); err != nil {
		return err
	}
	b := service.BulkRetry{Status: in.Status, EndpointID: in.EndpointID, EventType: in.EventType, DryRun: in.DryRun}
	if in.Since != nil {
		b.Since = *in.Since
	}
	if in.Until != nil {
		b.Until = *in.Until
	}
	res, err := s.svc.Deliveries.RetryMatching(r.Context(), c.projectID, b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bulkRetryResponse{Matched: res.Matched, Resent: res.Resent, Truncated: res.Truncated})
	return nil
}
