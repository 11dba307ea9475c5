package main

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/pgtest"
)

// TestPostgresRestart stops PostgreSQL under two running hookd nodes while
// events are published and delivered. While the database is down the API
// answers 503 (never 500); once it is back the nodes carry on by themselves,
// and every event that got a 202 — before, during or after the outage — is
// delivered.
//
// The server is stopped cleanly ("fast" shutdown) rather than killed: the
// test server runs with synchronous_commit=off, so a crash could lose
// commits PostgreSQL had already acknowledged, which no client can guard
// against and is not what this test is about.
func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and restarts PostgreSQL")
	}
	ctx := context.Background()
	pgtest.Shared(t) // skips (or fails in CI) when PostgreSQL is not installed
	// A server of its own: stopping the shared one would break other tests.
	srv, err := pgtest.Start(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	db, err := srv.CreateDatabase(ctx, "hookd")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--db", db, "--allow-private-networks",
		"--retry-schedule", "50ms,100ms,200ms,500ms,1s,1s,1s,1s,1s,1s",
		"--timeout", "1s", "--lease", "3s", "--workers", "16", "--log-level", "warn"}
	nodes := []*proc{startProc(t, args...), startProc(t, args...)}
	recv := newReceiver(t, 2*time.Millisecond)
	projectID, key := setupProject(t, nodes[0], recv)

	// A project key, not the admin key: the API caches project keys for a
	// few seconds, so early in the outage publishes get past authentication
	// and fail in the publisher, later ones fail looking the key up. Both
	// must answer 503.
	pb := newPublisher(projectID, key, nodes...)
	runCtx, stop := context.WithCancel(ctx)
	published := make(chan struct{})
	go func() {
		defer close(published)
		pb.run(runCtx, 4)
	}()
	defer func() { stop(); <-published }()

	waitUntil(t, 60*time.Second, "events accepted and delivered", func() bool {
		d, _, _ := recv.stats(nil)
		return len(pb.acceptedIDs()) >= 300 && d >= 100
	})
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	acceptedAtStop := len(pb.acceptedIDs())
	// Down long enough for every part to notice: the API, the claim loop,
	// outcome commits, the LISTEN connection, the key cache (5 s).
	waitUntil(t, 30*time.Second, "503 answers while PostgreSQL is down", func() bool {
		return pb.count(503) >= 50 && time.Since(down) >= 6*time.Second
	})
	acceptedDuringOutage := len(pb.acceptedIDs()) - acceptedAtStop
	unavailable := pb.count(503)
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	outage := time.Since(down)
	acceptedAtRestart := len(pb.acceptedIDs())
	waitUntil(t, 30*time.Second, "202 answers again after the restart", func() bool {
		return len(pb.acceptedIDs()) >= acceptedAtRestart+300
	})
	stop()
	<-published

	for i, p := range nodes {
		if err := p.cmd.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("node %d is gone: %v\n%s", i, err, p.log())
		}
	}
	want := pb.acceptedIDs()
	recv.waitDelivered(t, want, 45*time.Second, nodes[0], projectID)
	waitSettled(t, nodes[0], projectID, 30*time.Second)

	// Duplicates are expected here, and not bounded as in the cluster
	// test: the outage outlasts the lease, so a delivery sent just before
	// it whose outcome is still waiting to be recorded can be claimed and
	// sent again by the other node once the database is back.
	distinct, dups, _ := recv.stats(want)
	pb.mu.Lock()
	codes := fmt.Sprint(pb.codes)
	for code := range pb.codes {
		if code != 202 && code != 503 {
			t.Errorf("answers %s: a publish got %d; only 202, or 503 while the database is down, are right", codes, code)
		}
	}
	for n, f := range pb.failed {
		t.Errorf("%d publishes to node %d failed without an answer", f, n)
	}
	pb.mu.Unlock()
	if unavailable == 0 {
		t.Error("no publish was answered 503 while PostgreSQL was down")
	}
	t.Logf("postgres restart test: down %v; %d events accepted (202) in all, %d of them after the restart, %d during the outage (commits that beat the shutdown); %d answered 503 during the outage; %d distinct events received, all accepted ones among them; %d duplicate deliveries; answers %s",
		outage.Round(100*time.Millisecond), len(want), len(want)-acceptedAtRestart, acceptedDuringOutage, unavailable, distinct, dups, codes)
}
