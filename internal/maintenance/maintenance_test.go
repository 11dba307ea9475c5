package maintenance_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/maintenance"
	"github.com/hookd/hookd/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// seeded is a SQLite store holding events on both sides of a 30-day
// retention cutoff (seen from base), in every delivery status.
type seeded struct {
	f *fixture
	s *counting
	// gone: old events whose deliveries are finished; kept: the rest.
	gone, kept []string
}

func seed(t *testing.T) *seeded {
	t.Helper()
	s := &counting{Store: openSQLite(t)}
	f := newFixture(t, s)
	old := base.Add(-40 * day)
	sd := &seeded{f: f, s: s}
	for i, status := range []string{
		store.StatusSucceeded, store.StatusSucceeded, store.StatusSucceeded,
		store.StatusFailed, store.StatusCancelled,
	} {
		sd.gone = append(sd.gone, f.event(old.Add(time.Duration(i)*time.Minute), status))
	}
	// Recent and finished: kept for its age alone.
	sd.kept = append(sd.kept, f.event(base.Add(-29*day), store.StatusSucceeded))
	// Old but unfinished: kept until the deliveries finish.
	for i, status := range []string{store.StatusRetrying, store.StatusDelivering, store.StatusPending} {
		sd.kept = append(sd.kept, f.event(old.Add(time.Hour+time.Duration(i)*time.Minute), status))
	}
	return sd
}

func (sd *seeded) check(t *testing.T, wantGone bool) {
	t.Helper()
	for _, id := range sd.gone {
		if got := !sd.f.exists(id); got != wantGone {
			t.Errorf("old finished event %s removed = %v, want %v", id, got, wantGone)
		}
	}
	for _, id := range sd.kept {
		if !sd.f.exists(id) {
			t.Errorf("event %s (recent or unfinished) was removed", id)
		}
	}
}

func TestRunOnce(t *testing.T) {
	t.Parallel()
	errDown := errors.New("database away")
	for _, tc := range []struct {
		name      string
		leader    func(context.Context) (bool, error)
		retention time.Duration
		batch     int
		want      maintenance.Round
		wantErr   error
		deletes   int32 // DeleteBefore calls
	}{
		{
			name: "leader removes old finished events in batches",
			// 5 to remove, 2 per batch: 2, 2, 1.
			batch: 2, want: maintenance.Round{Leading: true, Deleted: 5}, deletes: 3,
		},
		{
			name: "batch limit reached exactly takes one empty batch more",
			// 5 to remove, 5 per batch: 5, 0.
			batch: 5, want: maintenance.Round{Leading: true, Deleted: 5}, deletes: 2,
		},
		{
			name:   "follower does nothing",
			leader: func(context.Context) (bool, error) { return false, nil },
			want:   maintenance.Round{},
		},
		{
			name:    "unknown leadership does nothing",
			leader:  func(context.Context) (bool, error) { return true, errDown },
			want:    maintenance.Round{},
			wantErr: errDown,
		},
		{
			name:      "retention 0 keeps everything",
			retention: keepForever,
			want:      maintenance.Round{Leading: true},
		},
		{
			name:      "negative retention keeps everything",
			retention: -time.Hour,
			want:      maintenance.Round{Leading: true},
		},
		{
			name:      "nothing older than a longer retention",
			retention: 60 * day,
			want:      maintenance.Round{Leading: true}, deletes: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sd := seed(t)
			r, err := maintenance.New(maintenance.Config{
				Store:      sd.s,
				Leader:     tc.leader,
				Clock:      clock.NewFake(base),
				Retention:  retention(tc.retention),
				BatchLimit: tc.batch,
				Logger:     quiet,
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.RunOnce(context.Background())
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("RunOnce error = %v, want %v", err, tc.wantErr)
			}
			// The seed's old attempts also leave endpoint statistics
			// to prune (TestEndpointStatsPruned); not this test's subject.
			got.StatsRemoved = 0
			if got != tc.want {
				t.Errorf("RunOnce = %+v, want %+v", got, tc.want)
			}
			if n := sd.s.deletes.Load(); n != tc.deletes {
				t.Errorf("DeleteBefore called %d times, want %d", n, tc.deletes)
			}
			sd.check(t, tc.want.Deleted > 0)
		})
	}
}

// keepForever in a test table stands for Retention 0, whose zero
// otherwise means "not set" there (retention).
const keepForever = time.Duration(-1 << 63)

// retention is a test table's retention: DefaultRetention when not set.
func retention(d time.Duration) time.Duration {
	switch d {
	case 0:
		return maintenance.DefaultRetention
	case keepForever:
		return 0
	}
	return d
}

// TestDefaults: with the default retention, 30 days.
func TestDefaults(t *testing.T) {
	t.Parallel()
	sd := seed(t)
	r, err := maintenance.New(maintenance.Config{Store: sd.s, Clock: clock.NewFake(base), Retention: maintenance.DefaultRetention, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.RunOnce(context.Background())
	got.StatsRemoved = 0 // TestEndpointStatsPruned
	if err != nil || got != (maintenance.Round{Leading: true, Deleted: 5}) {
		t.Fatalf("RunOnce = %+v, %v; want 5 removed", got, err)
	}
	sd.check(t, true)
	if _, err := maintenance.New(maintenance.Config{}); err == nil {
		t.Error("New without a Store succeeded")
	}
}

// TestRun drives the loop with a fake clock and a wait the test controls:
// a round at once, the next one after Interval, and an event that ages past
// the retention in between goes in the second round.
func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		// The package's shared PostgreSQL (other tests) outlives this test.
		goleak.IgnoreAnyFunction("github.com/hookd/hookd/internal/pgtest.(*Server).start.func1"))
	sd := seed(t)
	clk := clock.NewFake(base)
	rounds := make(chan struct{})
	waits := make(chan time.Duration, 1)
	tick := make(chan time.Time)
	r, err := maintenance.New(maintenance.Config{
		Store: sd.s,
		Leader: func(ctx context.Context) (bool, error) {
			rounds <- struct{}{}
			return true, nil
		},
		Clock:     clk,
		Interval:  5 * time.Minute,
		Retention: maintenance.DefaultRetention,
		Logger:    quiet,
		After: func(d time.Duration) <-chan time.Time {
			waits <- d
			return tick
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	<-rounds
	if d := <-waits; d != 5*time.Minute {
		t.Errorf("waits %v between rounds, want the Interval 5m", d)
	}
	sd.check(t, true)

	// The recent event (29 days old) passes 30 days.
	clk.Advance(2 * day)
	tick <- clk.Now()
	<-rounds
	<-waits // the second round has finished
	for _, id := range sd.kept[:1] {
		if sd.f.exists(id) {
			t.Errorf("event %s, now 31 days old and finished, was kept", id)
		}
	}
	for _, id := range sd.kept[1:] {
		if !sd.f.exists(id) {
			t.Errorf("unfinished event %s was removed", id)
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}
}

// TestExpiredSessions: a round removes the web UI sessions that expired,
// in batches, and keeps the others.
func TestExpiredSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openSQLite(t)
	h := sha256.Sum256([]byte("hk_adm_maintenance"))
	key := store.APIKey{ID: ids.New(ids.APIKey, base), Hash: h[:], Prefix: "hk_adm", CreatedAt: base}
	if err := s.CreateAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	var valid [][]byte
	for i := range 5 {
		h := sha256.Sum256(fmt.Appendf(nil, "session %d", i))
		expires := base.Add(time.Duration(i-2) * time.Hour) // 3 expired (i = 0, 1, 2), 2 valid
		if err := s.CreateSession(ctx, store.Session{Hash: h[:], APIKeyID: key.ID, CreatedAt: base.Add(-day), ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
		if i > 2 {
			valid = append(valid, h[:])
		}
	}
	r, err := maintenance.New(maintenance.Config{Store: s, Clock: clock.NewFake(base), Retention: maintenance.DefaultRetention, BatchLimit: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.RunOnce(ctx)
	if err != nil || got != (maintenance.Round{Leading: true, Sessions: 3}) {
		t.Fatalf("RunOnce = %+v, %v; want 3 sessions removed", got, err)
	}
	for _, h := range valid {
		if _, err := s.GetSession(ctx, h, base); err != nil {
			t.Errorf("a valid session is gone: %v", err)
		}
	}
}

// TestEndpointStatsPruned: a round removes the endpoint statistics older
// than any window reads (StatsKept), whatever the retention of events,
// and keeps the recent ones.
func TestEndpointStatsPruned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openSQLite(t)
	f := newFixture(t, s)
	f.event(base.Add(-10*day), store.StatusSucceeded) // two counters: outcome and latency
	f.event(base.Add(-time.Hour), store.StatusFailed)
	r, err := maintenance.New(maintenance.Config{Store: s, Clock: clock.NewFake(base), Retention: -1, BatchLimit: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.RunOnce(ctx)
	if err != nil || got != (maintenance.Round{Leading: true, StatsRemoved: 2}) {
		t.Fatalf("RunOnce = %+v, %v; want the 2 counters of 10 days ago removed", got, err)
	}
	eps, err := s.ListEndpoints(ctx, f.project, store.Page{Limit: 10})
	if err != nil || len(eps) != 1 {
		t.Fatalf("ListEndpoints: %v, %v", eps, err)
	}
	counts, err := s.EndpointStats(ctx, f.project, eps[0].ID, base.Add(-30*day), base.Add(time.Hour))
	if err != nil || len(counts) != 2 || !counts[0].Hour.Equal(base.Add(-time.Hour)) {
		t.Fatalf("statistics left: %+v, %v; want the last hour's 2 counters", counts, err)
	}
}

// TestAuditRetention: a round removes the audit records older than the
// retention of events, in batches; retention 0 keeps them forever.
func TestAuditRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openSQLite(t)
	for i, age := range []time.Duration{40 * day, 31 * day, 30*day + time.Second, 29 * day, time.Hour} {
		at := base.Add(-age)
		r := store.AuditRecord{ID: ids.New(ids.Audit, at), At: at, Source: "192.0.2.1", Action: "signin.failed", Detail: fmt.Sprint(i)}
		if err := s.AddAudit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	forever, err := maintenance.New(maintenance.Config{Store: s, Clock: clock.NewFake(base), Retention: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := forever.RunOnce(ctx); err != nil || got != (maintenance.Round{Leading: true}) {
		t.Fatalf("RunOnce without retention = %+v, %v; want nothing removed", got, err)
	}
	r, err := maintenance.New(maintenance.Config{Store: s, Clock: clock.NewFake(base), Retention: maintenance.DefaultRetention, BatchLimit: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.RunOnce(ctx); err != nil || got != (maintenance.Round{Leading: true, AuditRemoved: 3}) {
		t.Fatalf("RunOnce = %+v, %v; want 3 audit records removed", got, err)
	}
	left, err := s.ListAudit(ctx, "", store.Page{Limit: 10})
	if err != nil || len(left) != 2 || left[1].Detail != "3" {
		t.Fatalf("left: %+v, %v; want the records of 29 days and an hour ago", left, err)
	}
}
