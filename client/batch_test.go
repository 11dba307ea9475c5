package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/hookd/hookd/client"
)

// PublishBatch: one request for many events, results in order, one bad event
// failing alone; the answer lost after hookd stored the batch, the retry gets
// the same events back (each has its idempotency key), never a second copy.
func TestPublishBatch(t *testing.T) {
	t.Parallel()
	h := startHookd(t)
	fa := &fakeAfter{}
	c := h.client(t, client.WithAfter(fa.after))
	ctx := context.Background()
	before := h.eventCount()
	res, err := c.PublishBatch(ctx, h.project, []client.Event{
		{Type: "order.created", Data: map[string]int{"n": 1}},
		{Type: "hookd.forged", Data: map[string]int{"n": 2}}, // reserved prefix: refused
		{Type: "order.paid", Data: map[string]int{"n": 3}, IdempotencyKey: "order-3-paid"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var e *client.Error
	if len(res) != 3 || res[0].Err != nil || res[0].Event.Type != "order.created" ||
		!errors.As(res[1].Err, &e) || e.StatusCode != http.StatusBadRequest || res[1].Event != nil ||
		res[2].Err != nil || res[2].Event.Type != "order.paid" || res[2].Event.IdempotencyKey != "order-3-paid" {
		t.Fatalf("results %+v", res)
	}
	if n := h.eventCount() - before; n != 2 {
		t.Fatalf("%d events stored, want the 2 valid ones", n)
	}

	// The answer is lost after hookd stored the batch: one retry, the same events.
	h.inject(fault{drop: true})
	again, err := c.PublishBatch(ctx, h.project, []client.Event{{Type: "a.b", Data: map[string]int{"n": 4}}, {Type: "a.c", Data: map[string]int{"n": 5}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := h.eventCount() - before; n != 4 {
		t.Fatalf("%d events stored after a lost answer and its retry, want 4 (not 6)", n)
	}
	for _, r := range again {
		if r.Err != nil || !r.Event.Replayed {
			t.Fatalf("after the lost answer: %+v, want each event back as a replay", r)
		}
	}

	// A 503 for the whole request is retried after Retry-After.
	h.inject(fault{status: 503, retryAfter: "2"})
	if res, err := c.PublishBatch(ctx, h.project, []client.Event{{Type: "a.d", Data: map[string]int{"n": 6}}}); err != nil || res[0].Err != nil {
		t.Fatalf("after a 503: %+v, %v", res, err)
	}
	if n := h.eventCount() - before; n != 5 {
		t.Fatalf("%d events stored, want 5", n)
	}

	if _, err := c.PublishBatch(ctx, h.project, nil); err == nil {
		t.Error("an empty batch was sent")
	}
	if _, err := c.PublishBatch(ctx, h.project, make([]client.Event, client.MaxBatch+1)); err == nil {
		t.Error("a batch over MaxBatch was sent")
	}
}
