package maintenance_test

import (
	"context"
	"sync"
	"testing"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/maintenance"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestOneLeaderOnPostgres runs two Runners on one PostgreSQL database, as
// two nodes would: in every round exactly one leads, always the same one,
// only that one removes events, and when it goes away the other takes over.
func TestOneLeaderOnPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	type node struct {
		db *postgres.DB
		s  *counting
		r  *maintenance.Runner
	}
	nodes := make([]*node, 2)
	for i := range nodes {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s := &counting{Store: db}
		r, err := maintenance.New(maintenance.Config{
			Store:     s,
			Leader:    db.TryLeader,
			Clock:     clock.NewFake(base),
			Retention: maintenance.DefaultRetention,
			Logger:    quiet,
		})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = &node{db: db, s: s, r: r}
	}
	f := newFixture(t, nodes[0].s)
	oldEvent := f.event(base.Add(-40*day), store.StatusSucceeded)

	// Rounds of both nodes at the same moment.
	leaderOf := func() []int {
		t.Helper()
		var (
			wg      sync.WaitGroup
			rounds  [2]maintenance.Round
			errs    [2]error
			leaders []int
		)
		for i, n := range nodes {
			wg.Go(func() { rounds[i], errs[i] = n.r.RunOnce(ctx) })
		}
		wg.Wait()
		for i := range nodes {
			if errs[i] != nil {
				t.Fatalf("node %d: RunOnce: %v", i, errs[i])
			}
			if rounds[i].Leading {
				leaders = append(leaders, i)
			}
		}
		return leaders
	}

	first := leaderOf()
	if len(first) != 1 {
		t.Fatalf("leaders %v in the first round, want exactly one", first)
	}
	leader, follower := nodes[first[0]], nodes[1-first[0]]
	if f.exists(oldEvent) {
		t.Error("the leader's round kept an event past retention")
	}
	for round := range 10 {
		if got := leaderOf(); len(got) != 1 || got[0] != first[0] {
			t.Fatalf("round %d: leaders %v, want only node %d", round, got, first[0])
		}
	}
	if n := follower.s.deletes.Load(); n != 0 {
		t.Errorf("the follower ran retention %d times", n)
	}
	if n := leader.s.deletes.Load(); n != 11 {
		t.Errorf("the leader ran retention %d times in 11 rounds", n)
	}

	// The leader stops: its lock goes with its connection.
	leader.db.Close()
	got, err := follower.r.RunOnce(ctx)
	if err != nil || !got.Leading {
		t.Fatalf("after the leader closed, the other node's round = %+v, %v; want it to lead", got, err)
	}
}
