package client

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// Event is an event to publish.
type Event struct {
	// Type names the event, such as "invoice.paid"; endpoints subscribe to types.
	Type string
	// Data is the event's payload, encoded as JSON (a json.RawMessage is sent as
	// it is).
	Data any
	// IdempotencyKey makes a repeated publish return the event the first one
	// stored instead of storing a second. Empty: Publish makes one, the same on
	// every retry of this call. Give your own (an order id, say) to make publishes
	// from different processes or runs idempotent too.
	IdempotencyKey string
	// OrderingKey puts the event in order with the other events of the key for
	// every ordered endpoint (Endpoint.Ordered): each gets them one after
	// another. 1–255 bytes of UTF-8 text; sent only when not empty.
	OrderingKey string
}

// PublishedEvent is the stored event, as the API accepted it.
type PublishedEvent struct {
	ID         string        `json:"id"`
	Type       string        `json:"type"`
	CreatedAt  time.Time     `json:"created_at"`
	Deliveries []DeliveryRef `json:"deliveries"`
	// OrderingKey is the event's ordering key ("" for none).
	OrderingKey string `json:"ordering_key,omitempty"`
	// IdempotencyKey is the key the publish was made with.
	IdempotencyKey string `json:"-"`
	// Replayed: the key had been used before; this is the event stored then.
	Replayed bool `json:"-"`
}

// DeliveryRef names one delivery of a published event.
type DeliveryRef struct {
	ID         string `json:"id"`
	EndpointID string `json:"endpoint_id"`
}

// Publish stores an event and answers once it is stored; hookd then delivers it
// to each subscribed endpoint. Network errors, 429 and 503 are retried with
// backoff (honouring Retry-After) under ctx's deadline, always with the same
// idempotency key, so a retry never makes a second event.
func (c *Client) Publish(ctx context.Context, projectID string, ev Event) (*PublishedEvent, error) {
	key := ev.IdempotencyKey
	if key == "" {
		key = NewIdempotencyKey()
	}
	data, err := json.Marshal(ev.Data)
	if err != nil {
		return nil, err
	}
	body := struct {
		Type        string          `json:"type"`
		Data        json.RawMessage `json:"data"`
		OrderingKey string          `json:"ordering_key,omitempty"`
	}{ev.Type, data, ev.OrderingKey}
	var out PublishedEvent
	h, err := c.do(ctx, request{
		method: "POST", path: projectPath(projectID, "events"), body: body, retry: true,
		header: map[string][]string{"Idempotency-Key": {key}},
	}, &out)
	if err != nil {
		return nil, err
	}
	out.IdempotencyKey = key
	out.Replayed = h.Get("Idempotent-Replayed") == "true"
	return &out, nil
}

// Endpoint is a URL that receives a project's events.
type Endpoint struct {
	ID                  string     `json:"id"`
	URL                 string     `json:"url"`
	Description         string     `json:"description"`
	EventTypes          []string   `json:"event_types"`
	Enabled             bool       `json:"enabled"`
	DisabledReason      string     `json:"disabled_reason"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
	RateLimitPerSecond  int        `json:"rate_limit_per_second"`
	MaxConcurrency      int        `json:"max_concurrency"`
	Ordered             bool       `json:"ordered"`
	FailingSince        *time.Time `json:"failing_since"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	Breaker             string     `json:"breaker"`
	NextProbeAt         *time.Time `json:"next_probe_at"`
}

// NewEndpoint is what CreateEndpoint sends. Empty EventTypes subscribes to all.
type NewEndpoint struct {
	URL                string   `json:"url"`
	Description        string   `json:"description,omitempty"`
	EventTypes         []string `json:"event_types,omitempty"`
	Enabled            *bool    `json:"enabled,omitempty"` // nil: enabled
	RateLimitPerSecond int      `json:"rate_limit_per_second,omitempty"`
	MaxConcurrency     int      `json:"max_concurrency,omitempty"`
	// Ordered delivers the events of one OrderingKey one after another.
	Ordered bool `json:"ordered,omitempty"`
}

// EndpointUpdate is what UpdateEndpoint sends; nil fields stay as they are.
type EndpointUpdate struct {
	URL                *string   `json:"url,omitempty"`
	Description        *string   `json:"description,omitempty"`
	EventTypes         *[]string `json:"event_types,omitempty"`
	Enabled            *bool     `json:"enabled,omitempty"`
	RateLimitPerSecond *int      `json:"rate_limit_per_second,omitempty"`
	MaxConcurrency     *int      `json:"max_concurrency,omitempty"`
	Ordered            *bool     `json:"ordered,omitempty"`
}

// CreateEndpoint adds an endpoint to the project. It is not retried: a retry
// after a lost answer could make a second endpoint.
func (c *Client) CreateEndpoint(ctx context.Context, projectID string, in NewEndpoint) (*Endpoint, error) {
	var out Endpoint
	_, err := c.do(ctx, request{method: "POST", path: projectPath(projectID, "endpoints"), body: in}, &out)
	return result(&out, err)
}

// GetEndpoint returns one endpoint, with its health.
func (c *Client) GetEndpoint(ctx context.Context, projectID, endpointID string) (*Endpoint, error) {
	var out Endpoint
	_, err := c.do(ctx, request{method: "GET", path: projectPath(projectID, "endpoints", endpointID), retry: true}, &out)
	return result(&out, err)
}

// Page selects a page of a list: at most Limit items (0: the server's default)
// after Cursor (a previous page's NextCursor).
type Page struct {
	Limit  int
	Cursor string
}

func (p Page) query() url.Values {
	q := url.Values{}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	return q
}

// List is one page of a list; NextCursor is empty on the last page.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// ListEndpoints returns a page of the project's endpoints.
func (c *Client) ListEndpoints(ctx context.Context, projectID string, p Page) (*List[Endpoint], error) {
	var out List[Endpoint]
	_, err := c.do(ctx, request{method: "GET", path: projectPath(projectID, "endpoints"), query: p.query(), retry: true}, &out)
	return result(&out, err)
}

// UpdateEndpoint changes the fields of up that are not nil.
func (c *Client) UpdateEndpoint(ctx context.Context, projectID, endpointID string, up EndpointUpdate) (*Endpoint, error) {
	var out Endpoint
	_, err := c.do(ctx, request{method: "PATCH", path: projectPath(projectID, "endpoints", endpointID), body: up}, &out)
	return result(&out, err)
}

// DeleteEndpoint removes an endpoint; its pending deliveries are cancelled.
func (c *Client) DeleteEndpoint(ctx context.Context, projectID, endpointID string) error {
	_, err := c.do(ctx, request{method: "DELETE", path: projectPath(projectID, "endpoints", endpointID)}, nil)
	return err
}

// Recovered is what RecoverEndpoint did.
type Recovered struct {
	Recovered int `json:"recovered"` // Resent + Replayed
	// Resent: deliveries that had failed, or were cancelled by a disable,
	// made pending again (the same event ids).
	Resent int `json:"resent"`
	// Replayed: events published while the endpoint was disabled, which
	// its filter accepts, now delivered as new deliveries.
	Replayed int `json:"replayed"`
	// Held: deliveries the endpoint's open breaker still holds, until
	// HeldUntil (its next probe; nil when the breaker is closed).
	Held      int        `json:"held"`
	HeldUntil *time.Time `json:"held_until"`
}

// RecoverEndpoint resends every delivery to an enabled endpoint that failed
// or was cancelled since the given time, and delivers the events published
// since then while the endpoint was disabled. A disabled endpoint is refused
// (409): enable it first, or with UpdateEndpoint's Enabled in the same
// change.
func (c *Client) RecoverEndpoint(ctx context.Context, projectID, endpointID string, since time.Time) (*Recovered, error) {
	var out Recovered
	_, err := c.do(ctx, request{
		method: "POST", path: projectPath(projectID, "endpoints", endpointID, "recover"),
		body: struct {
			Since time.Time `json:"since"`
		}{since.UTC()},
	}, &out)
	return result(&out, err)
}

// Delivery is one event's delivery to one endpoint.
type Delivery struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EndpointID     string     `json:"endpoint_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"` // pending, retrying, succeeded, failed, cancelled
	AttemptCount   int        `json:"attempt_count"`
	LastStatusCode int        `json:"last_status_code"`
	LastError      string     `json:"last_error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	// Attempts is filled by GetDelivery only.
	Attempts []Attempt `json:"attempts,omitempty"`
}

// Attempt is one request of a delivery.
type Attempt struct {
	Number       int       `json:"number"`
	StartedAt    time.Time `json:"started_at"`
	DurationMS   int64     `json:"duration_ms"`
	StatusCode   int       `json:"status_code"` // 0: no answer
	Error        string    `json:"error"`
	ResponseBody string    `json:"response_body"`
	// WebhookSignature is the webhook-signature header the request was
	// sent with ("" when not recorded).
	WebhookSignature string `json:"webhook_signature"`
}

// DeliveryFilter selects deliveries; zero fields select all.
type DeliveryFilter struct {
	Status     string
	EndpointID string
	EventID    string
	EventType  string
	Since      time.Time
	Until      time.Time
	Page
}

// ListDeliveries returns a page of the project's deliveries, newest first.
func (c *Client) ListDeliveries(ctx context.Context, projectID string, f DeliveryFilter) (*List[Delivery], error) {
	q := f.Page.query()
	for name, v := range map[string]string{"status": f.Status, "endpoint_id": f.EndpointID, "event_id": f.EventID, "event_type": f.EventType} {
		if v != "" {
			q.Set(name, v)
		}
	}
	for name, t := range map[string]time.Time{"since": f.Since, "until": f.Until} {
		if !t.IsZero() {
			q.Set(name, t.UTC().Format(time.RFC3339))
		}
	}
	var out List[Delivery]
	_, err := c.do(ctx, request{method: "GET", path: projectPath(projectID, "deliveries"), query: q, retry: true}, &out)
	return result(&out, err)
}

// GetDelivery returns one delivery with its attempts.
func (c *Client) GetDelivery(ctx context.Context, projectID, deliveryID string) (*Delivery, error) {
	var out Delivery
	_, err := c.do(ctx, request{method: "GET", path: projectPath(projectID, "deliveries", deliveryID), retry: true}, &out)
	return result(&out, err)
}

// RetryDelivery sends a failed or cancelled delivery again, now.
func (c *Client) RetryDelivery(ctx context.Context, projectID, deliveryID string) (*Delivery, error) {
	var out Delivery
	_, err := c.do(ctx, request{method: "POST", path: projectPath(projectID, "deliveries", deliveryID, "retry")}, &out)
	return result(&out, err)
}

func result[T any](v *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}

// EventType is one type of event the project has published.
type EventType struct {
	Type       string    `json:"type"`
	Count      int64     `json:"count"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// Example is the data of the newest event of the type (null once
	// retention removed it).
	Example json.RawMessage `json:"example"`
}

// ListEventTypes returns a page of the types the project has published,
// by type, with how many and when last: what an endpoint's filter can name.
func (c *Client) ListEventTypes(ctx context.Context, projectID string, p Page) (*List[EventType], error) {
	var out List[EventType]
	_, err := c.do(ctx, request{method: "GET", path: projectPath(projectID, "event-types"), query: p.query(), retry: true}, &out)
	return result(&out, err)
}
