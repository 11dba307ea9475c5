package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/eventbody"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// Events publishes events and reads them back.
type Events struct {
	c *core
}

var (
	errDataNotObject = Invalid("data", "must be a JSON object")
	// encoding/json takes invalid UTF-8 inside strings for valid JSON;
	// stored, it would make every page of the event log that holds it
	// unparsable for strict JSON clients, and receivers get invalid JSON.
	errDataNotUTF8 = Invalid("data", "must be valid UTF-8")
	// A \ud800 escape is valid JSON text but no character.
	errDataSurrogate = Invalid("data", `must not hold a lone UTF-16 surrogate escape (such as \ud800): it is no character, and receivers would not get it as sent`)
)

// checkData checks that data is one JSON object in UTF-8 and returns it
// without surrounding space.
func checkData(data []byte) ([]byte, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' || !json.Valid(data) {
		return nil, errDataNotObject
	}
	if !utf8.Valid(data) {
		return nil, errDataNotUTF8
	}
	if loneSurrogate(data) {
		return nil, errDataSurrogate
	}
	return data, nil
}

// loneSurrogate tells whether JSON text data holds a \u escape of a
// UTF-16 surrogate that is not a high one followed by a low one: no
// character at all, which encoding/json turns into U+FFFD and other
// parsers refuse, so a receiver would not get what was sent.
func loneSurrogate(data []byte) bool {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' || i+1 >= len(data) {
			continue
		}
		if data[i+1] != 'u' {
			i++ // an escaped character, a backslash included
			continue
		}
		r, ok := hex4(data, i+2)
		i += 5
		switch {
		case !ok || r < 0xD800 || r > 0xDFFF:
		case r >= 0xDC00:
			return true // a low surrogate alone
		default:
			next, ok := hex4(data, i+3)
			if i+2 >= len(data) || data[i+1] != '\\' || data[i+2] != 'u' || !ok || next < 0xDC00 || next > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

// hex4 reads the four hex digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// PublishEvent is the input of Events.Publish.
type PublishEvent struct {
	// Type of the event, e.g. "invoice.paid": EventTypeRule.
	Type string
	// Data is the event's payload, a JSON object. It is sent as given,
	// apart from insignificant space.
	Data json.RawMessage
	// IdempotencyKey, when set, makes a publish with the same key within
	// 24 h return the first event instead of a new one, when its type and
	// data are the same (data compared apart from insignificant space);
	// otherwise the publish fails with CodeIdempotencyKeyReused. Printable
	// ASCII, at most MaxIdempotencyKeyLen bytes; the API takes it from the
	// Idempotency-Key header, hence the field name in errors.
	IdempotencyKey string
	// OrderingKey, when set, puts the event in order with the other
	// events of the key for every ordered endpoint (see
	// CreateEndpoint.Ordered): OrderingKeyRule. Unordered endpoints
	// ignore it.
	OrderingKey string
}

// Validate checks the input, naming the field at fault.
func (in PublishEvent) Validate() error { return in.validate(true) }

// validate is Validate; without full, data is only checked to start like
// an object, leaving the rest to the body builder, which compacts it and
// fails on what is not JSON (one pass over the data of every event
// instead of two).
func (in PublishEvent) validate(full bool) error {
	if err := checkIdempotencyKey(in.IdempotencyKey); err != nil {
		return err
	}
	if err := checkOrderingKey(in.OrderingKey); err != nil {
		return err
	}
	if err := checkEventType("type", in.Type); err != nil {
		return err
	}
	// In any case: a receiver may compare types without regard to it.
	if len(in.Type) >= len(OperationalPrefix) && strings.EqualFold(in.Type[:len(OperationalPrefix)], OperationalPrefix) {
		return Invalid("type", `must not start with "`+OperationalPrefix+`" (in any case): those are hookd's own operational events`)
	}
	if !full {
		if d := bytes.TrimSpace(in.Data); len(d) == 0 || d[0] != '{' {
			return errDataNotObject
		}
		if !utf8.Valid(in.Data) {
			return errDataNotUTF8
		}
		if bytes.Contains(in.Data, []byte(`\u`)) && loneSurrogate(in.Data) {
			return errDataSurrogate
		}
		return nil
	}
	_, err := checkData(in.Data)
	return err
}

// Published is the answer to a publish: the event and the deliveries made
// for it, one per endpoint that accepts its type.
type Published struct {
	Event      Event
	Deliveries []store.DeliveryRef
	// Existing is set when the idempotency key found an earlier event,
	// which is returned instead of a new one.
	Existing bool
}

// Publish stores an event of project projectID and its deliveries, and
// returns once they are committed: an accepted event is never lost.
func (s *Events) Publish(ctx context.Context, projectID string, in PublishEvent) (Published, error) {
	e, err := s.c.newEvent(projectID, in)
	if err != nil {
		return Published{}, err
	}
	res, err := s.c.publisher.Publish(ctx, e)
	if err != nil {
		return Published{}, translate(err, "project")
	}
	if res.Existing && !samePublish(res.Event, e) {
		return Published{}, errKeyReused
	}
	return Published{Event: res.Event, Deliveries: res.Deliveries, Existing: res.Existing}, nil
}

// MaxBatchEvents is how many events one Events.PublishBatch takes: enough
// to share a commit's fixed cost among many (at 100 it is a few µs per
// event), few enough that one request holds the queue only briefly.
const MaxBatchEvents = 100

// BatchItem is one event's answer within PublishBatch: its Published, or
// Err when this event was not accepted (the others of the batch may be).
type BatchItem struct {
	Published
	Err error
}

// PublishBatch publishes up to MaxBatchEvents events of project projectID
// together and answers each on its own, in the order given: each event is
// checked as Publish checks it, those that pass are committed together,
// and one event's error (invalid, a reused key, refused by the database)
// never fails the others. Only an empty or too large batch is an error of
// the whole call.
func (s *Events) PublishBatch(ctx context.Context, projectID string, in []PublishEvent) ([]BatchItem, error) {
	if len(in) == 0 {
		return nil, Invalid("events", "must hold at least one event")
	}
	if len(in) > MaxBatchEvents {
		return nil, Invalid("events", fmt.Sprintf("must hold at most %d events (got %d); split the batch", MaxBatchEvents, len(in)))
	}
	out := make([]BatchItem, len(in))
	events := make([]store.Event, 0, len(in))
	at := make([]int, 0, len(in)) // at[j]: the index in in of events[j]
	for i, pe := range in {
		e, err := s.c.newEvent(projectID, pe)
		if err != nil {
			out[i].Err = err
			continue
		}
		events = append(events, e)
		at = append(at, i)
	}
	if len(events) == 0 {
		return out, nil
	}
	results, errs := s.c.publishMany(ctx, events)
	for j, i := range at {
		res, err := results[j], errs[j]
		switch {
		case err != nil:
			out[i].Err = translate(err, "project")
		case res.Existing && !samePublish(res.Event, events[j]):
			out[i].Err = errKeyReused
		default:
			out[i].Published = Published{Event: res.Event, Deliveries: res.Deliveries, Existing: res.Existing}
		}
	}
	return out, nil
}

// publishMany hands events to the publisher in one request when it takes
// batches, and one by one otherwise.
func (c *core) publishMany(ctx context.Context, events []store.Event) ([]store.PublishResult, []error) {
	if bp, ok := c.publisher.(BatchPublisher); ok {
		return bp.PublishBatch(ctx, events)
	}
	results := make([]store.PublishResult, len(events))
	errs := make([]error, len(events))
	for i, e := range events {
		results[i], errs[i] = c.publisher.Publish(ctx, e)
	}
	return results, errs
}

// OperationalPrefix starts the types of the events hookd publishes itself
// (hookd.endpoint.failing, …); publishers may not use it, so a receiver can
// trust that such an event came from hookd.
const OperationalPrefix = store.OperationalPrefix

// PublishOperational publishes an operational event of type typ (which
// starts with OperationalPrefix) about endpoint endpointID of project
// projectID, with data (a JSON object): in the project's log and signed
// like any event, to every endpoint whose filter accepts it except the one
// it is about.
func (s *Events) PublishOperational(ctx context.Context, projectID, endpointID, typ string, data []byte) (Published, error) {
	if !strings.HasPrefix(typ, OperationalPrefix) {
		return Published{}, Invalid("type", `an operational event's type starts with "`+OperationalPrefix+`"`)
	}
	now := s.c.now()
	e := Event{ID: ids.New(ids.Event, now), ProjectID: projectID, Type: typ, CreatedAt: now, NotTo: endpointID}
	body, err := eventbody.Build(e.ID, e.Type, now, data)
	if err != nil {
		return Published{}, errDataNotObject
	}
	e.Body = body
	res, err := s.c.publisher.Publish(ctx, e)
	if err != nil {
		return Published{}, translate(err, "project")
	}
	return Published{Event: res.Event, Deliveries: res.Deliveries}, nil
}

// newEvent checks the input and builds the event with its body, once: the
// body is stored and sent byte-identical on every attempt.
func (c *core) newEvent(projectID string, in PublishEvent) (Event, error) {
	if err := in.validate(false); err != nil {
		return Event{}, err
	}
	now := c.now()
	e := Event{
		ID:             ids.New(ids.Event, now),
		ProjectID:      projectID,
		Type:           in.Type,
		IdempotencyKey: in.IdempotencyKey,
		OrderingKey:    in.OrderingKey,
		CreatedAt:      now,
	}
	body, err := eventbody.Build(e.ID, e.Type, now, in.Data)
	if err != nil {
		return Event{}, errDataNotObject
	}
	e.Body = body
	return e, nil
}

// errKeyReused: as Stripe answers, a key is for retrying one request, and
// a different request with it is a client bug to surface, not to answer
// with an event the client did not send.
var errKeyReused = &Error{Code: CodeIdempotencyKeyReused, Field: "Idempotency-Key",
	Message: "was already used with a different type or data; use a new key for a new event"}

// samePublish tells whether e, about to be published, asks for what the
// stored event orig was published with: the same type and data. Both
// bodies hold the data compacted by eventbody.Build, so equal data means
// equal bytes.
func samePublish(orig, e Event) bool {
	return orig.Type == e.Type && orig.OrderingKey == e.OrderingKey && bytes.Equal(EventData(orig), EventData(e))
}

// EventData is the data of an event as published, taken from its stored
// body; null should the body ever not parse.
func EventData(e Event) json.RawMessage {
	var body struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(e.Body, &body) != nil || len(body.Data) == 0 {
		return json.RawMessage("null")
	}
	return body.Data
}

// EventFilter narrows Events.List; zero fields match everything.
type EventFilter struct {
	// Type: one type, or the types starting with a prefix ("invoice.*"),
	// as an endpoint's filter takes them; any case matches.
	Type  string
	Since time.Time // created at or after
	Until time.Time // created before
	// IdempotencyKey: the newest event published with this key.
	IdempotencyKey string
}

// Validate checks the filter, naming the field at fault.
func (f EventFilter) Validate() error {
	if err := checkTypeFilter("type", f.Type); err != nil {
		return err
	}
	if err := checkIdempotencyKey(f.IdempotencyKey); err != nil {
		return Invalid("idempotency_key", IdempotencyKeyRule)
	}
	return nil
}

// List lists the events of project projectID, newest first.
func (s *Events) List(ctx context.Context, projectID string, f EventFilter, p Page) (List[Event], error) {
	if err := f.Validate(); err != nil {
		return List[Event]{}, err
	}
	sf := store.EventFilter{Type: typeFilter(f.Type), Since: f.Since, Until: f.Until, IdempotencyKey: f.IdempotencyKey}
	return list(p, ids.Event, func(e Event) string { return e.ID }, func(sp store.Page) ([]Event, error) {
		return s.c.store.ListEvents(ctx, projectID, sf, sp)
	})
}

// Get returns event id of project projectID.
func (s *Events) Get(ctx context.Context, projectID, id string) (Event, error) {
	if !ids.Valid(ids.Event, id) {
		return Event{}, NotFound("event")
	}
	e, err := s.c.store.GetEvent(ctx, projectID, id)
	return e, translate(err, "event")
}
