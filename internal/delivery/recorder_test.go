package delivery_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
)

// TestRecorderRetriesOnInjectedClock: while the database is down, the
// recorder tries a batch again after a backoff on the injected clock — the
// test moves the clock, nothing sleeps — and records it once the database
// is back. Stop returns once it is written.
func TestRecorderRetriesOnInjectedClock(t *testing.T) {
	ctx := context.Background()
	srv, err := pgtest.Start(ctx, t.TempDir())
	if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	url, err := srv.CreateDatabase(ctx, "recorder")
	if err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	pid, ep := ids.New(ids.Project, t0), ids.New(ids.Endpoint, t0)
	if err := db.CreateProject(ctx, store.Project{ID: pid, Name: "p", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateEndpoint(ctx, store.Endpoint{ID: ep, ProjectID: pid, URL: "https://receiver.example/", Enabled: true,
		CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	evID := ids.New(ids.Event, t0)
	ev := store.Event{ID: evID, ProjectID: pid, Type: "t.a", Body: []byte(`{}`), CreatedAt: t0}
	if _, err := db.Publish(ctx, []store.Event{ev}, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	claimed, err := db.Claim(ctx, store.ClaimParams{Now: t0, Limit: 1, Lease: time.Hour, Owner: "test"})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("Claim = %d, %v", len(claimed), err)
	}
	d := claimed[0].Delivery

	clk := clock.NewFake(t0)
	rec, err := delivery.NewRecorder(delivery.RecorderConfig{Store: db, Clock: clk,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rec.Start()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	rec.Add(store.Succeeded(d, store.Attempt{Number: 1, StartedAt: t0, Duration: time.Millisecond, StatusCode: 200}, t0))

	// Each failed try waits on the clock: moving it lets the next one go.
	waitForWaiter := func(what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for clk.Waiters() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the recorder never waited %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitForWaiter("after the first failed try")
	clk.Advance(50 * time.Millisecond)
	waitForWaiter("after the second failed try")
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// Until it is recorded, let every wait end (the first try after the
	// restart may still find the old connections dead).
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := db.GetDelivery(ctx, pid, d.ID)
		if err == nil && got.Status == store.StatusSucceeded {
			if got.AttemptCount != 1 {
				t.Errorf("recorded with %d attempts, want 1", got.AttemptCount)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not recorded after the database came back: %+v, %v", got, err)
		}
		if clk.Waiters() > 0 {
			clk.Advance(recordMaxBackoff)
		}
		time.Sleep(time.Millisecond)
	}
	if err := rec.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// recordMaxBackoff is at least the recorder's longest wait between tries.
const recordMaxBackoff = 5 * time.Second
