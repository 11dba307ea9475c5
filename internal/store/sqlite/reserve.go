package sqlite

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/store"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// reserve keeps disk space aside for a full disk, in a file beside the
// database ("hookd.db-reserve").
//
// When the disk fills up, every write fails alike, and the deliveries
// already stored could no longer be claimed or have their outcomes
// recorded: work hookd has accepted would stop until someone frees space.
// So the first write that finds the disk full releases the reserve, and
// from then on publishes are refused (503, store.ErrUnavailable) before
// they write anything, while claims, outcomes and the rest go on in the
// space released. Once space is freed (the reserve can be allocated again)
// publishes are accepted again. A publish is never answered as accepted
// unless its commit succeeded, full disk or not.
type reserve struct {
	path string
	size int64

	mu   sync.Mutex
	full bool      // the disk filled up and the reserve is released
	next time.Time // when refuse may next try to take the space back
}

// Bounds of the reserve: a fiftieth of the file system, at least
// minReserve and at most maxReserve (4,096 pages: room for thousands of
// outcomes, and small enough for every test's database to have one).
const (
	minReserve = 1 << 20
	maxReserve = 16 << 20
	// retryReserve is how often a refused publish looks whether space was
	// freed; allocating is cheap, but not free.
	retryReserve = time.Second
)

var errDiskFull = fmt.Errorf("%w: the disk is full: new events are refused until space is freed (deliveries already accepted go on)", store.ErrUnavailable)

// newReserve sizes the reserve for the file system of dbPath and
// allocates it; a disk already full when hookd starts begins in the full
// state.
func newReserve(dbPath string) *reserve {
	r := &reserve{path: dbPath + "-reserve", size: minReserve}
	if total, ok := fsSize(dbPath); ok {
		r.size = min(max(total/50, minReserve), maxReserve)
	}
	if err := r.allocate(); err != nil {
		r.full = true
	}
	return r
}

// allocate makes the reserve file hold r.size bytes of disk.
func (r *reserve) allocate() error {
	f, err := os.OpenFile(r.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	err = allocateFile(f, r.size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// A partial reserve would only take space the database needs.
		os.Remove(r.path)
	}
	return err
}

// release frees the reserve after a write found the disk full.
func (r *reserve) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full {
		return
	}
	r.full = true
	r.next = time.Now().Add(retryReserve)
	os.Remove(r.path)
}

// refuse returns errDiskFull while the disk is full, and nil once space
// for the reserve has been freed (taking the reserve back).
func (r *reserve) refuse() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return nil
	}
	if now := time.Now(); now.Before(r.next) {
		return errDiskFull
	} else {
		r.next = now.Add(retryReserve)
	}
	if r.allocate() != nil {
		return errDiskFull
	}
	r.full = false
	return nil
}

// isDiskFull tells whether err is SQLite's SQLITE_FULL.
func isDiskFull(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL
}

// noteFull releases the reserve when err says the disk is full.
func (db *DB) noteFull(err error) {
	if isDiskFull(err) {
		db.reserve.release()
	}
}
