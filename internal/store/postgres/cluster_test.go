package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
)

// These tests cover what only a shared database has: several nodes on one
// database, notifications, leadership and a server that goes away. What
// every driver does is tested by the conformance suite.

var base = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// waitFor is how long a test waits for something that happens at once
// when all is well; it only bounds a failing test.
const waitFor = 30 * time.Second

// setup creates a project with n endpoints accepting every type.
func setup(tb testing.TB, s store.Store, endpoints int) (store.Project, []store.Endpoint) {
	tb.Helper()
	ctx := context.Background()
	p := store.Project{ID: ids.New(ids.Project, base), Name: "p", CreatedAt: base}
	if err := s.CreateProject(ctx, p); err != nil {
		tb.Fatal(err)
	}
	var eps []store.Endpoint
	for i := range endpoints {
		e := store.Endpoint{ID: ids.New(ids.Endpoint, base), ProjectID: p.ID,
			URL: fmt.Sprintf("https://receiver.example/%d", i), Enabled: true, CreatedAt: base, UpdatedAt: base}
		if err := s.CreateEndpoint(ctx, e); err != nil {
			tb.Fatal(err)
		}
		eps = append(eps, e)
	}
	return p, eps
}

// events makes n events of project p created at at.
func events(projectID string, n int, at time.Time) []store.Event {
	out := make([]store.Event, n)
	for i := range out {
		id := ids.New(ids.Event, at)
		out[i] = store.Event{ID: id, ProjectID: projectID, Type: "tester.created",
			Body: fmt.Appendf(nil, `{"id":%q,"type":"tester.created","data":{"n":%d}}`, id, i), CreatedAt: at}
	}
	return out
}

func publish(tb testing.TB, s store.Store, evs []store.Event) []store.PublishResult {
	tb.Helper()
	res, err := s.Publish(context.Background(), evs, time.Time{}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// TestClaimAcrossNodes has two nodes, each with several workers, claim
// the same backlog at once: every delivery is handed out exactly once.
func TestClaimAcrossNodes(t *testing.T) {
	url := pgtest.NewDatabase(t)
	nodes := []*postgres.DB{openURL(t, url), openURL(t, url)}
	p, _ := setup(t, nodes[0], 3)
	const batches, perBatch = 10, 40
	want := 0
	for i := range batches {
		for _, r := range publish(t, nodes[i%2], events(p.ID, perBatch, base.Add(time.Duration(i)*time.Second))) {
			want += len(r.Deliveries)
		}
	}

	var mu sync.Mutex
	claimedBy := map[string]string{}
	var dups []string
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for n, db := range nodes {
		for w := range 4 {
			owner := fmt.Sprintf("node%d/worker%d", n, w)
			wg.Go(func() {
				for {
					cs, err := db.Claim(context.Background(), store.ClaimParams{
						Now: base.Add(time.Hour), Limit: 7, Lease: time.Hour, Owner: owner})
					if err != nil {
						errc <- err
						return
					}
					if len(cs) == 0 {
						return
					}
					mu.Lock()
					for _, c := range cs {
						if prev, ok := claimedBy[c.Delivery.ID]; ok {
							dups = append(dups, fmt.Sprintf("%s by %s and %s", c.Delivery.ID, prev, owner))
						}
						claimedBy[c.Delivery.ID] = owner
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if len(dups) > 0 {
		t.Fatalf("claimed twice: %v", dups)
	}
	if len(claimedBy) != want {
		t.Fatalf("claimed %d deliveries, want %d", len(claimedBy), want)
	}
}

// TestIdempotencyAcrossNodes: publishers on two nodes racing with one
// idempotency key make one event; every other publish gets that event back.
func TestIdempotencyAcrossNodes(t *testing.T) {
	url := pgtest.NewDatabase(t)
	nodes := []*postgres.DB{openURL(t, url), openURL(t, url)}
	p, _ := setup(t, nodes[0], 2)
	const publishers = 12
	results := make([]store.PublishResult, publishers)
	errs := make([]error, publishers)
	var wg sync.WaitGroup
	for i := range publishers {
		wg.Go(func() {
			ev := events(p.ID, 1, base.Add(time.Duration(i)*time.Millisecond))[0]
			ev.IdempotencyKey = "order-42"
			// Each batch also carries an event without a key, which must be
			// stored whatever happens to the keyed one.
			batch := append([]store.Event{ev}, events(p.ID, 1, base)...)
			res, err := nodes[i%2].Publish(context.Background(), batch, base.Add(-time.Hour), nil)
			if err == nil {
				results[i] = res[0]
			}
			errs[i] = err
		})
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("publisher %d: %v", i, err)
		}
		if !results[i].Existing {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("%d publishers created the event, want 1", created)
	}
	for i, r := range results {
		if r.Event.ID != results[0].Event.ID || len(r.Deliveries) != 2 {
			t.Errorf("publisher %d got event %s with %d deliveries; publisher 0 got %s", i, r.Event.ID, len(r.Deliveries), results[0].Event.ID)
		}
	}
	evs, err := nodes[1].ListEvents(context.Background(), p.ID, store.EventFilter{}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != publishers+1 {
		t.Errorf("%d events stored, want %d (one keyed, %d without key)", len(evs), publishers+1, publishers)
	}
}

// recv waits for a value on ch; ok=false when ch was closed.
func recv(t *testing.T, ch <-chan struct{}, what string) bool {
	t.Helper()
	select {
	case _, ok := <-ch:
		return ok
	case <-time.After(waitFor):
		t.Fatalf("no wake-up %s", what)
		return false
	}
}

// drain empties ch once it has been quiet for a moment, so that the next
// value received is caused by what the test does next.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
			return
		}
	}
}

// TestListenWakesOtherNodes: a node listening wakes when another node
// publishes or resends a delivery.
func TestListenWakesOtherNodes(t *testing.T) {
	url := pgtest.NewDatabase(t)
	idle, busy := openURL(t, url), openURL(t, url)
	p, _ := setup(t, busy, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	wake := idle.Listen(ctx)
	if !recv(t, wake, "once listening") {
		t.Fatal("channel closed")
	}
	res := publish(t, busy, events(p.ID, 3, base))
	if !recv(t, wake, "after Publish") {
		t.Fatal("channel closed")
	}
	if _, err := busy.RetryDelivery(ctx, p.ID, res[0].Deliveries[0].ID, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The Publish may have folded into the first value or left one behind.
	drain(wake)
	if _, err := busy.RetryDelivery(ctx, p.ID, res[1].Deliveries[0].ID, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !recv(t, wake, "after RetryDelivery") {
		t.Fatal("channel closed")
	}

	cancel()
	for range wake { // closes once ctx has ended
	}
}

// TestListenEndsWithClose: closing the DB ends its listeners, leaving no
// goroutine behind.
func TestListenEndsWithClose(t *testing.T) {
	url := pgtest.NewDatabase(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	db := openURL(t, url)
	if _, err := db.TryLeader(context.Background()); err != nil {
		t.Fatal(err)
	}
	wake := db.Listen(context.Background())
	recv(t, wake, "once listening")
	db.Close()
	for range wake {
	}
}

// TestLeaderIsExclusive: one of two nodes leads, and leadership passes on
// when the leader closes.
func TestLeaderIsExclusive(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a, b := openURL(t, url), openURL(t, url)
	ctx := context.Background()
	lead := func(db *postgres.DB, want bool, what string) {
		t.Helper()
		got, err := db.TryLeader(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got != want {
			t.Fatalf("%s: leader = %v, want %v", what, got, want)
		}
	}
	lead(a, true, "a first")
	lead(b, false, "b while a leads")
	lead(a, true, "a again")
	lead(b, false, "b again")
	a.Close()
	lead(b, true, "b after a closed")
	lead(b, true, "b keeps it")
	if _, err := a.TryLeader(ctx); err == nil {
		t.Fatal("TryLeader on a closed DB succeeded")
	}
}

// TestMigrateConcurrently: nodes starting together on an empty database
// all come up, and the schema is applied once.
func TestMigrateConcurrently(t *testing.T) {
	url := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	dbs := make([]*postgres.DB, 4)
	errs := make([]error, len(dbs))
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = postgres.Open(context.Background(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	setup(t, dbs[3], 1)
}

func TestOpenUnreachable(t *testing.T) {
	srv := pgtest.Shared(t)
	// A port nothing listens on: the shared server's, plus one, is as good
	// a guess as any, and checked.
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable&connect_timeout=5", srv.Port()+1)
	if db, err := postgres.Open(context.Background(), url); err == nil {
		db.Close()
		t.Skip("something listens next to the test server")
	} else if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open: %v, want ErrUnavailable", err)
	}
}

// TestServerRestart stops the server under an open DB: calls fail with
// ErrUnavailable while it is down, and work again once it is back, on the
// same DB. Leadership and Listen survive the restart too.
func TestServerRestart(t *testing.T) {
	ctx := context.Background()
	pgtest.Shared(t) // skip when PostgreSQL is not installed
	srv, err := pgtest.Start(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	url, err := srv.CreateDatabase(ctx, "restart")
	if err != nil {
		t.Fatal(err)
	}
	db := openURL(t, url)
	p, _ := setup(t, db, 1)
	if ok, err := db.TryLeader(ctx); !ok || err != nil {
		t.Fatalf("TryLeader = %v, %v", ok, err)
	}
	listenCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	wake := db.Listen(listenCtx)
	recv(t, wake, "once listening")

	calls := []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return db.Ping(ctx) }},
		{"GetProject", func() error { _, err := db.GetProject(ctx, p.ID); return err }},
		{"Publish", func() error { _, err := db.Publish(ctx, events(p.ID, 2, base), time.Time{}, nil); return err }},
		{"Claim", func() error {
			_, err := db.Claim(ctx, store.ClaimParams{Now: base, Limit: 10, Lease: time.Minute})
			return err
		}},
		{"NextDue", func() error { _, _, err := db.NextDue(ctx); return err }},
	}

	for _, stop := range []struct {
		name string
		stop func()
	}{
		{"stop", func() {
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
		}},
		{"crash", srv.Kill},
	} {
		drain(wake)
		stop.stop()
		for _, c := range calls {
			if err := c.call(); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("after %s, %s: %v, want ErrUnavailable", stop.name, c.name, err)
			}
		}
		if ok, err := db.TryLeader(ctx); ok || !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("after %s, TryLeader = %v, %v; want false, ErrUnavailable", stop.name, ok, err)
		}

		if err := srv.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range calls {
			if err := c.call(); err != nil {
				t.Errorf("after %s and restart, %s: %v", stop.name, c.name, err)
			}
		}
		if ok, err := db.TryLeader(ctx); !ok || err != nil {
			t.Errorf("after %s and restart, TryLeader = %v, %v; want true", stop.name, ok, err)
		}
		// The listener reconnects and says so (or the Publish above wakes it,
		// which also shows it is back).
		recv(t, wake, "after reconnecting")
	}
}

// TestStatsAcrossNodes: two nodes record attempts of one endpoint, each
// into its own shard of the counters; either node reads the sums, one row
// per counter, and removing old hours removes every shard.
func TestStatsAcrossNodes(t *testing.T) {
	url := pgtest.NewDatabase(t)
	nodes := []*postgres.DB{openURL(t, url), openURL(t, url)}
	postgres.SetStatsShard(nodes[0], 1)
	postgres.SetStatsShard(nodes[1], 2)
	p, eps := setup(t, nodes[0], 1)
	const n = 20
	publish(t, nodes[0], events(p.ID, n, base))
	for i, db := range nodes {
		cs, err := db.Claim(context.Background(), store.ClaimParams{Now: base, Limit: n / 2, Lease: time.Hour, Owner: fmt.Sprint("node", i)})
		if err != nil || len(cs) != n/2 {
			t.Fatalf("node %d claimed %d: %v", i, len(cs), err)
		}
		var outs []store.Outcome
		for _, c := range cs {
			outs = append(outs, store.Succeeded(c.Delivery, store.Attempt{Number: 1, StartedAt: base, Duration: time.Millisecond, StatusCode: 200}, base))
		}
		if _, err := db.Complete(context.Background(), outs); err != nil {
			t.Fatal(err)
		}
	}
	for _, db := range nodes {
		counts, err := db.EndpointStats(context.Background(), p.ID, eps[0].ID, base, base.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		sums := map[int]int64{}
		for _, c := range counts {
			if _, dup := sums[c.Bucket]; dup {
				t.Errorf("bucket %d read twice: %+v", c.Bucket, counts)
			}
			sums[c.Bucket] = c.N
		}
		if sums[store.BucketSucceeded] != n || sums[store.LatencyBucket0+store.LatencyBucket(time.Millisecond)] != n {
			t.Fatalf("counters %v, want %d successes and %d latencies", sums, n, n)
		}
	}
	removed := 0
	for {
		k, err := nodes[1].DeleteStatsBefore(context.Background(), base.Add(time.Hour), 1)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			break
		}
		removed += k
	}
	if removed != 4 {
		t.Fatalf("removed %d counter rows, want 4 (2 counters in 2 shards)", removed)
	}
}

// TestPublishSeesOtherNodesEndpointChanges: a node's publishes follow the
// endpoints as they are when they commit, whatever another node changed
// since this one last published (a new endpoint, a disabled one, a changed
// type filter or rate limit, a deleted one), and only the enabled ones
// accepting the type get a delivery; a direct claim is made only where
// Publish may make one (not for a limited endpoint).
func TestPublishSeesOtherNodesEndpointChanges(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	a, b := openURL(t, url), openURL(t, url)
	p, eps := setup(t, a, 2)
	at := base
	// targets publishes one event on node a with a direct claim and returns
	// the endpoints it got a delivery for, and those claimed directly.
	targets := func() (got, claimed []string) {
		t.Helper()
		at = at.Add(time.Second)
		direct := &store.DirectClaim{Now: at, Lease: time.Minute, Owner: "a", Take: func(string) bool { return true }}
		res, err := a.Publish(ctx, events(p.ID, 1, at), time.Time{}, direct)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range res[0].Deliveries {
			got = append(got, d.EndpointID)
		}
		for _, c := range res[0].Claimed {
			claimed = append(claimed, c.Delivery.EndpointID)
		}
		return got, claimed
	}
	check := func(step string, want, wantClaimed []string) {
		t.Helper()
		got, claimed := targets()
		if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(claimed) != fmt.Sprint(wantClaimed) {
			t.Fatalf("%s: deliveries to %v, claimed %v; want %v, claimed %v", step, got, claimed, want, wantClaimed)
		}
	}
	both := []string{eps[0].ID, eps[1].ID}
	check("at first", both, both)
	check("again", both, both)

	third := store.Endpoint{ID: ids.New(ids.Endpoint, base), ProjectID: p.ID, URL: "https://receiver.example/3",
		Enabled: true, CreatedAt: base, UpdatedAt: base}
	if err := b.CreateEndpoint(ctx, third); err != nil {
		t.Fatal(err)
	}
	all := []string{eps[0].ID, eps[1].ID, third.ID}
	check("endpoint created on the other node", all, all)

	e := eps[0]
	e.Enabled, e.DisabledReason, e.UpdatedAt = false, "by hand", base.Add(time.Minute)
	if err := b.UpdateEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	rest := []string{eps[1].ID, third.ID}
	check("endpoint disabled on the other node", rest, rest)

	e = eps[1]
	e.EventTypes, e.UpdatedAt = []string{"other.type"}, base.Add(time.Minute)
	if err := b.UpdateEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	check("type filter changed on the other node", []string{third.ID}, []string{third.ID})

	third.RateLimitPerSecond, third.UpdatedAt = 5, base.Add(time.Minute)
	if err := b.UpdateEndpoint(ctx, third); err != nil {
		t.Fatal(err)
	}
	check("rate limit set on the other node", []string{third.ID}, nil)

	if err := b.DeleteEndpoint(ctx, p.ID, third.ID, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	check("endpoint deleted on the other node", nil, nil)
}
