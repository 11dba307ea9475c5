package service

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/store"
)

// DisabledByUser is the reason recorded when a user disables an endpoint.
const DisabledByUser = "disabled by user"

// TestEventType is the type of a test event whose input names none.
const TestEventType = "webhook.test"

// Endpoints manages a project's endpoints and sends test events to them.
type Endpoints struct {
	c *core
}

// checkURL applies the URL rules (absolute http(s), no credentials, https
// only when requireHTTPS; see outbound.CheckURL). Where the URL may point
// is checked again on every request, on the address dialed.
func checkURL(u string, requireHTTPS bool) error {
	if err := outbound.CheckURL(u, requireHTTPS); err != nil {
		// CheckURL's messages are written for users and name the field.
		return Invalid("url", strings.TrimPrefix(err.Error(), "url: "))
	}
	// url.Parse lets bytes above ASCII through as they are.
	return checkText("url", u, false)
}

// CreateEndpoint is the input of Endpoints.Create.
type CreateEndpoint struct {
	// URL receives the webhooks: absolute http or https (https only
	// when the service requires it).
	URL string
	// Description is for people, at most MaxDescriptionLen characters.
	Description string
	// EventTypes filters what the endpoint receives: exact types,
	// prefixes such as "invoice.*", or "*"; empty means every type. At
	// most MaxEventTypes entries.
	EventTypes []string
	// Disabled creates the endpoint disabled (reason DisabledByUser).
	Disabled bool
	// RateLimitPerSecond and MaxConcurrency bound the requests hookd
	// makes to the endpoint, over all nodes; 0 means no limit.
	RateLimitPerSecond int
	MaxConcurrency     int
	// Ordered delivers the events of one ordering key one after another:
	// the next only once the one before it succeeded or failed for good.
	// Events without a key are not held up. Default false: no order.
	Ordered bool
}

// Validate checks the input, naming the field at fault. Create checks the
// URL again under the service's RequireHTTPS.
func (in CreateEndpoint) Validate() error { return in.validate(false) }

func (in CreateEndpoint) validate(requireHTTPS bool) error {
	if err := checkURL(in.URL, requireHTTPS); err != nil {
		return err
	}
	if err := checkDescription(in.Description); err != nil {
		return err
	}
	if err := checkLimits(&in.RateLimitPerSecond, &in.MaxConcurrency); err != nil {
		return err
	}
	return checkEventTypes("event_types", in.EventTypes)
}

// checkLimits checks the limits that are given (nil: not given).
func checkLimits(rate, concurrency *int) error {
	if rate != nil {
		if err := checkLimit("rate_limit_per_second", *rate, MaxRateLimit); err != nil {
			return err
		}
	}
	if concurrency != nil {
		return checkLimit("max_concurrency", *concurrency, MaxConcurrency)
	}
	return nil
}

// Create adds an endpoint to project projectID.
func (s *Endpoints) Create(ctx context.Context, projectID string, in CreateEndpoint) (Endpoint, error) {
	if err := in.validate(s.c.requireHTTPS); err != nil {
		return Endpoint{}, err
	}
	now := s.c.now()
	e := Endpoint{
		ID:          ids.New(ids.Endpoint, now),
		ProjectID:   projectID,
		URL:         in.URL,
		Description: in.Description,
		EventTypes:  in.EventTypes,
		Enabled:     !in.Disabled,
		CreatedAt:   now,
		UpdatedAt:   now,

		RateLimitPerSecond: in.RateLimitPerSecond,
		MaxConcurrency:     in.MaxConcurrency,
		Ordered:            in.Ordered,
	}
	if e.EventTypes == nil {
		e.EventTypes = []string{}
	}
	if in.Disabled {
		e.DisabledReason = DisabledByUser
	}
	if err := s.c.store.CreateEndpoint(ctx, e); err != nil {
		return Endpoint{}, translate(err, "project")
	}
	s.c.record(ctx, projectID, ActionEndpointCreated, e.ID, e.URL)
	return e, nil
}

// Get returns endpoint id of project projectID.
func (s *Endpoints) Get(ctx context.Context, projectID, id string) (Endpoint, error) {
	if !ids.Valid(ids.Endpoint, id) {
		return Endpoint{}, NotFound("endpoint")
	}
	e, err := s.c.store.GetEndpoint(ctx, projectID, id)
	return e, translate(err, "endpoint")
}

// List lists the endpoints of project projectID, oldest first.
func (s *Endpoints) List(ctx context.Context, projectID string, p Page) (List[Endpoint], error) {
	return list(p, ids.Endpoint, func(e Endpoint) string { return e.ID }, func(sp store.Page) ([]Endpoint, error) {
		return s.c.store.ListEndpoints(ctx, projectID, sp)
	})
}

// UpdateEndpoint is the input of Endpoints.Update: nil fields stay as
// they are.
type UpdateEndpoint struct {
	URL         *string   // as CreateEndpoint.URL
	Description *string   // as CreateEndpoint.Description
	EventTypes  *[]string // as CreateEndpoint.EventTypes
	// Enabled true enables the endpoint (clearing the reason it was
	// disabled); false disables it with reason DisabledByUser, or keeps
	// the reason of one already disabled (say by a 410 Gone), which tells
	// the user why. Disabling cancels its pending deliveries. Enabling a
	// disabled endpoint starts its health afresh.
	Enabled *bool
	// RateLimitPerSecond and MaxConcurrency as in CreateEndpoint.
	RateLimitPerSecond *int
	MaxConcurrency     *int
	// Ordered as in CreateEndpoint. Changing it applies to the deliveries
	// not finished yet: false lets those that wait for an earlier one of
	// their key go at once; true puts them in their keys' order.
	Ordered *bool
}

// Validate checks the fields that are set, naming the one at fault.
// Update checks the URL again under the service's RequireHTTPS.
func (in UpdateEndpoint) Validate() error { return in.validate(false) }

func (in UpdateEndpoint) validate(requireHTTPS bool) error {
	if in.URL != nil {
		if err := checkURL(*in.URL, requireHTTPS); err != nil {
			return err
		}
	}
	if in.Description != nil {
		if err := checkDescription(*in.Description); err != nil {
			return err
		}
	}
	if err := checkLimits(in.RateLimitPerSecond, in.MaxConcurrency); err != nil {
		return err
	}
	if in.EventTypes != nil {
		return checkEventTypes("event_types", *in.EventTypes)
	}
	return nil
}

// Update changes endpoint id of project projectID.
func (s *Endpoints) Update(ctx context.Context, projectID, id string, in UpdateEndpoint) (Endpoint, error) {
	e, err := s.Get(ctx, projectID, id)
	if err != nil {
		return Endpoint{}, err
	}
	if err := in.validate(s.c.requireHTTPS); err != nil {
		return Endpoint{}, err
	}
	if in == (UpdateEndpoint{}) {
		return e, nil
	}
	before := e
	if in.URL != nil {
		e.URL = *in.URL
	}
	if in.Description != nil {
		e.Description = *in.Description
	}
	if in.EventTypes != nil {
		e.EventTypes = *in.EventTypes
		if e.EventTypes == nil {
			e.EventTypes = []string{}
		}
	}
	if in.RateLimitPerSecond != nil {
		e.RateLimitPerSecond = *in.RateLimitPerSecond
	}
	if in.MaxConcurrency != nil {
		e.MaxConcurrency = *in.MaxConcurrency
	}
	if in.Ordered != nil {
		e.Ordered = *in.Ordered
	}
	if in.Enabled != nil {
		switch {
		case *in.Enabled:
			if !e.Enabled {
				e.Health = store.EndpointHealth{} // as the store does
			}
			e.Enabled, e.DisabledReason = true, ""
		case e.Enabled:
			e.Enabled, e.DisabledReason = false, DisabledByUser
		}
	}
	e.UpdatedAt = s.c.now()
	if err := s.c.store.UpdateEndpoint(ctx, e); err != nil {
		return Endpoint{}, translate(err, "endpoint")
	}
	s.recordUpdate(ctx, before, e)
	return e, nil
}

// recordUpdate records what an update changed: endpoint.updated naming
// the fields, and endpoint.enabled or endpoint.disabled when that changed.
// An update that changed nothing records nothing.
func (s *Endpoints) recordUpdate(ctx context.Context, before, after Endpoint) {
	var changed []string
	add := func(field string, differs bool) {
		if differs {
			changed = append(changed, field)
		}
	}
	add("url", before.URL != after.URL)
	add("description", before.Description != after.Description)
	add("event_types", !slices.Equal(before.EventTypes, after.EventTypes))
	add("rate_limit_per_second", before.RateLimitPerSecond != after.RateLimitPerSecond)
	add("max_concurrency", before.MaxConcurrency != after.MaxConcurrency)
	add("ordered", before.Ordered != after.Ordered)
	if len(changed) > 0 {
		s.c.record(ctx, after.ProjectID, ActionEndpointUpdated, after.ID, "changed "+strings.Join(changed, ", "))
	}
	switch {
	case after.Enabled && !before.Enabled:
		s.c.record(ctx, after.ProjectID, ActionEndpointEnabled, after.ID, "")
	case !after.Enabled && before.Enabled:
		s.c.record(ctx, after.ProjectID, ActionEndpointDisabled, after.ID, after.DisabledReason)
	}
}

// Enable enables endpoint id of project projectID.
func (s *Endpoints) Enable(ctx context.Context, projectID, id string) (Endpoint, error) {
	on := true
	return s.Update(ctx, projectID, id, UpdateEndpoint{Enabled: &on})
}

// Disable disables endpoint id of project projectID and cancels its
// pending deliveries.
func (s *Endpoints) Disable(ctx context.Context, projectID, id string) (Endpoint, error) {
	off := false
	return s.Update(ctx, projectID, id, UpdateEndpoint{Enabled: &off})
}

// Delete removes endpoint id of project projectID; its pending deliveries
// are cancelled, its log stays.
func (s *Endpoints) Delete(ctx context.Context, projectID, id string) error {
	if !ids.Valid(ids.Endpoint, id) {
		return NotFound("endpoint")
	}
	if err := s.c.store.DeleteEndpoint(ctx, projectID, id, s.c.now()); err != nil {
		return translate(err, "endpoint")
	}
	s.c.record(ctx, projectID, ActionEndpointDeleted, id, "")
	return nil
}

// TestSend is the input of Endpoints.Test.
type TestSend struct {
	// Type of the test event; TestEventType when empty.
	Type string
	// Data is a JSON object; an empty object when empty or null.
	Data json.RawMessage
}

// data is the checked, compact data of the test event.
func (in TestSend) data() ([]byte, error) {
	data := bytes.TrimSpace(in.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return []byte("{}"), nil
	}
	return checkData(data)
}

// Validate checks the input, naming the field at fault.
func (in TestSend) Validate() error {
	if in.Type != "" {
		if err := checkEventType("type", in.Type); err != nil {
			return err
		}
	}
	_, err := in.data()
	return err
}

// TestResult is what the receiver answered to a test event.
type TestResult struct {
	StatusCode   int // 0: no response
	Duration     time.Duration
	Error        string // why the attempt failed, for users; "" on 2xx
	ResponseBody string // truncated
}

// Test sends a signed test event to endpoint id of project projectID now,
// whether or not the endpoint is enabled or accepts the type. Nothing is
// stored: test events are not part of the event log. The body is built
// like a published event's. A Test honours the endpoint's rate and
// concurrency limits and the project's Test rate (Config.TestRate):
// beyond them it is CodeRateLimited with a RetryAfter.
func (s *Endpoints) Test(ctx context.Context, projectID, id string, in TestSend) (TestResult, error) {
	e, err := s.Get(ctx, projectID, id)
	if err != nil {
		return TestResult{}, err
	}
	if err := in.Validate(); err != nil {
		return TestResult{}, err
	}
	data, _ := in.data() // checked by Validate
	typ := in.Type
	if typ == "" {
		typ = TestEventType
	}
	done, err := s.takeTestSlot(ctx, e)
	if err != nil {
		return TestResult{}, err
	}
	r, err := s.c.tester.Test(ctx, projectID, e.URL, typ, data)
	done(s.c.clock.Now())
	if err != nil {
		return TestResult{}, translate(err, "secret")
	}
	return TestResult{StatusCode: r.StatusCode, Duration: r.Duration, Error: r.Err, ResponseBody: r.ResponseBody}, nil
}
