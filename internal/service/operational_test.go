package service_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/service"
)

// TestOperationalEvents: publishers cannot use hookd's own event types;
// hookd's operational events reach the project's other endpoints whose
// filter names them (not those with no filter or "*", which get the
// project's own events only), never the one they are about, and are in the
// log like any event.
func TestOperationalEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid := e.project("acme")
	_, err := e.svc.Events.Publish(ctx, pid, service.PublishEvent{Type: "hookd.endpoint.failing", Data: []byte(`{}`)})
	wantError(t, err, service.CodeInvalidArgument, "type")

	subject, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "https://a.example/h", EventTypes: []string{"hookd.*"}})
	if err != nil {
		t.Fatal(err)
	}
	watcher, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "https://b.example/h", EventTypes: []string{"hookd.endpoint.*"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, types := range [][]string{{"invoice.*"}, nil, {"*"}} {
		if _, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "https://c.example/h", EventTypes: types}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := e.svc.Events.PublishOperational(ctx, pid, subject.ID, "hookd.endpoint.failing", []byte(`{"endpoint_id":"`+subject.ID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, d := range out.Deliveries {
		to = append(to, d.EndpointID)
	}
	if !slices.Equal(to, []string{watcher.ID}) {
		t.Fatalf("delivered to %v, want only %s (not the subject %s)", to, watcher.ID, subject.ID)
	}
	got, err := e.svc.Events.Get(ctx, pid, out.Event.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != "hookd.endpoint.failing" || !strings.Contains(string(got.Body), `"data":{"endpoint_id":"`+subject.ID+`"}`) {
		t.Fatalf("logged event %s %s", got.Type, got.Body)
	}
	if _, err := e.svc.Events.PublishOperational(ctx, pid, subject.ID, "invoice.paid", []byte(`{}`)); err == nil {
		t.Fatal("an operational event of a publisher's type was accepted")
	}
}
