package sqlite

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestWALSyncGroups: with many commits waiting at once, every waiter
// returns, and only once an fsync covering its commit has finished.
func TestWALSyncGroups(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "x.db")
	if err := os.WriteFile(dbPath+"-wal", []byte("frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := newWALSync(dbPath)
	defer w.close()
	var syncs int
	var wg sync.WaitGroup
	const commits = 200
	for range commits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.wait(w.committed()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	w.mu.Lock()
	syncs = int(w.synced)
	w.mu.Unlock()
	if syncs != commits {
		t.Errorf("synced up to commit %d, want %d", syncs, commits)
	}
	// A commit made after everything was synced needs a new fsync.
	seq := w.committed()
	if err := w.wait(seq); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.synced < seq {
		t.Errorf("wait returned before commit %d was synced (synced %d)", seq, w.synced)
	}
}

// TestWALSyncFailureIsSticky: after a failed fsync no commit is called
// durable again, even if a later fsync would succeed.
func TestWALSyncFailureIsSticky(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "x.db")
	if err := os.WriteFile(dbPath+"-wal", []byte("frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := newWALSync(dbPath)
	if err := w.wait(w.committed()); err != nil {
		t.Fatal(err)
	}
	// Closing the descriptor under it makes the next fsync fail.
	w.f.Close()
	if err := w.wait(w.committed()); err == nil {
		t.Fatal("wait after a failed fsync: nil error")
	}
	w.f = nil // a fresh descriptor would sync fine
	if err := w.wait(w.committed()); err == nil {
		t.Error("a later commit was called durable after a failed fsync")
	}
	if w.failed() == nil {
		t.Error("failed() = nil after a failed fsync")
	}
}

// TestWALSyncNoFileYet: before the first commit there is no WAL, and
// nothing to sync.
func TestWALSyncNoFileYet(t *testing.T) {
	w := newWALSync(filepath.Join(t.TempDir(), "none.db"))
	if err := w.wait(w.committed()); err != nil {
		t.Fatal(err)
	}
}
