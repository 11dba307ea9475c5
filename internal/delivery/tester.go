package delivery

import (
	"context"
	"encoding/json"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/eventbody"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/outbound"
)

// Tester sends a signed test event to one endpoint now. Nothing is stored:
// test events are not part of the event log.
type Tester struct {
	Keys   *Keys
	Sender Sender
	Clock  clock.Clock
}

// Test sends a test event of eventType with data (a JSON object; the
// caller has checked both) to url, signed with projectID's secrets.
func (t *Tester) Test(ctx context.Context, projectID, url, eventType string, data json.RawMessage) (outbound.Result, error) {
	now := t.Clock.Now()
	id := ids.New(ids.Event, now)
	// The same builder as for published events: a test sends the bytes a
	// real delivery of this data would.
	body, err := eventbody.Build(id, eventType, now, data)
	if err != nil {
		return outbound.Result{}, err
	}
	signer, err := t.Keys.Signer(ctx, projectID, now)
	if err != nil {
		return outbound.Result{}, err
	}
	return t.Sender.Send(ctx, outbound.Request{URL: url, Body: body, Header: signer.Headers(id, now, body)}), nil
}
