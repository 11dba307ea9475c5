package maintenance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/store"
)

// Defaults of Config.
const (
	DefaultInterval   = time.Minute
	DefaultRetention  = 30 * 24 * time.Hour
	DefaultBatchLimit = 1000
)

// Config configures a Runner. Zero fields take the defaults given.
type Config struct {
	Store store.Store
	// Leader reports whether this node leads maintenance right now; it is
	// asked at the start of every round. Default: always (SQLite, where one
	// process owns the database). PostgreSQL: (*postgres.DB).TryLeader.
	Leader func(context.Context) (bool, error)
	Clock  clock.Clock // default clock.Real
	// Interval between rounds; default DefaultInterval (1 min). It is also
	// the longest a cluster goes without a leader after the leader died.
	Interval time.Duration
	// Retention: events created longer ago than this are removed once all
	// their deliveries are finished, and audit records older than this. 0 (or less) keeps events forever, as
	// `hookd serve --retention 0` does; hookd serve's default is
	// DefaultRetention.
	Retention time.Duration
	// BatchLimit caps the events removed per transaction, so retention
	// never holds long locks; default DefaultBatchLimit.
	BatchLimit int
	Logger     *slog.Logger // default slog.Default()
	Metrics    *Metrics     // may be nil
	// After waits between rounds; default time.After. Tests pass a
	// function returning a channel they control.
	After func(time.Duration) <-chan time.Time
}

// Round is what one round did.
type Round struct {
	Leading bool // this node led the round (and so did the work)
	Deleted int  // events removed by retention
	// Sessions is how many expired web UI sessions were removed. They
	// no longer sign anyone in; removing them only keeps the table small.
	Sessions int
	// StatsRemoved is how many endpoint statistics counters older than
	// StatsKept were removed.
	StatsRemoved int
	// AuditRemoved is how many audit records older than Retention were
	// removed.
	AuditRemoved int
}

// Runner runs maintenance rounds. Start it with Run.
type Runner struct {
	cfg Config

	mu      sync.Mutex // serialises rounds
	leading bool       // as of the last round, for logging changes
}

// New returns a Runner; it does nothing until Run or RunOnce.
func New(cfg Config) (*Runner, error) {
	if cfg.Store == nil {
		return nil, errors.New("maintenance: Store is required")
	}
	if cfg.Leader == nil {
		cfg.Leader = func(context.Context) (bool, error) { return true, nil }
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.BatchLimit <= 0 {
		cfg.BatchLimit = DefaultBatchLimit
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	return &Runner{cfg: cfg}, nil
}

// Run runs a round at once and then one every Interval until ctx ends. A
// failed round is logged and the next one tries again.
func (r *Runner) Run(ctx context.Context) error {
	for {
		if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("maintenance round failed; trying again next round", "err", err, "in", r.cfg.Interval)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.cfg.After(r.cfg.Interval):
		}
	}
}

// RunOnce runs one round: it checks leadership and, when leading, applies
// retention in batches until a batch removes fewer than BatchLimit events.
// A node that cannot tell whether it leads (the database is away) does
// nothing, so two nodes never both believe they lead because of an error.
func (r *Runner) RunOnce(ctx context.Context) (Round, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var round Round
	leading, err := r.cfg.Leader(ctx)
	if err != nil {
		leading = false
		err = fmt.Errorf("leadership: %w", err)
	}
	r.noteLeadership(leading)
	round.Leading = leading
	if leading {
		round.Deleted, err = r.retention(ctx)
		var serr error
		round.Sessions, serr = r.expireSessions(ctx)
		err = errors.Join(err, serr)
		round.StatsRemoved, serr = r.pruneStats(ctx)
		err = errors.Join(err, serr)
		round.AuditRemoved, serr = r.pruneAudit(ctx)
		err = errors.Join(err, serr)
	}
	r.cfg.Metrics.round(leading, round.Deleted, err)
	return round, err
}

func (r *Runner) noteLeadership(leading bool) {
	if leading == r.leading {
		return
	}
	r.leading = leading
	if leading {
		r.cfg.Logger.Info("this node now leads cluster maintenance")
	} else {
		r.cfg.Logger.Info("this node no longer leads cluster maintenance")
	}
}

// retention removes old finished events. Leadership is not checked again
// between batches: a node that lost it meanwhile only does work the new
// leader would do too, and DeleteBefore is safe to run on two nodes at once.
func (r *Runner) retention(ctx context.Context) (int, error) {
	if r.cfg.Retention <= 0 {
		return 0, nil
	}
	cutoff := r.cfg.Clock.Now().Add(-r.cfg.Retention)
	total, err := r.inBatches(ctx, func(limit int) (int, error) {
		return r.cfg.Store.DeleteBefore(ctx, cutoff, limit)
	})
	if err != nil {
		return total, fmt.Errorf("retention: %w", err)
	}
	if total > 0 {
		r.cfg.Logger.Info("retention removed old events", "events", total, "created_before", cutoff.Format(time.RFC3339))
	}
	return total, nil
}

// expireSessions removes expired web UI sessions.
func (r *Runner) expireSessions(ctx context.Context) (int, error) {
	now := r.cfg.Clock.Now()
	total, err := r.inBatches(ctx, func(limit int) (int, error) {
		return r.cfg.Store.DeleteExpiredSessions(ctx, now, limit)
	})
	if err != nil {
		return total, fmt.Errorf("expired sessions: %w", err)
	}
	return total, nil
}

// StatsKept is how long endpoint statistics are kept: the longest window
// they are read for (7 days) and the hour under way. They are removed
// whatever the retention of events, which they do not depend on.
const StatsKept = 7*24*time.Hour + time.Hour

// pruneStats removes the endpoint statistics no window reads any more.
func (r *Runner) pruneStats(ctx context.Context) (int, error) {
	before := r.cfg.Clock.Now().Add(-StatsKept)
	total, err := r.inBatches(ctx, func(limit int) (int, error) {
		return r.cfg.Store.DeleteStatsBefore(ctx, before, limit)
	})
	if err != nil {
		return total, fmt.Errorf("endpoint statistics: %w", err)
	}
	return total, nil
}

// pruneAudit removes the audit records older than the retention of
// events: the trail says who changed what for as long as the log shows
// what was delivered. Retention 0 keeps them forever, as it keeps events.
func (r *Runner) pruneAudit(ctx context.Context) (int, error) {
	if r.cfg.Retention <= 0 {
		return 0, nil
	}
	before := r.cfg.Clock.Now().Add(-r.cfg.Retention)
	total, err := r.inBatches(ctx, func(limit int) (int, error) {
		return r.cfg.Store.DeleteAuditBefore(ctx, before, limit)
	})
	if err != nil {
		return total, fmt.Errorf("audit trail: %w", err)
	}
	return total, nil
}

// inBatches calls remove with BatchLimit until it removes fewer (so no
// transaction holds long locks) and returns how many it removed in all.
func (r *Runner) inBatches(ctx context.Context, remove func(limit int) (int, error)) (int, error) {
	total := 0
	for {
		n, err := remove(r.cfg.BatchLimit)
		total += n
		if err != nil || n < r.cfg.BatchLimit || ctx.Err() != nil {
			return total, err
		}
	}
}
