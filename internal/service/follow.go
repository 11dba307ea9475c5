package service

import (
	"context"
	"errors"

	"github.com/hookd/hookd/internal/eventfeed"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// FollowEvents is the input of Events.Follow.
type FollowEvents struct {
	// LastID resumes after this event id ("" follows from now on). Events
	// within a few seconds before it come again; the client drops the
	// ids it has seen.
	LastID string
	// Types filters like an endpoint's event_types: exact types,
	// prefixes such as "invoice.*", or "*"; empty means every type.
	Types []string
}

// Validate checks the input, naming the field at fault.
func (in FollowEvents) Validate() error {
	if err := checkEventTypes("types", in.Types); err != nil {
		return err
	}
	if in.LastID != "" && !ids.Valid(ids.Event, in.LastID) {
		return Invalid("Last-Event-ID", "must be an event id evt_…")
	}
	return nil
}

// CheckFollow tells whether Follow would start with in: nil, or the error
// it would return before sending anything. A front end asks before it
// commits to a streaming answer.
func (s *Events) CheckFollow(in FollowEvents) error {
	if err := in.Validate(); err != nil {
		return err
	}
	if s.c.feed == nil {
		return errNoFeed
	}
	return nil
}

// EventSink receives followed events (eventfeed.Sink).
type EventSink = eventfeed.Sink

var errNoFeed = &Error{Code: CodeNotFound, Message: "event streams are not served here"}

// Follow sends project projectID's events to sink as they are published,
// on any node, until ctx ends or sink fails. It returns a validation
// error before sending anything; once following, it returns nil when the
// client or the server ends the stream.
func (s *Events) Follow(ctx context.Context, projectID string, in FollowEvents, sink EventSink) error {
	if err := s.CheckFollow(in); err != nil {
		return err
	}
	accept := store.Endpoint{EventTypes: in.Types}.Accepts
	err := s.c.feed.Follow(ctx, eventfeed.Params{ProjectID: projectID, LastID: in.LastID, Accept: accept}, sink)
	if ctx.Err() != nil || errors.Is(err, eventfeed.ErrClosed) {
		return nil
	}
	return translate(err, "project")
}
