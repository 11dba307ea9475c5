package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

var nodeCases = []testCase{
	{"SilentNodeReleased", testSilentNodeReleased},
	{"SilentNodeDirectClaims", testSilentNodeDirectClaims},
	{"HeartbeatKeepsClaims", testHeartbeatKeepsClaims},
	{"LeftNodeNotReleased", testLeftNodeNotReleased},
}

// claimAs claims up to limit deliveries at now for owner with a lease that
// outlives the test.
func (f *fixture) claimAs(owner string, now time.Time, limit int) []store.Claimed {
	f.t.Helper()
	c, err := f.s.Claim(f.ctx, store.ClaimParams{Now: now, Limit: limit, Lease: far, Owner: owner})
	f.must(err, "Claim")
	return c
}

func (f *fixture) heartbeat(node string, at time.Time) {
	f.t.Helper()
	f.must(f.s.Heartbeat(f.ctx, node, at), "Heartbeat "+node)
}

func (f *fixture) releaseSilent(self string, cutoff, now time.Time) int {
	f.t.Helper()
	n, err := f.s.ReleaseSilentNodes(f.ctx, self, cutoff, now)
	f.must(err, "ReleaseSilentNodes")
	return n
}

// testSilentNodeReleased: the claims of a node whose heartbeat is older than
// the cutoff become due at once, long before their leases expire, as an
// expired lease would make them (pending, or retrying once attempted); the
// silent node can no longer record over the new claim; claims of a node
// heard from since the cutoff stay.
func testSilentNodeReleased(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	// One delivery attempted once before the dead node claimed it.
	tried := f.deliveryIn(p.ID, "t.a", Base, store.StatusRetrying)
	f.must(f.retry(p.ID, tried, Base.Add(time.Second)), "RetryDelivery")
	fresh := f.one(event(p.ID, "t.b", Base.Add(time.Second)))
	f.heartbeat("dead", Base.Add(time.Second))
	dead := f.claimAs("dead", Base.Add(time.Second), 10)
	if got := sortedOf(claimedIDs(dead)); !slices.Equal(got, sortedOf([]string{tried, fresh})) {
		t.Fatalf("dead node claimed %v, want %s and %s", got, tried, fresh)
	}
	alive := f.claimedByNode(p.ID, "alive", Base.Add(2*time.Second))

	f.heartbeat("alive", Base.Add(20*time.Second))
	now := Base.Add(20 * time.Second)
	if n := f.releaseSilent("alive", now.Add(-15*time.Second), now); n != 2 {
		t.Fatalf("ReleaseSilentNodes released %d deliveries, want the dead node's 2", n)
	}
	for id, status := range map[string]string{tried: store.StatusRetrying, fresh: store.StatusPending} {
		d := f.delivery(p.ID, id)
		if d.Status != status || !d.NextAttemptAt.Equal(now) || d.LeaseToken != "" || !d.LeaseExpiresAt.IsZero() {
			t.Errorf("released %s: status %s due %v lease %q until %v; want %s due at once with no lease",
				id, d.Status, d.NextAttemptAt, d.LeaseToken, d.LeaseExpiresAt, status)
		}
	}
	if d := f.delivery(p.ID, alive); d.Status != store.StatusDelivering {
		t.Errorf("the live node's claim is %s, want still delivering", d.Status)
	}
	again := f.claimAs("alive", now, 10)
	if got := sortedOf(claimedIDs(again)); !slices.Equal(got, sortedOf([]string{tried, fresh})) {
		t.Fatalf("claim after the release = %v, want the dead node's deliveries", got)
	}
	// The dead node was only slow after all: its outcome does not undo the
	// new claim.
	for _, c := range dead {
		if c.Delivery.ID == fresh {
			f.complete(outcome(c, now, store.StatusSucceeded, 200))
		}
	}
	if d := f.delivery(p.ID, fresh); d.Status != store.StatusDelivering {
		t.Errorf("after the silent node's late outcome the delivery is %s, want still the new claim's", d.Status)
	}
	// The silent node is forgotten: nothing more to release.
	if n := f.releaseSilent("alive", now, now); n != 0 {
		t.Errorf("second release gave back %d deliveries, want 0", n)
	}
}

// claimOnlyAs claims at now for owner and expects exactly delivery id.
func (f *fixture) claimOnlyAs(owner string, now time.Time, id string) store.Claimed {
	f.t.Helper()
	c := f.claimAs(owner, now, 100)
	if got := claimedIDs(c); !slices.Equal(got, []string{id}) {
		f.t.Fatalf("Claim as %s at %s = %v, want [%s]", owner, now.Format(time.RFC3339), got, id)
	}
	return c[0]
}

// claimedByNode publishes an event at at (nothing else may be due then),
// heartbeats node and claims the event's only delivery for it.
func (f *fixture) claimedByNode(projectID, node string, at time.Time) string {
	f.t.Helper()
	id := f.one(event(projectID, "t.node", at))
	f.heartbeat(node, at)
	f.claimOnlyAs(node, at, id)
	return id
}

func (f *fixture) retry(projectID, id string, now time.Time) error {
	_, err := f.s.RetryDelivery(f.ctx, projectID, id, now)
	return err
}

// testSilentNodeDirectClaims: deliveries a node claimed in its own publish
// are released like claimed ones; a node never releases its own claims.
func testSilentNodeDirectClaims(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	f.heartbeat("storetest-direct", Base)
	c := f.directOne(event(p.ID, "t.a", Base), Base, far)
	if n := f.releaseSilent("storetest-direct", Base.Add(time.Minute), Base.Add(time.Minute)); n != 0 {
		t.Errorf("a node released %d of its own claims", n)
	}
	f.heartbeat("other", Base.Add(time.Minute))
	if n := f.releaseSilent("other", Base.Add(time.Minute), Base.Add(time.Minute)); n != 1 {
		t.Fatalf("released %d deliveries claimed at publish, want 1", n)
	}
	f.claimOnlyAs("other", Base.Add(time.Minute), c.Delivery.ID)
}

// testHeartbeatKeepsClaims: a heartbeat renewed after the cutoff keeps the
// node's claims; deliveries of an owner that never heartbeated wait for
// their lease.
func testHeartbeatKeepsClaims(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	a := f.claimedByNode(p.ID, "a", Base)
	b := f.one(event(p.ID, "t.b", Base))
	f.claimOnlyAs("unknown", Base, b)
	f.heartbeat("a", Base.Add(30*time.Second))
	now := Base.Add(40 * time.Second)
	if n := f.releaseSilent("c", now.Add(-15*time.Second), now); n != 0 {
		t.Fatalf("released %d deliveries of a node heard from 10 s ago or of no known node", n)
	}
	for _, id := range []string{a, b} {
		if d := f.delivery(p.ID, id); d.Status != store.StatusDelivering {
			t.Errorf("%s is %s, want still delivering", id, d.Status)
		}
	}
}

// testLeftNodeNotReleased: a node that left (graceful shutdown) is not
// silent: whatever claim of its remains waits for its lease.
func testLeftNodeNotReleased(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	f.claimedByNode(p.ID, "a", Base)
	f.must(f.s.LeaveNode(f.ctx, "a"), "LeaveNode")
	if n := f.releaseSilent("b", Base.Add(time.Hour), Base.Add(time.Hour)); n != 0 {
		t.Errorf("released %d deliveries of a node that left", n)
	}
}
