package delivery

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/outbound"
)

// TestEventType is the type of the events the Test button sends.
const TestEventType = "webhook.test"

// Tester sends a signed test event to one endpoint now. Nothing is stored:
// test events are not part of the event log.
type Tester struct {
	Keys   *Keys
	Sender Sender
	Clock  clock.Clock
}

// Test sends a test event of eventType (TestEventType when empty) with data
// (an empty object when nil) to url, signed with projectID's secrets.
func (t *Tester) Test(ctx context.Context, projectID, url, eventType string, data json.RawMessage) (outbound.Result, error) {
	now := t.Clock.Now()
	if eventType == "" {
		eventType = TestEventType
	}
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	id := ids.New(ids.Event, now)
	body, err := json.Marshal(struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{id, eventType, now.Format(time.RFC3339), data})
	if err != nil {
		return outbound.Result{}, err
	}
	signer, err := t.Keys.Signer(ctx, projectID, now)
	if err != nil {
		return outbound.Result{}, err
	}
	return t.Sender.Send(ctx, outbound.Request{URL: url, Body: body, Header: signer.Headers(id, now, body)}), nil
}
