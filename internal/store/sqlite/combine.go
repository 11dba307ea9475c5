package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// Outcomes ride along with accepted events. SQLite has one writer, and
// under load most write transactions are group commits of published events
// (fsynced) and of attempt outcomes, alternating. Each commit rewrites the
// index pages at the right edge of the deliveries table (new deliveries
// and recently finished ones live there), so two transactions dirty and
// write mostly the same pages twice. Complete therefore queues its
// outcomes; the next Publish applies them in its own transaction after its
// events, and Complete only runs a transaction of its own when publishing
// is idle: none is under way and none committed within combineWait, or
// none takes them within combineWait. Outcomes that fail to apply fail the
// transaction they are in; a publish then commits again without them (see
// Publish), so they never cost a publisher its commit.

// combineWait is how long Complete waits for a publish to take its
// outcomes before it writes them itself. Publishes under load commit every
// millisecond or two.
const combineWait = 5 * time.Millisecond

// outcomeBatch is one Complete call waiting to be written.
type outcomeBatch struct {
	outcomes []store.Outcome
	done     chan error // buffered: receives the result once
	// disabled: the endpoints the outcomes disabled, set before done
	// receives nil.
	disabled []store.Endpoint
}

// applyOutcomes writes batches in tx, all or nothing: the first error ends
// it (and the transaction must not commit). No savepoint per batch: with a
// savepoint open SQLite journals every page it changes, which cost ~10 % of
// the writer's time per event; what is checked up front
// (store.CheckOutcomes) is all a batch can get wrong, so an error here is the database's, and
// would fail any batch.
func (db *DB) applyOutcomes(ctx context.Context, tx *sql.Tx, batches []*outcomeBatch) error {
	if len(batches) == 0 {
		return nil
	}
	c := completeTx{ctx: ctx, tx: tx, db: db, stats: store.StatsDelta{}}
	defer c.close()
	for _, b := range batches {
		c.disabled = nil
		for _, o := range b.outcomes {
			if err := c.complete(o); err != nil {
				return translate(fmt.Errorf("delivery %s: %w", o.DeliveryID(), err))
			}
		}
		b.disabled = c.disabled
	}
	return translate(c.addStats())
}

// errOutcomes ends a publish transaction whose ride-along outcomes failed;
// the publish is then made again without them (see Publish).
var errOutcomes = errors.New("sqlite: recording outcomes failed")

// finishOutcomes tells each batch how its transaction ended.
func finishOutcomes(batches []*outcomeBatch, err error) {
	for _, b := range batches {
		b.done <- err
	}
}
