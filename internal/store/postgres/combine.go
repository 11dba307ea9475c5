package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd/internal/store"
)

// Outcomes ride along with published events, as on SQLite (its
// combine.go). A node commits one publish batch at a time, and the
// database's cost follows the transactions (each commits, flushes WAL,
// takes a snapshot) more than the rows in them: so Complete, while this
// node publishes, queues its outcomes and the node's next publish sends
// their statements in its own transaction, in the same round trip. Only
// when publishing is idle (none under way and none finished within
// combineWait), or none takes them within combineWait, does Complete run
// a transaction of its own.
//
// Complete still returns only once its outcomes are committed. A
// transaction that carried outcomes and was rolled back by the server (a
// statement failed) is tried again without them, and the outcomes go back
// to their Complete, which writes them on its own: neither a publish nor a
// batch of outcomes fails because of the other. A transaction whose end is
// unknown (the connection was lost) reports that to both, as either alone
// would. The statements are Complete's own (completeSQL and the rest,
// queued by queueOutcomes), so lease fencing and attempt numbering are the
// same in both ways.

// combineWait is how long Complete waits for a publish to take its
// outcomes. A node's publish commit takes a few milliseconds under load,
// and outcomes queued while one runs go with the next.
const combineWait = 20 * time.Millisecond

// outcomeBatch is one Complete call: its outcomes as statement arguments.
type outcomeBatch struct {
	ids                             []string
	token, status, errText, headers []string
	number, code                    []int32
	started, updated                []time.Time
	next                            []*time.Time
	duration                        []int64
	headersNull                     []bool
	body                            [][]byte
	signature                       []string
	disEndpoint, disReason          []string
	disAt                           []time.Time
	waitingIDs                      []string // left pending or retrying
	stats                           store.StatsDelta
	done                            chan error // buffered: receives the result once
	disabled                        []store.Endpoint
}

// errAlone tells a Complete that the transaction which carried its
// outcomes was rolled back, maybe not for them: it writes them itself.
var errAlone = errors.New("postgres: outcomes to be written on their own")

// finishOutcomes tells each batch how the transaction that carried it
// ended.
func finishOutcomes(batches []*outcomeBatch, err error) {
	for _, b := range batches {
		b.done <- err
	}
}

// publishesFlow reports whether a publish is under way or finished less
// than d ago.
func (db *DB) publishesFlow(d time.Duration) bool {
	if db.publishing.Load() > 0 {
		return true
	}
	last := db.lastPublish.Load()
	return last > 0 && time.Since(db.opened)-time.Duration(last) < d
}

// completeBatch has b committed, by a publish or by a transaction of its
// own, and returns how that ended.
func (db *DB) completeBatch(ctx context.Context, b *outcomeBatch) error {
	if db.publishesFlow(db.combineWait) {
		db.outcomes.Add(b)
		t := time.NewTimer(db.combineWait)
		var err error
		select {
		case err = <-b.done:
			t.Stop()
		case <-t.C:
			if !db.outcomes.Remove(b) {
				err = <-b.done // a publish has it; its commit decides
			} else {
				err = errAlone
			}
		case <-ctx.Done():
			t.Stop()
			if db.outcomes.Remove(b) {
				return ctx.Err()
			}
			err = <-b.done
		}
		if !errors.Is(err, errAlone) {
			return err
		}
	}
	db.ownOutcomeTx.Add(1)
	return db.write(ctx, func() error {
		pb := &pgx.Batch{}
		db.queueOutcomes(pb, []*outcomeBatch{b})
		return db.pool.SendBatch(ctx, pb).Close()
	})
}

// rolledBack reports whether err (untranslated) says that the server
// ended the transaction without committing it: a statement failed.
func rolledBack(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

// newOutcomeBatch makes the statement arguments of outcomes (checked).
func newOutcomeBatch(outcomes []store.Outcome) *outcomeBatch {
	n := len(outcomes)
	b := &outcomeBatch{
		ids: make([]string, n), token: make([]string, n), status: make([]string, n), errText: make([]string, n),
		headers: make([]string, n), number: make([]int32, n), code: make([]int32, n),
		started: make([]time.Time, n), updated: make([]time.Time, n), next: make([]*time.Time, n),
		duration: make([]int64, n), headersNull: make([]bool, n), body: make([][]byte, n), signature: make([]string, n),
		stats: store.StatsDelta{}, done: make(chan error, 1),
	}
	for i, o := range outcomes {
		a, made := o.Attempt() // Number 0 when none was made
		if made {
			b.stats.Add(o.EndpointID(), a)
		}
		b.ids[i], b.token[i], b.status[i], b.updated[i] = o.DeliveryID(), o.LeaseToken(), o.Status(), ts(o.UpdatedAt())
		b.number[i], b.code[i], b.errText[i] = int32(a.Number), int32(a.StatusCode), cleanText(o.LastError())
		b.started[i], b.duration[i], b.body[i] = ts(a.StartedAt), int64(a.Duration), []byte(a.ResponseBody)
		b.headers[i], b.headersNull[i] = headersJSON(a.ResponseHeaders)
		b.signature[i] = a.Signature
		if t := o.NextAttemptAt(); !t.IsZero() {
			t = ts(t)
			b.next[i] = &t
		}
		if st := o.Status(); st == store.StatusPending || st == store.StatusRetrying {
			b.waitingIDs = append(b.waitingIDs, o.DeliveryID())
		}
		if reason, ok := o.DisablesEndpoint(); ok && !slices.Contains(b.disEndpoint, o.EndpointID()) {
			// The first outcome of the batch that disables an endpoint
			// gives the reason, as on SQLite, where it disables it first.
			b.disEndpoint = append(b.disEndpoint, o.EndpointID())
			b.disReason = append(b.disReason, cleanText(reason))
			b.disAt = append(b.disAt, ts(o.UpdatedAt()))
		}
	}
	return b
}
