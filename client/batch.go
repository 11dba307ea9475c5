package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// MaxBatch is the most events one PublishBatch call sends (the API's limit).
const MaxBatch = 100

// BatchResult is what became of one event of PublishBatch: the stored event,
// or the error the API answered for it (one bad event does not fail the others).
type BatchResult struct {
	Event *PublishedEvent
	Err   error
}

// PublishBatch publishes up to MaxBatch events in one request, stored in one
// transaction: fewer round trips, and hookd's CPU per event falls by half at 10
// and more at 100 (BENCHMARKS.md). The results are in the order of events. Each
// event gets an idempotency key (its own, or one made here, as Publish does), so
// the whole request is retried on network errors, 429 and 503, and the events
// the API answered 429 or 503 are sent again on their own, all under ctx's
// deadline and the client's retry policy, without ever storing an event twice.
// The error is for the call as a whole (a malformed batch, a wrong key); the
// events' own errors are in their results.
func (c *Client) PublishBatch(ctx context.Context, projectID string, events []Event) ([]BatchResult, error) {
	if len(events) == 0 || len(events) > MaxBatch {
		return nil, fmt.Errorf("client: PublishBatch takes 1 to %d events, got %d", MaxBatch, len(events))
	}
	type wire struct {
		Type           string          `json:"type"`
		Data           json.RawMessage `json:"data"`
		IdempotencyKey string          `json:"idempotency_key"`
		OrderingKey    string          `json:"ordering_key,omitempty"`
	}
	all := make([]wire, len(events))
	for i, ev := range events {
		data, err := json.Marshal(ev.Data)
		if err != nil {
			return nil, fmt.Errorf("client: event %d: %w", i, err)
		}
		key := ev.IdempotencyKey
		if key == "" {
			key = NewIdempotencyKey()
		}
		all[i] = wire{ev.Type, data, key, ev.OrderingKey}
	}
	results := make([]BatchResult, len(events))
	pending := make([]int, len(events)) // indexes still to send
	for i := range pending {
		pending[i] = i
	}
	for try := 0; ; try++ {
		body := struct {
			Events []wire `json:"events"`
		}{make([]wire, len(pending))}
		for j, i := range pending {
			body.Events[j] = all[i]
		}
		var out struct {
			Items []struct {
				Status   int             `json:"status"`
				Event    *PublishedEvent `json:"event"`
				Replayed bool            `json:"replayed"`
				Error    *struct {
					Code, Message string
				} `json:"error"`
			} `json:"items"`
		}
		if _, err := c.do(ctx, request{method: "POST", path: projectPath(projectID, "events", "batch"), body: body, retry: true}, &out); err != nil {
			return nil, err
		}
		if len(out.Items) != len(pending) {
			return nil, fmt.Errorf("client: the API answered %d items for a batch of %d", len(out.Items), len(pending))
		}
		var again []int
		var lastErr error
		for j, it := range out.Items {
			i := pending[j]
			if it.Error == nil && it.Event != nil {
				it.Event.IdempotencyKey, it.Event.Replayed = all[i].IdempotencyKey, it.Replayed
				results[i] = BatchResult{Event: it.Event}
				continue
			}
			e := &Error{StatusCode: it.Status}
			if it.Error != nil {
				e.Code, e.Message = it.Error.Code, it.Error.Message
			}
			results[i] = BatchResult{Err: e}
			if e.Temporary() {
				again = append(again, i)
				lastErr = e
			}
		}
		if len(again) == 0 || try+1 >= c.maxAttempts {
			return results, nil
		}
		wait := c.backoff(try+1, lastErr)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return results, nil // the deadline would end the wait: those keep their 429/503
		}
		select {
		case <-ctx.Done():
			return results, nil
		case <-c.after(wait):
		}
		pending = again
	}
}
