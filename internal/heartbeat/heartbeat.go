// Package heartbeat keeps a row per running hookd process fresh and gives
// the deliveries of a process that fell silent back to the others, so a
// killed node's work moves on within seconds instead of when its leases
// expire (minutes: a lease must outlast a slow endpoint's queue). The
// per-delivery lease stays the safety net for a node that is alive but
// stuck, since a stuck node's heartbeat may well go on.
package heartbeat

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/store"
)

// Defaults of Config.
const (
	// DefaultInterval between heartbeats.
	DefaultInterval = 3 * time.Second
	// DefaultSilence is how long a node may go unheard before its claimed
	// deliveries are released: five heartbeats, so that a database hiccup
	// or a long pause of one process does not hand its work to others
	// (which would send it twice).
	DefaultSilence = 15 * time.Second
)

// Config configures a Beater. Zero fields take the defaults given.
type Config struct {
	Store store.Store
	// Node is this process's id, the Owner of its claims; it must differ
	// from every earlier process's (a restarted process is a new node, and
	// the one before it counts as silent).
	Node string
	// Clock decides heartbeat times and who is silent; default clock.Real.
	// Every node of a cluster compares its own clock with the others'
	// heartbeats, as with leases: clocks must agree to well within Silence.
	Clock    clock.Clock
	Interval time.Duration // default DefaultInterval
	Silence  time.Duration // default DefaultSilence
	// Released is called after deliveries were released (to wake this
	// node's engine); may be nil.
	Released func(n int)
	Logger   *slog.Logger // default slog.Default()
	// After waits between heartbeats; default time.After. Tests pass a
	// function returning a channel they control.
	After func(time.Duration) <-chan time.Time
}

// Beater heartbeats for one node. Start it with Run.
type Beater struct {
	cfg Config
	// failing: the last heartbeat failed (logged once per outage).
	failing bool
}

// New returns a Beater; it does nothing until Beat or Run.
func New(cfg Config) (*Beater, error) {
	if cfg.Store == nil || cfg.Node == "" {
		return nil, errors.New("heartbeat: Store and Node are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Silence <= 0 {
		cfg.Silence = DefaultSilence
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	return &Beater{cfg: cfg}, nil
}

// Beat records this node alive and then releases the claims of nodes
// silent for longer than Silence. It releases nothing when its own
// heartbeat failed: a node that cannot reach the database is in no
// position to judge the others.
func (b *Beater) Beat(ctx context.Context) (released int, err error) {
	now := b.cfg.Clock.Now()
	if err := b.cfg.Store.Heartbeat(ctx, b.cfg.Node, now); err != nil {
		return 0, err
	}
	n, err := b.cfg.Store.ReleaseSilentNodes(ctx, b.cfg.Node, now.Add(-b.cfg.Silence), now)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		b.cfg.Logger.Warn("released the claimed deliveries of silent nodes", "deliveries", n, "silent_for_more_than", b.cfg.Silence)
		if b.cfg.Released != nil {
			b.cfg.Released(n)
		}
	}
	return n, nil
}

// Run beats at once and then every Interval until ctx ends. Failures are
// logged (once until a beat succeeds again) and the next beat tries again.
func (b *Beater) Run(ctx context.Context) error {
	for {
		_, err := b.Beat(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !b.failing:
			b.failing = true
			b.cfg.Logger.Warn("heartbeat failed; trying again", "err", err, "every", b.cfg.Interval)
		case err == nil && b.failing:
			b.failing = false
			b.cfg.Logger.Info("heartbeat recorded again")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-b.cfg.After(b.cfg.Interval):
		}
	}
}

// Leave forgets this node: call it on graceful shutdown, after the
// engine has recorded or given back every claim.
func (b *Beater) Leave(ctx context.Context) error {
	return b.cfg.Store.LeaveNode(ctx, b.cfg.Node)
}
