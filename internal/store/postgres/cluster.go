package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reconnection backoff of Listen: from listenMinBackoff doubling to
// listenMaxBackoff, with jitter so that nodes do not reconnect in step.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
)

// Listen returns a channel that receives a value whenever any node commits
// new due work (Publish, RetryDelivery). Several commits may be folded into
// one value. It LISTENs on a dedicated connection and reconnects with
// backoff when that connection fails. Once listening, and again after each
// reconnection, it sends a value as well: work committed before it could
// hear about it is due too. The channel is closed when ctx ends or the DB
// is closed.
func (db *DB) Listen(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	wake := func() {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(db.closing, cancel)
	db.listeners.Add(1)
	go func() {
		defer db.listeners.Done()
		defer close(ch)
		defer stop()
		defer cancel()
		backoff := listenMinBackoff
		for ctx.Err() == nil {
			err := db.listenOnce(ctx, func() {
				backoff = listenMinBackoff
				wake()
			}, wake)
			if ctx.Err() != nil {
				return
			}
			_ = err // the loop is the handling: reconnect after a pause
			pause := backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, listenMaxBackoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
		}
	}()
	return ch
}

// listenOnce connects, LISTENs (then calls listening) and calls notified
// for each notification until the connection fails or ctx ends.
func (db *DB) listenOnce(ctx context.Context, listening, notified func()) error {
	conn, err := pgx.ConnectConfig(ctx, db.connConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	listening()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		notified()
	}
}

// TryLeader takes, or confirms it still holds, the cluster-wide leadership
// for maintenance work (retention, say), and reports whether this node
// leads. Leadership is a session-level advisory lock held on a dedicated
// connection: it passes to another node when this one closes the DB, or
// when its connection is lost. Call it before each round of maintenance; a
// node that lost its connection learns so here (false with
// store.ErrUnavailable) and tries again on the next call.
func (db *DB) TryLeader(ctx context.Context) (bool, error) {
	db.leaderMu.Lock()
	defer db.leaderMu.Unlock()
	if db.closing.Err() != nil {
		return false, fmt.Errorf("postgres: TryLeader on a closed DB")
	}
	if db.leaderConn == nil {
		conn, err := pgx.ConnectConfig(ctx, db.connConfig.Copy())
		if err != nil {
			return false, db.translate(err)
		}
		db.leaderConn = conn
	}
	var err error
	if db.leading {
		// The lock lives as long as the session; a round trip proves it does.
		_, err = db.leaderConn.Exec(ctx, "SELECT 1")
	} else {
		err = db.leaderConn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, leaderLockKey).Scan(&db.leading)
	}
	if err != nil {
		db.dropLeaderConn()
		return false, db.translate(err)
	}
	return db.leading, nil
}

// dropLeaderConn closes the leader connection, which releases the lock.
// A leader unlocks first: the server notices a closed session a moment
// after the client left, and the next leader should not have to wait for
// that. The caller holds leaderMu.
func (db *DB) dropLeaderConn() {
	if db.leaderConn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if db.leading {
			_, _ = db.leaderConn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, leaderLockKey)
		}
		_ = db.leaderConn.Close(ctx)
		cancel()
	}
	db.leaderConn, db.leading = nil, false
}
