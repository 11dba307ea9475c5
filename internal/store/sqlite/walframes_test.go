package sqlite

import (
	"context"
	"encoding/binary"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// maxFramesPerCommit bounds the WAL pages one steady-state commit writes: a
// publish of 10 events (one endpoint, claimed at publish) with the previous
// batch's outcomes riding along. It was 40.3 when written, 35.4 after
// migration 0006 took two indexes off this path, 36.4 with the
// endpoint statistics of migration 0010 (one leaf page per commit), 37.4 with
// the event types of migration 0016 (one leaf page per commit), 37.7 with
// each attempt's webhook-signature of migration 0019 (about 50 bytes an
// attempt, 0.3 pages per commit), 37.8 after the ordered deliveries of
// migration 0020, 38.5 with event type and endpoint in
// deliveries_by_project_status (migration 0021: its entries grow, no
// B-tree is added; the bulk resend preview by type reads only the index).
// Every B-tree an
// event touches costs about three pages per commit, because SQLite splits
// an index's rightmost leaf by rebalancing it with its neighbours; page
// writes are the writer's largest fixed cost (BENCHMARKS.md). Raise the
// bound only for a B-tree the product needs.
const maxFramesPerCommit = 39

// TestWALFramesPerCommit fails when a change makes the common commit write
// more pages, and says which B-trees they belong to.
func TestWALFramesPerCommit(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	p := seed(t, db, 20000)
	// Start from an empty WAL and keep every frame in it.
	if _, err := db.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec("PRAGMA wal_autocheckpoint=0"); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"bench.event","timestamp":"2026-11-26T12:00:00Z","data":{"i":1234,"t":1764158400000000000}}`)
	direct := &store.DirectClaim{Lease: time.Hour, Owner: "bench", Take: func(string) bool { return true }}
	var prev []store.Outcome
	const rounds, size = 300, 10
	for i := 0; i < rounds; i++ {
		at := base.Add(time.Hour + time.Duration(i)*time.Millisecond)
		batch := make([]store.Event, size)
		for j := range batch {
			batch[j] = store.Event{ID: ids.New(ids.Event, at), ProjectID: p.ID, Type: "bench.event", Body: body, CreatedAt: at}
		}
		if prev != nil { // the last batch's outcomes ride along, as under load
			db.outcomes.Add(&outcomeBatch{outcomes: prev, done: make(chan error, 1)})
		}
		direct.Now = at
		res, err := db.Publish(ctx, batch, time.Time{}, direct)
		if err != nil {
			t.Fatal(err)
		}
		prev = nil
		for _, r := range res {
			for _, c := range r.Claimed {
				prev = append(prev, store.Succeeded(c.Delivery, store.Attempt{Number: 1, StartedAt: at, Duration: time.Millisecond,
					StatusCode: 200, ResponseHeaders: map[string][]string{"Content-Type": {"text/plain"}}, ResponseBody: "ok",
					Signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, at))
			}
		}
	}
	raw, err := os.ReadFile(db.wal.path)
	if err != nil {
		t.Fatal(err)
	}
	// Which B-tree each page belongs to now (pages are not moved between
	// B-trees without a VACUUM, and freed pages would show as "?").
	owner := map[uint32]string{}
	rows, err := db.w.Query("SELECT name, pageno, pagetype FROM dbstat")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ string
		var pg uint32
		if err := rows.Scan(&name, &pg, &typ); err != nil {
			t.Fatal(err)
		}
		owner[pg] = name + "/" + typ
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	frames := 0
	// A WAL file is a 32-byte header, then frames of a 24-byte header (the
	// page number first) and one page.
	if len(raw) < 32 {
		t.Fatalf("WAL of %d bytes", len(raw))
	}
	pageSize := int(binary.BigEndian.Uint32(raw[8:]))
	for off := 32; off+24+pageSize <= len(raw); off += 24 + pageSize {
		pg := binary.BigEndian.Uint32(raw[off:])
		n := owner[pg]
		if pg == 1 {
			n = "page1"
		}
		if n == "" {
			n = "?"
		}
		count[n]++
		frames++
	}
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range count {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v })
	perCommit := float64(frames) / rounds
	t.Logf("WAL frames per commit: %.1f", perCommit)
	for _, e := range l {
		t.Logf("  %-45s %.2f", e.k, float64(e.v)/rounds)
	}
	if perCommit > maxFramesPerCommit {
		t.Errorf("a commit writes %.1f WAL pages, more than %d (the breakdown by B-tree is above)", perCommit, maxFramesPerCommit)
	}
}
