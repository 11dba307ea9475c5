package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

type publishRequest struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// eventBody is the wire body of an event, in this field order.
type eventBody struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

const eventTypeRule = "must be 1–128 characters of A-Z a-z 0-9 . _ : -"

// newEvent checks type and data and builds the event with its body, once:
// the body is stored and sent byte-identical on every attempt.
func (s *server) newEvent(projectID, typ string, data json.RawMessage, idemKey string) (store.Event, error) {
	if !validEventType(typ) {
		return store.Event{}, invalid("type", eventTypeRule)
	}
	if d := bytes.TrimSpace(data); len(d) == 0 || d[0] != '{' {
		return store.Event{}, invalid("data", "must be a JSON object")
	}
	now := s.now()
	e := store.Event{
		ID:             ids.New(ids.Event, now),
		ProjectID:      projectID,
		Type:           typ,
		IdempotencyKey: idemKey,
		CreatedAt:      now,
	}
	// The body is written by hand rather than by encoding/json: this runs
	// for every published event. The id (ids.New) and the type (checked
	// above) need no escaping, and json.Compact keeps the publisher's data
	// byte for byte apart from insignificant space, as the encoder would
	// (no \u-escaping of <>&: receivers verify the signature over these
	// exact bytes).
	ts := now.Truncate(time.Second).Format(time.RFC3339)
	buf := bytes.NewBuffer(make([]byte, 0, len(data)+len(e.ID)+len(typ)+len(ts)+48))
	buf.WriteString(`{"id":"`)
	buf.WriteString(e.ID)
	buf.WriteString(`","type":"`)
	buf.WriteString(typ)
	buf.WriteString(`","timestamp":"`)
	buf.WriteString(ts)
	buf.WriteString(`","data":`)
	if err := json.Compact(buf, data); err != nil {
		// data came from the JSON decoder, so it is valid JSON.
		return store.Event{}, invalid("data", "must be a JSON object")
	}
	buf.WriteByte('}')
	e.Body = buf.Bytes()
	return e, nil
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
	if len(idem) > maxIdempotencyKey {
		return invalid("Idempotency-Key", "must be at most 255 characters")
	}
	var in publishRequest
	if err := decodeBody(w, r, s.maxBody, bodyRequired, &in); err != nil {
		return err
	}
	e, err := s.newEvent(c.projectID, in.Type, in.Data, idem)
	if err != nil {
		return err
	}
	res, err := s.publisher.Publish(r.Context(), e)
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

func renderEvent(e store.Event) eventJSON {
	var body struct {
		Data json.RawMessage `json:"data"`
	}
	// The body was built by newEvent; should it ever not parse, the
	// event is still listed, with null data.
	if json.Unmarshal(e.Body, &body) != nil || len(body.Data) == 0 {
		body.Data = json.RawMessage("null")
	}
	return eventJSON{
		ID:             e.ID,
		Type:           e.Type,
		CreatedAt:      e.CreatedAt.UTC(),
		Data:           body.Data,
		IdempotencyKey: e.IdempotencyKey,
	}
}

func (s *server) listEvents(w http.ResponseWriter, r *http.Request, c call) error {
	q := r.URL.Query()
	page, limit, err := pageQuery(q, ids.Event)
	if err != nil {
		return err
	}
	var f store.EventFilter
	if f.Type = q.Get("type"); f.Type != "" && !validEventType(f.Type) {
		return invalid("type", eventTypeRule)
	}
	if f.Since, err = timeQuery(q, "since"); err != nil {
		return err
	}
	if f.Until, err = timeQuery(q, "until"); err != nil {
		return err
	}
	rows, err := s.store.ListEvents(r.Context(), c.projectID, f, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paginate(rows, limit, func(e store.Event) string { return e.ID }, renderEvent))
	return nil
}

func (s *server) getEvent(w http.ResponseWriter, r *http.Request, c call) error {
	evid := r.PathValue("evid")
	if !ids.Valid(ids.Event, evid) {
		return notFound("event")
	}
	e, err := s.store.GetEvent(r.Context(), c.projectID, evid)
	if err != nil {
		return notFoundAs(err, "event")
	}
	writeJSON(w, http.StatusOK, renderEvent(e))
	return nil
}
