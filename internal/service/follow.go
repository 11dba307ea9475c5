package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/eventfeed"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// FollowEvents is the input of Events.OpenFollow.
type FollowEvents struct {
	// LastID resumes after this event id ("" follows from now on). Events
	// within a few seconds before it come again; the client drops the
	// ids it has seen.
	LastID string
	// Types filters like an endpoint's event_types: exact types,
	// prefixes such as "invoice.*", or "*"; empty means every type.
	Types []string
	// Key is the key the stream was opened with. The stream re-reads it
	// from the store before each read and at least every poll, and ends
	// when it is revoked (on any node, directly or not). A zero Key is
	// not checked.
	Key APIKey
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

// EventSink receives followed events (eventfeed.Sink).
type EventSink = eventfeed.Sink

var errNoFeed = &Error{Code: CodeNotFound, Message: "event streams are not served here"}

// StreamRetryAfter is what a stream refused for the open-stream limits
// asks the client to wait.
const StreamRetryAfter = 5 * time.Second

// Following is a stream OpenFollow opened: it holds one of the node's and
// the project's stream slots until Close.
type Following struct {
	s         *Events
	projectID string
	in        FollowEvents
	release   func()
	// accepted is when OpenFollow accepted the stream: a new client gets
	// the events published from then on, though Follow starts later.
	accepted time.Time
}

// OpenFollow checks in and takes one of the node's and the project's
// stream slots: nil and the error a front end answers with before it
// commits to a streaming answer (CodeRateLimited beyond the limits).
// The caller runs Follow on the result, then Closes it.
func (s *Events) OpenFollow(projectID string, in FollowEvents) (*Following, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if s.c.feed == nil {
		return nil, errNoFeed
	}
	release, err := s.c.feed.Acquire(projectID)
	if err != nil {
		node, project := s.c.feed.Limits()
		msg := fmt.Sprintf("too many open event streams on this server (its limit is %d); try again later", node)
		if errors.Is(err, eventfeed.ErrTooManyProjectStreams) {
			msg = fmt.Sprintf("too many open event streams for this project (its limit is %d); close one or try again later", project)
		}
		return nil, &Error{Code: CodeRateLimited, Message: msg, RetryAfter: StreamRetryAfter}
	}
	return &Following{s: s, projectID: projectID, in: in, release: release, accepted: s.c.now()}, nil
}

// Close gives the stream's slot back.
func (f *Following) Close() { f.release() }

// Follow sends the project's events to sink as they are published, on
// any node, until ctx ends or sink fails. It returns nil when the client
// left (ctx ended), the sink's error when it failed, CodeUnauthenticated
// when the stream's key was revoked, and CodeUnavailable when the server
// is shutting down.
func (f *Following) Follow(ctx context.Context, sink EventSink) error {
	accept := store.Endpoint{EventTypes: f.in.Types}.Accepts
	p := eventfeed.Params{ProjectID: f.projectID, LastID: f.in.LastID, Since: f.accepted, Accept: accept}
	if len(f.in.Key.Hash) > 0 {
		p.Check = func(ctx context.Context) error { return f.s.c.recheckKey(ctx, f.in.Key) }
	}
	err := f.s.c.feed.Follow(ctx, p, sink)
	switch {
	case errors.Is(err, eventfeed.ErrClosed):
		return errShuttingDown
	case ctx.Err() != nil:
		return nil
	}
	return translate(err, "project")
}
