package app_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/hookd/hookd/internal/pgtest"
	"go.uber.org/goleak"
)

// TestMain runs the tests, stops the shared PostgreSQL server, and then
// fails the run if any goroutine is left over (goleak): every hookd a test
// starts must stop everything it started — engine, listeners, streams,
// maintenance — by the time the test ends.
func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	if code == 0 {
		if err := goleak.Find(
			// database/sql's opener lives as long as a *sql.DB that a
			// finished test may leave for the collector.
			goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
			// The shared PostgreSQL server's log reader ends with its
			// process, which StopShared has signalled.
			goleak.IgnoreAnyFunction("github.com/hookd/hookd/internal/pgtest.(*Server).start.func1"),
		); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines left after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
