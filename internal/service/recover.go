package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/store"
)

var errRecoverDisabled = &Error{Code: CodeConflict,
	Message: "the endpoint is disabled, and would cancel what is resent; enable it with recover_since to do both"}

// Recovered is what Recover (and an enable with recover_since) did.
type Recovered struct {
	// Resent: deliveries that had failed, or were cancelled by a disable,
	// made pending again (the same deliveries, the same event ids).
	Resent int
	// Replayed: events published while the endpoint was disabled, which
	// its filter accepts, now delivered to it as new deliveries.
	Replayed int
	// Held: the endpoint's deliveries its open breaker still holds (at
	// most maxHeldCount), and HeldUntil its next probe; zero when closed.
	Held      int
	HeldUntil time.Time
}

// Total is how many deliveries go out because of the recovery.
func (r Recovered) Total() int { return r.Resent + r.Replayed }

// maxHeldCount bounds the count of held deliveries a recovery reports.
const maxHeldCount = 10000

// replayPage is how many events one replay step reads (ids and types
// only) and gives deliveries in one write transaction.
const replayPage = 500

// Recover resends every delivery of endpoint id (of project projectID)
// that failed, or was cancelled by a disable, at or after since: the same
// deliveries with the same event ids, so receivers that processed one
// already recognise it. It also delivers the events published since then
// while the endpoint was disabled ("replay missing"). The endpoint must
// be enabled.
func (s *Endpoints) Recover(ctx context.Context, projectID, id string, since time.Time) (Recovered, error) {
	if err := s.checkSince("since", since); err != nil {
		return Recovered{}, err
	}
	e, err := s.Get(ctx, projectID, id)
	if err != nil {
		return Recovered{}, err
	}
	if !e.Enabled {
		return Recovered{}, errRecoverDisabled
	}
	return s.recover(ctx, e, since)
}

// UpdateAndRecover is Update followed by Recover since recoverSince, in
// one call: how an endpoint that was down comes back with what it missed.
// The update must leave the endpoint enabled.
func (s *Endpoints) UpdateAndRecover(ctx context.Context, projectID, id string, in UpdateEndpoint, recoverSince time.Time) (Endpoint, Recovered, error) {
	if err := s.checkSince("recover_since", recoverSince); err != nil {
		return Endpoint{}, Recovered{}, err
	}
	e, err := s.Get(ctx, projectID, id)
	if err != nil {
		return Endpoint{}, Recovered{}, err
	}
	enabled := e.Enabled
	if in.Enabled != nil {
		enabled = *in.Enabled
	}
	if !enabled {
		return Endpoint{}, Recovered{}, Invalid("recover_since", "needs the endpoint enabled: send \"enabled\": true with it")
	}
	e, err = s.Update(ctx, projectID, id, in)
	if err != nil {
		return Endpoint{}, Recovered{}, err
	}
	r, err := s.recover(ctx, e, recoverSince)
	return e, r, err
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

func (s *Endpoints) recover(ctx context.Context, e Endpoint, since time.Time) (Recovered, error) {
	since = since.UTC()
	now := s.c.now()
	var r Recovered
	var err error
	r.Resent, err = s.c.store.RecoverDeliveries(ctx, e.ProjectID, e.ID, since, now)
	if err != nil {
		return Recovered{}, translate(err, "endpoint")
	}
	r.Replayed, err = s.replayMissing(ctx, e, since, now)
	if err != nil {
		return Recovered{}, translate(err, "endpoint")
	}
	if r.Total() > 0 {
		s.c.wake()
	}
	// What the breaker still holds: read the endpoint again, as an enable
	// in this call closed its breaker and another node may have opened it.
	if cur, err := s.c.store.GetEndpoint(ctx, e.ProjectID, e.ID); err == nil && cur.Health.BreakerOpen() {
		r.HeldUntil = cur.Health.ProbeAt
		held, _, err := s.c.store.RetryDeliveries(ctx, e.ProjectID, store.DeliveryFilter{EndpointID: e.ID,
			Hold: store.HoldFilter{At: now, Held: true}}, maxHeldCount, now, true)
		if err != nil {
			return Recovered{}, translate(err, "endpoint")
		}
		r.Held = min(held, maxHeldCount)
	}
	detail := fmt.Sprintf("%d resent, of those failed or cancelled since %s; %d replayed, of the events published while it was disabled",
		r.Resent, since.Format(time.RFC3339), r.Replayed)
	if r.Held > 0 {
		detail += fmt.Sprintf("; %d held by its breaker until %s", r.Held, r.HeldUntil.Format(time.RFC3339))
	}
	s.c.record(ctx, e.ProjectID, ActionEndpointRecovered, e.ID, detail)
	return r, nil
}

// replayMissing gives endpoint e a delivery of every event published
// since while it was disabled that its filter accepts now. Operational
// events (hookd.*) are not replayed: they told of a state that has passed.
// Events are read a page at a time, ids and types only, newest first
// within each span; AddDeliveries skips any event that has a delivery to
// e already, so a second recovery replays nothing twice.
func (s *Endpoints) replayMissing(ctx context.Context, e Endpoint, since, now time.Time) (int, error) {
	spans, err := s.c.store.DisabledSpans(ctx, e.ID, since)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, sp := range spans {
		from := latest(sp.From, since, e.CreatedAt)
		until := sp.Until
		if until.IsZero() || until.After(now) {
			until = now
		}
		if from.After(until) {
			continue
		}
		after := ""
		for {
			refs, err := s.c.store.ListEventRefs(ctx, e.ProjectID, from, until, after, replayPage)
			if err != nil {
				return total, err
			}
			var want []string
			for _, ref := range refs {
				if e.Accepts(ref.Type) && !strings.HasPrefix(ref.Type, store.OperationalPrefix) {
					want = append(want, ref.ID)
				}
			}
			if len(want) > 0 {
				n, err := s.c.store.AddDeliveries(ctx, e.ProjectID, e.ID, want, now)
				if err != nil {
					return total, err
				}
				total += n
			}
			if len(refs) < replayPage {
				break
			}
			after = refs[len(refs)-1].ID
		}
	}
	return total, nil
}

func latest(ts ...time.Time) time.Time {
	var t time.Time
	for _, x := range ts {
		if x.After(t) {
			t = x
		}
	}
	return t
}
