package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/hookd/hookd/client"
)

// The examples need a running hookd; HOOKD_URL, HOOKD_KEY and HOOKD_PROJECT name it.

func ExampleNew() {
	c, err := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"),
		client.WithRetry(5, 200*time.Millisecond, 5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	_ = c
}

// Publish answers once the event is stored. Retries (network errors, 429, 503)
// reuse one idempotency key, so they never store a second event; the context's
// deadline bounds them.
func ExampleClient_Publish() {
	c, _ := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := c.Publish(ctx, os.Getenv("HOOKD_PROJECT"), client.Event{
		Type:           "invoice.paid",
		Data:           map[string]any{"invoice": "in_123", "amount": 4200},
		IdempotencyKey: "invoice-in_123-paid", // optional: made up when empty
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.ID, len(ev.Deliveries), "deliveries")
}

// Errors the API answered are *client.Error.
func ExampleError() {
	c, _ := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"))
	_, err := c.Publish(context.Background(), os.Getenv("HOOKD_PROJECT"), client.Event{Type: "", Data: map[string]any{}})
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.StatusCode, e.Code, e.Message) // 400 invalid_argument type: …
	}
}

func ExampleClient_CreateEndpoint() {
	c, _ := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"))
	ep, err := c.CreateEndpoint(context.Background(), os.Getenv("HOOKD_PROJECT"), client.NewEndpoint{
		URL:        "https://billing.example/webhooks",
		EventTypes: []string{"invoice.*"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ep.ID, ep.Enabled)
}

func ExampleClient_UpdateEndpoint() {
	c, _ := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"))
	off := false
	if _, err := c.UpdateEndpoint(context.Background(), os.Getenv("HOOKD_PROJECT"), "ep_…", client.EndpointUpdate{Enabled: &off}); err != nil {
		log.Fatal(err)
	}
}

// A back-office job walks every endpoint and reports the failing ones.
func ExampleClient_ListEndpoints() {
	c, _ := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"))
	ctx := context.Background()
	page := client.Page{Limit: 100}
	for {
		l, err := c.ListEndpoints(ctx, os.Getenv("HOOKD_PROJECT"), page)
		if err != nil {
			log.Fatal(err)
		}
		for _, ep := range l.Items {
			if ep.FailingSince != nil || !ep.Enabled {
				fmt.Println(ep.URL, ep.Breaker, ep.DisabledReason)
			}
		}
		if l.NextCursor == "" {
			break
		}
		page.Cursor = l.NextCursor
	}
}

func ExampleClient_GetEndpoint() {
	c, _ := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"))
	ep, err := c.GetEndpoint(context.Background(), os.Getenv("HOOKD_PROJECT"), "ep_…")
	if client.IsNotFound(err) {
		fmt.Println("gone")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ep.Breaker, ep.ConsecutiveFailures)
}

func ExampleClient_DeleteEndpoint() {
	c, _ := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"))
	if err := c.DeleteEndpoint(context.Background(), os.Getenv("HOOKD_PROJECT"), "ep_…"); err != nil && !client.IsNotFound(err) {
		log.Fatal(err)
	}
}

// The deliveries that failed for good in the last day, with why.
func ExampleClient_ListDeliveries() {
	c, _ := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"))
	l, err := c.ListDeliveries(context.Background(), os.Getenv("HOOKD_PROJECT"), client.DeliveryFilter{
		Status: "failed",
		Since:  time.Now().Add(-24 * time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range l.Items {
		fmt.Println(d.ID, d.EventType, d.LastStatusCode, d.LastError)
	}
}

func ExampleClient_GetDelivery() {
	c, _ := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"))
	d, err := c.GetDelivery(context.Background(), os.Getenv("HOOKD_PROJECT"), "dlv_…")
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range d.Attempts {
		fmt.Println(a.Number, a.StatusCode, a.Error)
	}
}

func ExampleClient_RetryDelivery() {
	c, _ := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"))
	d, err := c.RetryDelivery(context.Background(), os.Getenv("HOOKD_PROJECT"), "dlv_…")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Status)
}

// After a receiver's outage, its endpoint enabled again: resend what failed
// since the outage began, and send what was published while it was disabled.
func ExampleClient_RecoverEndpoint() {
	c, _ := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"))
	outageBegan := time.Date(2026, 11, 26, 9, 14, 0, 0, time.UTC)
	rec, err := c.RecoverEndpoint(context.Background(), os.Getenv("HOOKD_PROJECT"), "ep_…", outageBegan)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("resent", rec.Resent, "replayed", rec.Replayed)
	if rec.Held > 0 {
		fmt.Println(rec.Held, "held by the breaker until", rec.HeldUntil)
	}
}

// Publish a day's invoices in batches of up to 100: one request and one
// transaction each. An event the API refused is reported on its own.
func ExampleClient_PublishBatch() {
	c, _ := client.New(os.Getenv("HOOKD_URL"), os.Getenv("HOOKD_KEY"))
	events := []client.Event{
		{Type: "invoice.paid", Data: map[string]any{"invoice": "in_1"}, IdempotencyKey: "in_1-paid"},
		{Type: "invoice.paid", Data: map[string]any{"invoice": "in_2"}, IdempotencyKey: "in_2-paid"},
	}
	results, err := c.PublishBatch(context.Background(), os.Getenv("HOOKD_PROJECT"), events)
	if err != nil {
		log.Fatal(err)
	}
	for i, r := range results {
		if r.Err != nil {
			log.Printf("event %d: %v", i, r.Err)
			continue
		}
		fmt.Println("published", r.Event.ID)
	}
}
