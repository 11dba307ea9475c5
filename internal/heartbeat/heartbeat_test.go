package heartbeat_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/heartbeat"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
)

var (
	base  = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
)

func open(t *testing.T, path string) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// claimedBy publishes one event to a new endpoint and claims its delivery
// for node, with a lease far longer than any test waits.
func claimedBy(t *testing.T, s store.Store, node string, now time.Time) (projectID, deliveryID string) {
	t.Helper()
	ctx := context.Background()
	p := store.Project{ID: ids.New(ids.Project, now), Name: "p", CreatedAt: now}
	e := store.Endpoint{ID: ids.New(ids.Endpoint, now), ProjectID: p.ID, URL: "https://receiver.example/",
		Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	ev := store.Event{ID: ids.New(ids.Event, now), ProjectID: p.ID, Type: "t", Body: []byte(`{}`), CreatedAt: now}
	res, err := s.Publish(ctx, []store.Event{ev}, time.Time{}, &store.DirectClaim{
		Now: now, Lease: time.Hour, Owner: node, Take: func(string) bool { return true },
	})
	if err != nil || len(res[0].Claimed) != 1 {
		t.Fatalf("publish claimed: %v %+v", err, res)
	}
	return p.ID, res[0].Claimed[0].Delivery.ID
}

// TestRestartedProcessTakesOver: a SQLite process dies holding a claim (a
// one-hour lease); the process started after it on the same file has a new
// node id and sends that delivery once the dead one has been silent for
// DefaultSilence, not after the hour.
func TestRestartedProcessTakesOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookd.db")
	clk := clock.NewFake(base)
	dead := open(t, path)
	old, err := heartbeat.New(heartbeat.Config{Store: dead, Node: "node-old", Clock: clk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Beat(context.Background()); err != nil {
		t.Fatal(err)
	}
	projectID, id := claimedBy(t, dead, "node-old", base)
	dead.Close() // killed: no Leave

	s := open(t, path)
	var woken int
	b, err := heartbeat.New(heartbeat.Config{Store: s, Node: "node-new", Clock: clk, Logger: quiet,
		Released: func(n int) { woken += n }})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Second) // restarted quickly
	if n, err := b.Beat(context.Background()); err != nil || n != 0 {
		t.Fatalf("beat 5 s after the crash released %d (%v), want 0: the old node may still be alive", n, err)
	}
	clk.Advance(heartbeat.DefaultSilence - 4*time.Second)
	n, err := b.Beat(context.Background())
	if err != nil || n != 1 || woken != 1 {
		t.Fatalf("beat %v after the crash released %d (%v), callback told %d; want 1", heartbeat.DefaultSilence+time.Second, n, err, woken)
	}
	d, err := s.GetDelivery(context.Background(), projectID, id)
	if err != nil || d.Status != store.StatusPending || !d.NextAttemptAt.Equal(clk.Now()) {
		t.Fatalf("released delivery: %+v %v; want pending, due now", d, err)
	}
	c, err := s.Claim(context.Background(), store.ClaimParams{Now: clk.Now(), Limit: 10, Lease: time.Hour, Owner: "node-new"})
	if err != nil || len(c) != 1 || c[0].Delivery.ID != id {
		t.Fatalf("claim after the release: %v %v", c, err)
	}
}

// TestRunBeatsUntilStopped: Run beats at once and at every tick, keeping the
// node's claims its own; a node that left is not silent.
func TestRunBeatsUntilStopped(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "hookd.db"))
	clk := clock.NewFake(base)
	tick := make(chan time.Time)
	b, err := heartbeat.New(heartbeat.Config{Store: s, Node: "a", Clock: clk, Logger: quiet,
		After: func(d time.Duration) <-chan time.Time {
			if d != heartbeat.DefaultInterval {
				t.Errorf("waits %v between beats, want %v", d, heartbeat.DefaultInterval)
			}
			return tick
		}})
	if err != nil {
		t.Fatal(err)
	}
	claimedBy(t, s, "a", base)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.Run(ctx) }()
	for range 10 {
		clk.Advance(heartbeat.DefaultInterval)
		tick <- clk.Now() // received only once the previous beat is done
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The last beat that surely ran was at base+27s (the one after the
	// last tick may have met the cancelled context); another node looking
	// 14 s after it finds a live node.
	clk.Set(base.Add(41 * time.Second))
	other, _ := heartbeat.New(heartbeat.Config{Store: s, Node: "b", Clock: clk, Logger: quiet})
	if n, err := other.Beat(context.Background()); err != nil || n != 0 {
		t.Fatalf("another node released %d (%v) of a node beating every %v", n, err, heartbeat.DefaultInterval)
	}
	if err := b.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if n, err := other.Beat(context.Background()); err != nil || n != 0 {
		t.Fatalf("released %d (%v) of a node that left; its claims wait for their lease", n, err)
	}
}
