package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/service"
)

type publishRequest struct {
	Type        string          `json:"type"`
	Data        json.RawMessage `json:"data"`
	OrderingKey *string         `json:"ordering_key"`
}

// orderingKey is the ordering key given in a body: absent or null is
// none, given but empty a client bug.
func orderingKey(k *string) (string, error) {
	if k == nil {
		return "", nil
	}
	if *k == "" {
		return "", service.Invalid("ordering_key", service.OrderingKeyRule+" (got an empty string; leave it out for none)")
	}
	return *k, nil
}

type deliveryRefJSON struct {
	ID         string `json:"id"`
	EndpointID string `json:"endpoint_id"`
}

type publishResponse struct {
	ID          string            `json:"id"`
	Type        string            `json:"type"`
	CreatedAt   time.Time         `json:"created_at"`
	OrderingKey string            `json:"ordering_key,omitempty"`
	Deliveries  []deliveryRefJSON `json:"deliveries"`
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
	key, err := orderingKey(in.OrderingKey)
	if err != nil {
		return err
	}
	res, err := s.svc.Events.Publish(r.Context(), c.projectID, service.PublishEvent{Type: in.Type, Data: in.Data,
		IdempotencyKey: idem, OrderingKey: key})
	if err != nil {
		return err
	}
	out := renderPublished(res)
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
	OrderingKey    string          `json:"ordering_key,omitempty"`
}

func renderEvent(e service.Event) eventJSON {
	return eventJSON{
		ID:             e.ID,
		Type:           e.Type,
		CreatedAt:      e.CreatedAt.UTC(),
		Data:           service.EventData(e),
		IdempotencyKey: e.IdempotencyKey,
		OrderingKey:    e.OrderingKey,
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

// batchBodyFactor: a batch body may be this many times the largest body
// of a single publish (1 MiB by default): room for 100 events of
// typical size, while one request still holds a bounded amount of memory.
// Each event within it is held to the single publish's limit.
const batchBodyFactor = 4

type batchRequest struct {
	// Each event is decoded on its own, so one malformed event is that
	// event's error, not the batch's.
	Events []json.RawMessage `json:"events"`
}

type batchEvent struct {
	Type           string          `json:"type"`
	Data           json.RawMessage `json:"data"`
	IdempotencyKey *string         `json:"idempotency_key"`
	OrderingKey    *string         `json:"ordering_key"`
}

// batchItemJSON answers one event of a batch: status is what a single
// publish of it would have answered (202, or the error's status), with the
// event or the error.
type batchItemJSON struct {
	Status   int              `json:"status"`
	Event    *publishResponse `json:"event,omitempty"`
	Replayed bool             `json:"replayed,omitempty"`
	Error    *errorJSON       `json:"error,omitempty"`
}

type batchResponse struct {
	Items []batchItemJSON `json:"items"`
}

// publishBatch takes up to service.MaxBatchEvents events in one request,
// commits those that are valid together, and answers 200 with one item per
// event, in order. A client retries only the items answered 429 or 503,
// with their idempotency keys.
func (s *server) publishBatch(w http.ResponseWriter, r *http.Request, c call) error {
	var in batchRequest
	if err := decodeBody(w, r, batchBodyFactor*s.maxBody, bodyRequired, &in); err != nil {
		return err
	}
	if len(in.Events) == 0 {
		return service.Invalid("events", "must hold at least one event")
	}
	if len(in.Events) > service.MaxBatchEvents {
		return service.Invalid("events", fmt.Sprintf("must hold at most %d events (got %d); split the batch", service.MaxBatchEvents, len(in.Events)))
	}
	items := make([]batchItemJSON, len(in.Events))
	pubs := make([]service.PublishEvent, 0, len(in.Events))
	at := make([]int, 0, len(in.Events))
	for i, raw := range in.Events {
		pe, err := s.decodeBatchEvent(raw)
		if err != nil {
			items[i] = s.batchError(r, err)
			continue
		}
		pubs = append(pubs, pe)
		at = append(at, i)
	}
	if len(pubs) > 0 {
		res, err := s.svc.Events.PublishBatch(r.Context(), c.projectID, pubs)
		if err != nil {
			return err
		}
		for j, i := range at {
			if res[j].Err != nil {
				items[i] = s.batchError(r, res[j].Err)
				continue
			}
			out := renderPublished(res[j].Published)
			items[i] = batchItemJSON{Status: http.StatusAccepted, Event: &out, Replayed: res[j].Existing}
		}
	}
	writeJSON(w, http.StatusOK, batchResponse{Items: items})
	return nil
}

// decodeBatchEvent decodes one event of a batch with the checks a single
// publish makes of its body and Idempotency-Key header.
func (s *server) decodeBatchEvent(raw json.RawMessage) (service.PublishEvent, error) {
	if int64(len(raw)) > s.maxBody {
		return service.PublishEvent{}, tooLarge(s.maxBody)
	}
	var ev batchEvent
	if err := decodeJSON(raw, bodyRequired, &ev); err != nil {
		return service.PublishEvent{}, err
	}
	pe := service.PublishEvent{Type: ev.Type, Data: ev.Data}
	var err error
	if pe.OrderingKey, err = orderingKey(ev.OrderingKey); err != nil {
		return service.PublishEvent{}, err
	}
	if ev.IdempotencyKey != nil {
		if *ev.IdempotencyKey == "" {
			return service.PublishEvent{}, service.Invalid("idempotency_key", service.IdempotencyKeyRule)
		}
		pe.IdempotencyKey = *ev.IdempotencyKey
	}
	return pe, nil
}

// batchError is err as one item of a batch answer.
func (s *server) batchError(r *http.Request, err error) batchItemJSON {
	e, internal := service.AsError(err)
	if internal {
		s.log.ErrorContext(r.Context(), "api: internal error", "method", r.Method, "route", r.Pattern, "err", err)
	}
	return batchItemJSON{Status: statusOf(e.Code), Error: &errorJSON{Code: string(e.Code), Message: e.Error()}}
}

// renderPublished is the answer to an accepted publish.
func renderPublished(p service.Published) publishResponse {
	out := publishResponse{
		ID:          p.Event.ID,
		Type:        p.Event.Type,
		CreatedAt:   p.Event.CreatedAt.UTC(),
		OrderingKey: p.Event.OrderingKey,
		Deliveries:  make([]deliveryRefJSON, 0, len(p.Deliveries)),
	}
	for _, d := range p.Deliveries {
		out.Deliveries = append(out.Deliveries, deliveryRefJSON{ID: d.ID, EndpointID: d.EndpointID})
	}
	return out
}
