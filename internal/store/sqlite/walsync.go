package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// walSync makes commits durable after the single writer has moved on.
//
// The write connection runs with synchronous=NORMAL: a commit writes its
// WAL frames but does not fsync them. A durable write (write) then waits
// here, after releasing the writer, until one fsync of the WAL file covers
// its commit. That gives each durable commit what synchronous=FULL gives —
// its frames are on disk before the caller hears it committed — without
// holding the only writer through the fsync: the next transaction is
// built and committed while the previous one's fsync runs, and one fsync
// covers every commit written before it started (group commit).
//
// It is safe with SQLite's checkpoints: in NORMAL mode a checkpoint fsyncs
// the WAL before copying frames into the database file and fsyncs that file
// before the WAL is reused, so frames a checkpoint moved are durable there,
// and the WAL file keeps its inode for as long as the database is open.
type walSync struct {
	path string
	mu   sync.Mutex
	cond *sync.Cond
	f    *os.File // the WAL, opened by the first sync

	seq     uint64 // commits written so far
	synced  uint64 // commits known to be on disk
	syncing bool   // an fsync is running (only one at a time)
	err     error  // an fsync failed: nothing is durable any more
}

func newWALSync(dbPath string) *walSync {
	w := &walSync{path: dbPath + "-wal"}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// committed records a commit; call it with the writer still held, so that
// sequence numbers follow the order of the commits. It returns the number
// to wait for.
func (w *walSync) committed() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	return w.seq
}

// failed is the error of an earlier fsync, if one failed.
func (w *walSync) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// wait returns once commit seq is on disk. The first waiter to find no
// fsync running starts one for everything committed so far; the others
// wait for it, or for the next one if it started before their commit.
func (w *walSync) wait(seq uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.synced < seq && w.err == nil {
		if w.syncing {
			w.cond.Wait()
			continue
		}
		w.syncing = true
		target := w.seq
		w.mu.Unlock()
		err := w.fsync()
		w.mu.Lock()
		w.syncing = false
		if err != nil {
			// After a failed fsync the kernel may have dropped the dirty
			// pages and a later fsync can succeed without them: no commit
			// from now on can be called durable.
			w.err = fmt.Errorf("sqlite: fsync of %s failed, so accepted data may not be on disk; restart hookd: %w", w.path, err)
		} else {
			w.synced = max(w.synced, target)
		}
		w.cond.Broadcast()
	}
	return w.err
}

// fsync runs with syncing set, so by one goroutine at a time.
func (w *walSync) fsync() error {
	if w.f == nil {
		f, err := os.Open(w.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // no WAL yet: nothing written, nothing to sync
		}
		if err != nil {
			return err
		}
		w.f = f
	}
	return w.f.Sync()
}

// close releases the WAL file.
func (w *walSync) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.syncing {
		w.cond.Wait()
	}
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
