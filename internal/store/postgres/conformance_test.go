package postgres_test

import (
	"testing"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/storetest"
)

// TestConformance runs the suite every store driver passes, each subtest
// on a fresh database of the shared test server.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) store.Store { return open(tb) })
}
