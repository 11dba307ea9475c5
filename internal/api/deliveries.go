package api

import (
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
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
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
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
}

func renderDelivery(d store.Delivery) deliveryJSON {
	return deliveryJSON{
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
	page, limit, err := pageQuery(q, ids.Delivery)
	if err != nil {
		return err
	}
	var f store.DeliveryFilter
	if f.Status = q.Get("status"); f.Status != "" && !store.ValidStatus(f.Status) {
		return invalid("status", "must be one of pending, delivering, succeeded, retrying, failed, cancelled")
	}
	if f.EndpointID, err = idQuery(q, "endpoint_id", ids.Endpoint); err != nil {
		return err
	}
	if f.EventID, err = idQuery(q, "event_id", ids.Event); err != nil {
		return err
	}
	if f.EventType = q.Get("event_type"); f.EventType != "" && !validEventType(f.EventType) {
		return invalid("event_type", eventTypeRule)
	}
	if f.Since, err = timeQuery(q, "since"); err != nil {
		return err
	}
	if f.Until, err = timeQuery(q, "until"); err != nil {
		return err
	}
	rows, err := s.store.ListDeliveries(r.Context(), c.projectID, f, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paginate(rows, limit, func(d store.Delivery) string { return d.ID }, renderDelivery))
	return nil
}

func (s *server) getDelivery(w http.ResponseWriter, r *http.Request, c call) error {
	did := r.PathValue("did")
	if !ids.Valid(ids.Delivery, did) {
		return notFound("delivery")
	}
	d, err := s.store.GetDelivery(r.Context(), c.projectID, did)
	if err != nil {
		return notFoundAs(err, "delivery")
	}
	attempts, err := s.store.ListAttempts(r.Context(), c.projectID, did)
	if err != nil {
		return notFoundAs(err, "delivery")
	}
	out := deliveryDetailJSON{deliveryJSON: renderDelivery(d)}
	out.Attempts = make([]attemptJSON, 0, len(attempts))
	for _, a := range attempts {
		out.Attempts = append(out.Attempts, attemptJSON{
			Number:       a.Number,
			StartedAt:    a.StartedAt.UTC(),
			DurationMS:   a.Duration.Milliseconds(),
			StatusCode:   a.StatusCode,
			Error:        a.Error,
			ResponseBody: a.ResponseBody,
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) retryDelivery(w http.ResponseWriter, r *http.Request, c call) error {
	did := r.PathValue("did")
	if !ids.Valid(ids.Delivery, did) {
		return notFound("delivery")
	}
	d, err := s.store.RetryDelivery(r.Context(), c.projectID, did, s.now())
	switch {
	case isNotFound(err):
		return notFound("delivery")
	case isConflict(err):
		return &apiError{Code: codeConflict, Message: "delivery: is being delivered right now; try again when the attempt has finished"}
	case err != nil:
		return err
	}
	s.wake()
	writeJSON(w, http.StatusAccepted, renderDelivery(d))
	return nil
}
