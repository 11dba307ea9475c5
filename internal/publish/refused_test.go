package publish_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/publish"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// heldStore holds the first Publish until release is closed, so that the
// publishes made meanwhile queue up and go into one batch together.
type heldStore struct {
	store.Store
	first   sync.Once
	held    chan struct{} // closed once the first Publish waits
	release chan struct{}
}

func (h *heldStore) Publish(ctx context.Context, evs []store.Event, cutoff time.Time, d *store.DirectClaim) ([]store.PublishResult, error) {
	h.first.Do(func() {
		close(h.held)
		<-h.release
	})
	return h.Store.Publish(ctx, evs, cutoff, d)
}

// TestRefusedPublishFailsAlone: publishes the database refuses (an event of
// a project that does not exist; on PostgreSQL also text it cannot store,
// which the service layer refuses before it gets here) share a batch with
// valid ones; every valid one commits and only the refused ones fail, each
// with its own error and none as an outage.
func TestRefusedPublishFailsAlone(t *testing.T) {
	for _, backend := range []struct {
		name string
		open func(t *testing.T) store.Store
		// refused are idempotency keys the database cannot store.
		refusedKeys []string
	}{
		{"sqlite", func(t *testing.T) store.Store {
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookd.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}, nil},
		{"postgres", func(t *testing.T) store.Store {
			db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}, []string{"k\xff", "k\x00"}},
	} {
		t.Run(backend.name, func(t *testing.T) {
			db := backend.open(t)
			pid := ids.New(ids.Project, t0)
			if err := db.CreateProject(context.Background(), store.Project{ID: pid, Name: "p", CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			addEndpoint(t, db, pid)
			h := &heldStore{Store: db, held: make(chan struct{}), release: make(chan struct{})}
			st := &countingStore{Store: h}
			b := publish.New(publish.Config{Store: st, MaxBatch: 500})
			defer b.Close()

			// The first publish holds the committer; everything after it
			// queues into the next batch.
			var wg sync.WaitGroup
			wg.Go(func() {
				if _, err := b.Publish(context.Background(), event(pid, "")); err != nil {
					t.Errorf("first publish: %v", err)
				}
			})
			<-h.held
			type answer struct {
				bad  bool
				want error // of a refused one
				err  error
			}
			var mu sync.Mutex
			var answers []answer
			publish := func(ev store.Event, want error) {
				wg.Go(func() {
					_, err := b.Publish(context.Background(), ev)
					mu.Lock()
					answers = append(answers, answer{want != nil, want, err})
					mu.Unlock()
				})
			}
			bad := 0
			for i := range 40 {
				publish(event(pid, fmt.Sprintf("good-%d", i)), nil)
				if i%10 == 3 {
					ghost := event(ids.New(ids.Project, t0), "")
					publish(ghost, store.ErrNotFound)
					bad++
				}
				if i%10 == 7 {
					for _, k := range backend.refusedKeys {
						publish(event(pid, k), store.ErrRefused)
						bad++
					}
				}
			}
			// Let the queue fill before the held commit ends.
			waitFor(t, func() bool { return b.Queued() == 40+bad })
			close(h.release)
			wg.Wait()
			good := 0
			for _, a := range answers {
				switch {
				case !a.bad && a.err != nil:
					t.Errorf("a valid publish in a batch with refused ones failed: %v", a.err)
				case !a.bad:
					good++
				case a.err == nil:
					t.Errorf("a publish the database refuses was accepted")
				case !errors.Is(a.err, a.want):
					t.Errorf("a refused publish failed with %v, want %v", a.err, a.want)
				}
			}
			if good != 40 {
				t.Errorf("%d valid publishes committed, want 40", good)
			}
			t.Logf("%d valid and %d refused publishes in one batch took %d transactions", good, bad, st.calls.Load())
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
