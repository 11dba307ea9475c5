package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/service"
)

type publishRequest struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

type deliveryRefJSON struct {
	ID         string `json:"id"`
	EndpointID string `json:"endpoint_id"`
}

type publishResponse struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	CreatedAt  time.Time         `json:"created_at"`
	Deliveries []deliveryRefJSON `json:"deliveries"`
}

func (s *server) publishEvent(w http.ResponseWriter, r *http.Request, c call) error {
	idem := r.Header.Get("Idempotency-Key")
	if _, given := r.Header["Idempotency-Key"]; given && idem == "" {
		// Given but empty is a client bug, not "no key".
		return service.Invalid("Idempotency-Key", service.IdempotencyKeyRule)
	}
	if len(idem) > service.MaxIdempotencyKeyLen {
		// Checked before reading the body, as the service would after.
		return service.PublishEvent{IdempotencyKey: idem}.Validate()
	}
	var in publishRequest
	if err := decodeBody(w, r, s.maxBody, bodyRequired, &in); err != nil {
		return err
	}
	res, err := s.svc.Events.Publish(r.Context(), c.projectID, service.PublishEvent{Type: in.Type, Data: in.Data, IdempotencyKey: idem})
	if err != nil {
		return err
	}
	out := publishResponse{
		ID:         res.Event.ID,
		Type:       res.Event.Type,
		CreatedAt:  res.Event.CreatedAt.UTC(),
		Deliveries: make([]deliveryRefJSON, 0, len(res.Deliveries)),
	}
	for _, d := range res.Deliveries {
		out.Deliveries = append(out.Deliveries, deliveryRefJSON{ID: d.ID, EndpointID: d.EndpointID})
	}
	if res.Existing {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusAccepted, out)
	return nil
}

type eventJSON struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	CreatedAt      time.Time       `json:"created_at"`
	Data           json.RawMessage `json:"data"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
}

func renderEvent(e service.Event) eventJSON {
	return eventJSON{
		ID:             e.ID,
		Type:           e.Type,
		CreatedAt:      e.CreatedAt.UTC(),
		Data:           service.EventData(e),
		IdempotencyKey: e.IdempotencyKey,
	}
}

func (s *server) listEvents(w http.ResponseWriter, r *http.Request, c call) error {
	q := r.URL.Query()
	f := service.EventFilter{Type: q.Get("type"), IdempotencyKey: q.Get("idempotency_key")}
	var err error
	if f.Since, err = timeQuery(q, "since"); err != nil {
		return err
	}
	if f.Until, err = timeQuery(q, "until"); err != nil {
		return err
	}
	l, err := s.svc.Events.List(r.Context(), c.projectID, f, pageQuery(q))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderList(l, renderEvent))
	return nil
}

func (s *server) getEvent(w http.ResponseWriter, r *http.Request, c call) error {
	e, err := s.svc.Events.Get(r.Context(), c.projectID, r.PathValue("evid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderEvent(e))
	return nil
}
