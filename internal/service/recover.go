package service

import (
	"context"
	"fmt"
	"time"
)

var errRecoverDisabled = &Error{Code: CodeConflict,
	Message: "the endpoint is disabled, and would cancel what is resent; enable it with recover_since to do both"}

// Recover resends every delivery of endpoint id (of project projectID)
// that failed, or was cancelled by a disable, at or after since: the same
// deliveries with the same event ids, so receivers that processed one
// already recognise it. It returns how many it resent. The endpoint must
// be enabled.
func (s *Endpoints) Recover(ctx context.Context, projectID, id string, since time.Time) (int, error) {
	if err := s.checkSince("since", since); err != nil {
		return 0, err
	}
	e, err := s.Get(ctx, projectID, id)
	if err != nil {
		return 0, err
	}
	if !e.Enabled {
		return 0, errRecoverDisabled
	}
	return s.recover(ctx, e, since)
}

// UpdateAndRecover is Update followed by Recover since recoverSince, in
// one call: how an endpoint that was down comes back with what it missed.
// The update must leave the endpoint enabled.
func (s *Endpoints) UpdateAndRecover(ctx context.Context, projectID, id string, in UpdateEndpoint, recoverSince time.Time) (Endpoint, int, error) {
	if err := s.checkSince("recover_since", recoverSince); err != nil {
		return Endpoint{}, 0, err
	}
	e, err := s.Get(ctx, projectID, id)
	if err != nil {
		return Endpoint{}, 0, err
	}
	enabled := e.Enabled
	if in.Enabled != nil {
		enabled = *in.Enabled
	}
	if !enabled {
		return Endpoint{}, 0, Invalid("recover_since", "needs the endpoint enabled: send \"enabled\": true with it")
	}
	e, err = s.Update(ctx, projectID, id, in)
	if err != nil {
		return Endpoint{}, 0, err
	}
	n, err := s.recover(ctx, e, recoverSince)
	return e, n, err
}

func (s *Endpoints) checkSince(field string, since time.Time) error {
	// The zero time is year 1, which a client may send as well as leave
	// out: every time before 1970 gets the one answer.
	if since.Before(time.Unix(0, 0)) {
		return Invalid(field, "is required: an RFC 3339 time from 1970 on, such as 2026-11-26T12:00:00Z")
	}
	if since.After(s.c.now()) {
		return Invalid(field, "must not be in the future")
	}
	return nil
}

func (s *Endpoints) recover(ctx context.Context, e Endpoint, since time.Time) (int, error) {
	n, err := s.c.store.RecoverDeliveries(ctx, e.ProjectID, e.ID, since.UTC(), s.c.now())
	if err != nil {
		return 0, translate(err, "endpoint")
	}
	s.c.record(ctx, e.ProjectID, ActionEndpointRecovered, e.ID,
		fmt.Sprintf("%d resent, of those failed or cancelled since %s", n, since.UTC().Format(time.RFC3339)))
	if n > 0 {
		s.c.wake()
	}
	return n, nil
}
